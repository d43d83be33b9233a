"""The migrations build the schema the models describe, on every backend."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from roster.models import SocialAccount
from tests.factories import make_agency, make_asn, make_unit


def test_migrated_schema_has_every_model_table(session: Session) -> None:
    from sqlalchemy import inspect

    from wiring.models import metadata

    names = set(inspect(session.get_bind()).get_table_names())
    assert set(metadata.tables) <= names


def test_one_enrolled_account_per_platform_per_person(session: Session) -> None:
    unit = make_unit(session, make_agency(session))
    asn = make_asn(session, unit, platforms=["x"])
    assert asn.id is not None
    session.add(SocialAccount(asn_id=asn.id, platform="x", platform_user_id="other", handle="h2"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_platform_account_belongs_to_one_person(session: Session) -> None:
    unit = make_unit(session, make_agency(session))
    first = make_asn(session, unit, platforms=["x"])
    second = make_asn(session, unit, platforms=[])
    assert second.id is not None
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == first.id)).one()
    session.add(
        SocialAccount(
            asn_id=second.id, platform="x", platform_user_id=account.platform_user_id, handle="copy"
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


def test_models_and_migrations_agree(engine: Engine) -> None:
    """Alembic's autogenerate finds nothing to add, drop or alter on the migrated database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from wiring.models import metadata

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "render_as_batch": engine.dialect.name == "sqlite",
                "target_metadata": metadata,
            },
        )
        differences = compare_metadata(context, metadata)
    assert differences == [], "\n".join(map(repr, differences))

"""The public registry: listed only while active and verified, nothing personal, safe badges."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from gaung.errors import GaungError
from gaung.i18n import use_locale
from roster import registry
from roster.models import Asn, AsnStatus, SocialAccount
from tests.factories import make_agency, make_asn, make_unit

# What a DB-API cursor is given, as the before_cursor_execute event passes it on.
Parameters = Sequence[Any] | Mapping[str, Any]


def _account(session: Session, asn: Asn, platform: str = "x") -> SocialAccount:
    return session.exec(
        select(SocialAccount).where(
            SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
        )
    ).one()


def test_an_active_verified_account_is_listed_with_agency_and_date_only(session: Session) -> None:
    agency = make_agency(session, slug="kominfo", name="Kementerian Kominfo")
    asn = make_asn(session, make_unit(session, agency))
    account = _account(session, asn)
    entry = registry.lookup(session, "x", f"@{account.handle.upper()}")
    assert entry is not None
    assert (entry.platform, entry.handle, entry.agency_name, entry.agency_slug) == (
        "x",
        account.handle,
        "Kementerian Kominfo",
        "kominfo",
    )
    assert entry.since == account.ownership_verified_at
    assert not {"name", "nip", "unit", "followers"} & set(vars(entry))
    assert registry.lookup(session, "instagram", account.handle) is None  # other platform


def test_official_since_is_the_later_of_verification_and_approval(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    account = _account(session, asn)
    approved = datetime(2030, 5, 1, tzinfo=UTC)
    asn.approved_at = approved
    session.add(asn)
    session.commit()
    entry = registry.lookup(session, "x", account.handle)
    assert entry is not None
    assert entry.since == approved


@pytest.mark.parametrize(
    "status", [AsnStatus.PENDING, AsnStatus.SUSPENDED, AsnStatus.REJECTED, AsnStatus.LEFT]
)
def test_an_account_of_someone_not_active_is_not_listed(session: Session, status: str) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)), status=status)
    assert registry.lookup(session, "x", _account(session, asn).handle) is None


def test_an_unverified_account_is_not_listed(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    account = _account(session, asn)
    account.ownership_verified_at = None
    session.add(account)
    session.commit()
    assert registry.lookup(session, "x", account.handle) is None


def test_queries_accept_links_and_refuse_nonsense() -> None:
    assert registry.parse_query("instagram", "https://instagram.com/Budi.ASN/") == (
        "instagram",
        "budi.asn",
    )
    with pytest.raises(GaungError) as raised:
        registry.parse_query("x", "not a handle!")
    assert raised.value.field == "handle"
    with pytest.raises(GaungError) as raised:
        registry.parse_query("myspace", "budi")
    assert raised.value.field == "platform"


def _entry(slug: str) -> registry.RegistryEntry:
    return registry.RegistryEntry(
        "x", "budi", "Kementerian", slug, datetime.now(UTC) - timedelta(1)
    )


@given(
    handle=st.text(min_size=1, max_size=40),
    slug=st.text(min_size=1, max_size=20),
    listed=st.booleans(),
)
def test_badges_are_well_formed_svg_whatever_the_text(handle: str, slug: str, listed: bool) -> None:
    with use_locale("id"):
        svg = registry.badge_svg(_entry(slug) if listed else None, "x", handle)
    root = ET.fromstring(svg)  # noqa: S314 - our own output; malformed XML would fail here
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not root.findall(".//{http://www.w3.org/2000/svg}script")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[0] == registry._shown(f"X @{handle}")


def test_the_badge_says_official_or_not_in_the_readers_language() -> None:
    with use_locale("id"):
        assert "ASN Resmi" in registry.badge_svg(_entry("kominfo"), "x", "budi")
        assert "KOMINFO" in registry.badge_svg(_entry("kominfo"), "x", "budi")
        assert "Bukan akun ASN resmi" in registry.badge_svg(None, "x", "budi")
    with use_locale("en"):
        assert "Not an official ASN account" in registry.badge_svg(None, "x", "budi")


def test_a_lookup_is_one_query_through_the_handle_index(db: Engine, session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    handle = _account(session, asn).handle
    statements: list[tuple[str, Parameters]] = []

    def count(
        conn: Connection,
        cursor: object,
        statement: str,
        parameters: Parameters,
        context: object,
        executemany: bool,
    ) -> None:
        statements.append((statement, parameters))

    event.listen(db, "before_cursor_execute", count)
    try:
        assert registry.lookup(session, "x", handle) is not None
    finally:
        event.remove(db, "before_cursor_execute", count)
    assert len(statements) == 1
    if db.dialect.name == "sqlite":
        sql, params = statements[0]
        plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        assert any("ix_social_account_handle" in str(row) for row in plan), plan

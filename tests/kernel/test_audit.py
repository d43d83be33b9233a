"""The audit log and the translation of content errors."""

from __future__ import annotations

from sqlmodel import Session, select

from content.rendering import RenditionError
from gaung.i18n import gettext, use_locale
from kernel import audit
from kernel.audit import AuditLog
from roster.models import Role
from tests.factories import make_agency, make_user


def test_record_labels_the_actor_and_waits_for_the_callers_commit(session: Session) -> None:
    agency = make_agency(session)
    user = make_user(session, agency, Role.ADMIN)
    entry = audit.record(
        session,
        actor=user,
        action="post.approved",
        entity="post",
        entity_id=7,
        agency_id=agency.id,
        detail="x" * 5000,
    )
    session.rollback()
    assert session.exec(select(AuditLog)).all() == []

    session.add(entry)
    session.commit()
    stored = session.exec(select(AuditLog)).one()
    assert stored.actor_id == user.id
    assert stored.actor_label == f"user:{user.id} {user.email}"
    assert len(stored.detail) == 4000


def test_system_actions_are_labelled_system(session: Session) -> None:
    entry = audit.record(
        session, actor=None, action="post.dispatched", entity="post", entity_id=1, agency_id=None
    )
    session.commit()
    assert entry.actor_label == "system"
    assert entry.actor_id is None


def test_limit_errors_read_in_indonesian() -> None:
    error = RenditionError(
        "%(platform)s text is %(actual)s characters; the limit is %(limit)s.",
        platform="X",
        actual=301,
        limit=280,
    )
    with use_locale("id"):
        assert error.render(gettext) == "Teks X berisi 301 karakter; batasnya 280."
    with use_locale("en"):
        assert error.render(gettext) == "X text is 301 characters; the limit is 280."

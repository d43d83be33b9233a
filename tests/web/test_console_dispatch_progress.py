"""The console's post page shows a dispatch under way (done/total) and one a withdrawal stopped."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from content import workflow
from content.models import Post, PostStatus
from roster.models import Agency, Role
from scheduler import dispatch
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import login_staff


def _half_dispatched(db: Engine, session: Session) -> tuple[Post, int, Agency]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    for _ in range(3):
        make_asn(session, unit)
    editor = make_user(session, agency, Role.EDITOR)
    post = make_post(
        session, make_campaign(session, agency, editor), editor, status=PostStatus.APPROVED
    )
    [part_id] = dispatch.start(db, post.id or 0)
    with Session(db) as other, other.begin():
        assert dispatch._chunk(other, other.connection(), part_id, 2, {}) == 2
    return post, part_id, agency


def test_the_post_page_shows_the_progress_and_then_the_withdrawal(
    db: Engine, session: Session, client: TestClient
) -> None:
    post, _, agency = _half_dispatched(db, session)
    approver = make_user(session, agency, Role.APPROVER)
    login_staff(client, approver)

    page = client.get(f"/console/posts/{post.id}", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "In progress: 2 of 9 assignments made (0 of 1 parts done)" in page.text
    indonesian = client.get(f"/console/posts/{post.id}", headers={"accept-language": "id"})
    assert "Sedang berjalan: 2 dari 9 penugasan dibuat" in indonesian.text

    workflow.withdraw(session, approver, session.get_one(Post, post.id))
    stopped = client.get(f"/console/posts/{post.id}", headers={"accept-language": "en"})
    assert "Stopped by the withdrawal: 2 of 9 assignments had been made" in stopped.text


def test_a_dispatched_post_shows_no_progress(
    db: Engine, session: Session, client: TestClient
) -> None:
    post, part_id, agency = _half_dispatched(db, session)
    dispatch.run_part(db, part_id)
    assert dispatch.finish(db, post.id or 0) == 9
    approver = make_user(session, agency, Role.APPROVER)
    login_staff(client, approver)
    page = client.get(f"/console/posts/{post.id}", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "In progress:" not in page.text

"""``gaung dispatch POST_ID``: the streamed dispatch from the command line, with progress."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from assignments.models import Assignment
from cli.main import app
from content.models import Post, PostStatus
from roster.models import Role
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user

runner = CliRunner()


def _approved(session: Session) -> Post:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    for _ in range(3):
        make_asn(session, unit)
    editor = make_user(session, agency, Role.EDITOR)
    return make_post(session, make_campaign(session, agency, editor), editor, status="approved")


def test_dispatch_shows_progress_and_marks_the_post_dispatched(
    db: Engine, session: Session
) -> None:
    post = _approved(session)
    done = runner.invoke(app, ["dispatch", str(post.id)])
    assert done.exit_code == 0, done.output
    assert "9/9" in done.output  # the progress bar: 3 ASN x 3 platforms
    assert f"Post {post.id} dispatched: 9 assignments." in done.output
    session.expire_all()
    assert session.get_one(Post, post.id).status == PostStatus.DISPATCHED
    again = runner.invoke(app, ["dispatch", str(post.id)])
    assert again.exit_code == 0, again.output
    assert "already dispatched" in again.output
    assert session.scalar(select(func.count()).select_from(Assignment)) == 9


def test_dispatch_refuses_a_missing_or_unapproved_post(db: Engine, session: Session) -> None:
    missing = runner.invoke(app, ["dispatch", "999999"])
    assert missing.exit_code == 2
    assert "no post with id 999999" in missing.output
    post = _approved(session)
    post.status = PostStatus.DRAFT
    session.add(post)
    session.commit()
    draft = runner.invoke(app, ["dispatch", str(post.id)])
    assert draft.exit_code == 1
    assert "Only an approved post can be dispatched." in draft.output
    assert session.scalar(select(func.count()).select_from(Assignment)) == 0

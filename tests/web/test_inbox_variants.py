"""The inbox shows the variant an ASN was given, and the "add your own words" counter."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment
from assignments.sharing import share_links
from assignments.texts import assignment_text
from content.models import Post, PostStatus, PostVariant
from content.rendering import x_weighted_length
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import login_asn

TEXTS = {0: "Teks X sendiri.", 1: "Alternatif X satu."}


def test_the_inbox_shows_the_assigned_variant_and_a_personal_line_counter(
    client: TestClient, db: Engine, session: Session
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.platforms, post.status = "x,facebook", PostStatus.APPROVED
    session.add(post)
    assert post.id is not None
    session.add_all(
        PostVariant(post_id=post.id, platform="x", position=n, text=t) for n, t in TEXTS.items()
    )
    people = [make_asn(session, unit) for _ in range(2)]
    session.commit()
    dispatch_post(db, post.id)
    tasks = list(
        session.exec(
            select(Assignment).where(Assignment.post_id == post.id).order_by(col(Assignment.id))
        )
    )
    x_tasks = [t for t in tasks if t.platform == "x"]
    assert sorted(t.variant for t in x_tasks) == [0, 1]
    for task in x_tasks:
        asn = next(p for p in people if p.id == task.asn_id)
        client.cookies.clear()
        login_asn(client, asn)
        page = client.get(f"/inbox/{task.id}", headers={"accept-language": "en"})
        assert page.status_code == 200
        stored = session.get_one(Post, post.id)
        text = share_links(task, stored, assignment_text(session, task, stored)).text
        assert text.startswith(TEXTS[task.variant])
        other = TEXTS[1 - task.variant]
        assert html.escape(text) in page.text
        assert other not in page.text
        # The personal line: hidden until inbox.js runs, counting from the server's figure.
        assert '<textarea id="personal-line"' in page.text
        assert f'data-length="{x_weighted_length(text)}" data-limit="280"' in page.text
        assert 'data-weighted="1"' in page.text
        assert 'id="personal-counter"' in page.text
        assert "Add your own words (optional)" in page.text
        assert '<script src="/static/inbox.js"' in page.text
    facebook = next(t for t in tasks if t.platform == "facebook" and t.asn_id == people[0].id)
    client.cookies.clear()
    login_asn(client, people[0])
    page = client.get(f"/inbox/{facebook.id}")
    assert 'data-limit="63206"' in page.text
    assert 'data-weighted=""' in page.text


def test_the_inbox_script_combines_the_personal_line_with_the_text() -> None:
    """inbox.js puts the line above the text for copy, X's intent and the share sheet."""
    script = (Path(__file__).parents[2] / "web" / "static" / "inbox.js").read_text()
    assert 'words + "\\n\\n" + base' in script
    assert 'url.searchParams.set("text", text)' in script
    assert 'shareButton.setAttribute("data-text", text)' in script

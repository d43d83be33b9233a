"""The campaign dashboard compares a post's texts: per platform and variant."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus, Click
from assignments.variant_figures import VariantFigures, variant_figures
from content.models import PostStatus, PostVariant
from roster.models import Role
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import login_staff


def test_the_dashboard_compares_each_text_of_a_platform(
    client: TestClient, db: Engine, session: Session
) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    post.platforms, post.status = "x,facebook", PostStatus.APPROVED
    session.add(post)
    assert post.id is not None
    session.add(PostVariant(post_id=post.id, platform="x", position=1, text="Alternatif X."))
    for _ in range(4):
        make_asn(session, unit)
    session.commit()
    dispatch_post(db, post.id)
    x_tasks = list(
        session.exec(
            select(Assignment)
            .where(Assignment.post_id == post.id, Assignment.platform == "x")
            .order_by(col(Assignment.asn_id))
        )
    )
    main, alternative = (
        [t for t in x_tasks if t.variant == 0],
        [t for t in x_tasks if t.variant == 1],
    )
    main[0].status = AssignmentStatus.REPORTED
    alternative[0].status = AssignmentStatus.VERIFIED
    alternative[1].status = AssignmentStatus.REPORTED
    session.add_all([main[0], alternative[0], alternative[1]])
    for task, clicks in ((alternative[0], 3), (main[1], 1)):
        assert task.id is not None
        session.add_all(
            Click(assignment_id=task.id, campaign_id=task.campaign_id) for _ in range(clicks)
        )
    session.commit()

    with db.connect() as conn:
        figures = variant_figures(conn, campaign.id or 0)
    assert figures == [
        VariantFigures(post.id, "facebook", 0, 4, 0, 0, 0),
        VariantFigures(post.id, "x", 0, 2, 1, 0, 1),
        VariantFigures(post.id, "x", 1, 2, 2, 1, 3),
    ]

    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))
    page = client.get(f"/dashboard/campaigns/{campaign.id}", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "Texts compared" in page.text
    rows = re.findall(r'<tr data-post="\d+" data-platform="(\w+)" data-variant="(\d)">', page.text)
    # Facebook had one text only: nothing to compare there.
    assert rows == [("x", "0"), ("x", "1")]
    table = page.text.split('<table class="variants cards">', 1)[1].split("</table>", 1)[0]
    assert 'Alternative 1 <span class="muted">Alternatif X.</span>' in table
    cells = re.findall(r'<td class="num" data-label="[^"]+">(\d+)</td>', table)
    assert cells == ["2", "1", "0", "1", "2", "2", "1", "3"]


def test_no_comparison_without_alternatives(
    client: TestClient, db: Engine, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    make_asn(session, make_unit(session, agency))
    dispatch_post(db, post.id or 0)
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))
    page = client.get(f"/dashboard/campaigns/{campaign.id}", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert "Texts compared" not in page.text

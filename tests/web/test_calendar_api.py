"""Moving a draft through the JSON API: PATCH scheduled_at, the calendar shows the new time."""

from __future__ import annotations

from datetime import UTC, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from content.models import PostStatus
from gaung import i18n
from gaung.db import utcnow
from roster import api_tokens
from roster.models import Role
from tests.factories import make_agency, make_campaign, make_post, make_user
from tests.web.conftest import login_staff


def test_a_draft_moved_through_the_api_shows_at_its_new_time(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    agency.timezone = "Asia/Jayapura"
    session.add(agency)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    draft = make_post(session, campaign, editor)
    approved = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    bearer = {
        "Authorization": f"Bearer {api_tokens.create_token(session, editor, name='t').secret}"
    }
    target = (utcnow() + timedelta(days=3)).replace(hour=5, minute=0, second=0, microsecond=0)

    moved = client.patch(
        f"/api/posts/{draft.id}", json={"scheduled_at": target.isoformat()}, headers=bearer
    )
    assert moved.status_code == 200, moved.text
    session.refresh(draft)
    assert draft.scheduled_at is not None
    assert draft.scheduled_at.replace(tzinfo=UTC) == target

    refused = client.patch(
        f"/api/posts/{approved.id}",
        json={"scheduled_at": target.isoformat()},
        headers={**bearer, "accept-language": "en"},
    )
    assert refused.status_code in (400, 409, 422), refused.text
    assert "Only a draft or a rejected post" in refused.text

    login_staff(client, editor)
    day = i18n.local_time(target, "Asia/Jayapura").date().isoformat()
    page = client.get(f"/console/calendar?view=week&day={day}", headers={"accept-language": "en"})
    assert f'href="/console/posts/{draft.id}"' in page.text
    assert "14:00 WIT" in page.text  # 05:00 UTC in Jayapura

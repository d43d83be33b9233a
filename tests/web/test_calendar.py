"""The content calendar and repeat rules in the console, used as Humas staff would."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from content import recurrence
from content.models import Campaign, CampaignRecurrence, Post, PostStatus
from gaung import i18n
from gaung.db import utcnow
from kernel.audit import AuditLog
from roster.models import Agency, Role
from tests.factories import make_agency, make_campaign, make_post, make_user
from tests.web.conftest import csrf_from, login_staff

EN = {"accept-language": "en"}
WITA = "Asia/Makassar"


def _agency(session: Session) -> Agency:
    agency = make_agency(session)
    agency.timezone = WITA
    session.add(agency)
    session.commit()
    return agency


def _at(post: Post, moment: datetime, session: Session, status: str | None = None) -> Post:
    post.scheduled_at = moment
    if status:
        post.status = status
    if status == PostStatus.DISPATCHED:
        post.dispatched_at = moment
    session.add(post)
    session.commit()
    return post


def _week_day(moment: datetime) -> str:
    return i18n.local_time(moment, WITA).date().isoformat()


def test_the_month_shows_the_agencys_posts_in_its_zone_with_links(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    moment = (utcnow() + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    draft = _at(make_post(session, campaign, editor, text="Draf literasi digital"), moment, session)
    sent = _at(
        make_post(session, campaign, editor, text="Sudah terkirim"),
        moment - timedelta(hours=1),
        session,
        PostStatus.DISPATCHED,
    )
    elsewhere = make_agency(session)
    stranger = make_user(session, elsewhere, Role.EDITOR)
    hidden = make_post(session, make_campaign(session, elsewhere, stranger), stranger)
    _at(hidden, moment, session)
    login_staff(client, editor)
    page = client.get(f"/console/calendar?day={_week_day(moment)}", headers=EN)
    assert page.status_code == 200
    assert "Times in WITA" in page.text
    assert f'href="/console/posts/{draft.id}"' in page.text
    assert f'href="/console/posts/{sent.id}"' in page.text
    assert f'href="/console/posts/{hidden.id}"' not in page.text
    assert "09:00 WITA" in page.text  # 01:00 UTC read in Makassar
    assert "08:00 WITA" in page.text
    # The draft can be moved; the dispatched post cannot.
    assert f'action="/console/posts/{draft.id}/move"' in page.text
    assert f'action="/console/posts/{sent.id}/move"' not in page.text
    assert 'style="' not in page.text
    assert "<script>" not in page.text


def test_the_week_view_lists_seven_days_and_navigates(client: TestClient, session: Session) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.SUPERVISOR)
    login_staff(client, editor)
    page = client.get("/console/calendar?view=week&day=2026-12-09", headers=EN)
    assert page.status_code == 200
    assert page.text.count('class="cal-day"') == 7
    assert "Monday, December 7, 2026" in page.text
    assert "day=2026-12-02" in page.text  # a week earlier
    assert "day=2026-12-16" in page.text  # a week later
    month = client.get("/console/calendar?view=month&day=2026-12-09", headers=EN)
    assert "December 2026" in month.text
    headers = re.findall(r'<th scope="col">(\w+)</th>', month.text)
    assert headers == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert month.text.index('data-day="2026-11-30"') < month.text.index('data-day="2026-12-01"')
    assert "day=2026-11-01" in month.text
    assert "day=2027-01-01" in month.text
    # A broken day falls back to today rather than failing.
    assert client.get("/console/calendar?day=nonsense", headers=EN).status_code == 200


def test_moving_a_draft_from_the_calendar_keeps_the_wall_time_typed(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    post = _at(make_post(session, campaign, editor), utcnow() + timedelta(days=1), session)
    login_staff(client, editor)
    token = csrf_from(client, "/console/calendar")
    target = (utcnow() + timedelta(days=10)).astimezone(i18n.zone(WITA))
    typed = target.strftime("%Y-%m-%dT09:30")
    response = client.post(
        f"/console/posts/{post.id}/move",
        data={"csrf_token": token, "scheduled_at": typed, "view": "week", "day": "2026-12-09"},
        headers=EN,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/calendar?view=week&day=2026-12-09"
    session.refresh(post)
    assert post.scheduled_at is not None
    local = i18n.local_time(post.scheduled_at, WITA)
    assert local.strftime("%Y-%m-%dT%H:%M") == typed
    assert session.exec(select(AuditLog).where(AuditLog.action == "post.moved")).first()
    followed = client.get(response.headers["location"], headers=EN)
    assert "Moved to" in followed.text


def test_an_approved_post_or_a_past_time_is_refused_with_the_reason(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    approved = make_post(session, campaign, editor, status=PostStatus.APPROVED)
    draft = make_post(session, campaign, editor)
    login_staff(client, editor)
    token = csrf_from(client, "/console/calendar")
    later = (utcnow() + timedelta(days=2)).astimezone(i18n.zone(WITA)).strftime("%Y-%m-%dT%H:%M")
    refused = client.post(
        f"/console/posts/{approved.id}/move",
        data={"csrf_token": token, "scheduled_at": later},
        headers=EN,
    )
    assert refused.status_code == 400
    assert "Only a draft or a rejected post can be moved" in refused.text
    past = client.post(
        f"/console/posts/{draft.id}/move",
        data={"csrf_token": token, "scheduled_at": "2020-01-01T09:00"},
        headers=EN,
    )
    assert past.status_code == 400
    assert "The send time is in the past" in past.text
    empty = client.post(
        f"/console/posts/{draft.id}/move",
        data={"csrf_token": token, "scheduled_at": ""},
        headers=EN,
    )
    assert empty.status_code == 400
    assert "Enter the new date and time." in empty.text
    no_token = client.post(f"/console/posts/{draft.id}/move", data={"scheduled_at": later})
    assert no_token.status_code == 403
    session.refresh(approved)
    assert approved.status == PostStatus.APPROVED


def _repeat_form(token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "frequency": "weekly",
        "interval": "1",
        "weekdays": ["FR"],
        "monthly_by": "day",
        "month_day": "",
        "nth": "1",
        "nth_weekday": "MO",
        "at": "09:00",
        "starts_on": (utcnow() + timedelta(days=3)).date().isoformat(),
        "end": "never",
        "until": "",
        "count": "",
    }
    data.update(overrides)
    return data


def test_an_editor_makes_a_campaign_repeat_weekly_and_stops_it(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    login_staff(client, editor)
    form = client.get(f"/console/campaigns/{campaign.id}/repeat", headers=EN)
    assert form.status_code == 200
    assert "At (WITA)" in form.text
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/repeat")
    saved = client.post(
        f"/console/campaigns/{campaign.id}/repeat",
        data=_repeat_form(token),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    rule = session.exec(
        select(CampaignRecurrence).where(CampaignRecurrence.campaign_id == campaign.id)
    ).one()
    assert rule.rule == "FREQ=WEEKLY;BYDAY=FR"
    assert rule.timezone == WITA
    assert i18n.local_time(rule.first_at, WITA).strftime("%H:%M") == "09:00"
    shown = client.get(f"/console/campaigns/{campaign.id}/repeat", headers=EN)
    assert "RRULE:FREQ=WEEKLY;BYDAY=FR" in shown.text
    assert re.search(r"9:00\sAM WITA", shown.text)  # the next times
    assert shown.text.count("Friday") >= 5
    assert re.search(r'name="weekdays" value="FR" checked', shown.text)
    stopped = client.post(
        f"/console/campaigns/{campaign.id}/repeat/stop",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert stopped.status_code == 303
    session.refresh(rule)
    assert rule.active is False
    again = client.get(f"/console/campaigns/{campaign.id}/repeat", headers=EN)
    assert "This campaign no longer repeats." in again.text


def test_a_bad_repeat_form_says_which_field_and_saves_nothing(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    login_staff(client, editor)
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/repeat")
    start = (utcnow() + timedelta(days=3)).date()
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"weekdays": []}, "weekdays", "Choose at least one day of the week."),
        (
            {"end": "until", "until": (start - timedelta(days=1)).isoformat()},
            "until",
            "The end date is before the first date.",
        ),
        ({"frequency": "monthly", "month_day": "32"}, "month_day", "from 1 to 31"),
        ({"starts_on": "2020-01-03"}, "starts_on", "The first date is in the past"),
        ({"at": "25:99"}, "at", "Enter a valid time"),
        ({"end": "count", "count": "0"}, "count", "from 1 to 520"),
    ]
    for overrides, field, message in cases:
        response = client.post(
            f"/console/campaigns/{campaign.id}/repeat",
            data=_repeat_form(token, **overrides),
            headers=EN,
        )
        assert response.status_code == 400, (field, response.text[:200])
        assert f'id="{field}-error"' in response.text, field
        assert message in response.text, field
    assert session.exec(select(CampaignRecurrence)).all() == []


def test_supervisors_read_the_rule_but_cannot_change_it(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    supervisor = make_user(session, agency, Role.SUPERVISOR)
    campaign = make_campaign(session, agency)
    login_staff(client, supervisor)
    page = client.get(f"/console/campaigns/{campaign.id}/repeat", headers=EN)
    assert page.status_code == 200
    assert "Save repeat rule" not in page.text
    token = csrf_from(client, "/console/calendar")
    refused = client.post(
        f"/console/campaigns/{campaign.id}/repeat", data=_repeat_form(token), headers=EN
    )
    assert refused.status_code == 403
    assert session.exec(select(CampaignRecurrence)).all() == []
    other = make_campaign(session, make_agency(session))
    assert client.get(f"/console/campaigns/{other.id}/repeat").status_code == 404


def test_coming_occurrences_show_on_the_calendar_before_their_drafts_exist(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    login_staff(client, editor)
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/repeat")
    start = utcnow() + timedelta(days=20)
    weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")[
        start.astimezone(i18n.zone(WITA)).weekday()
    ]
    client.post(
        f"/console/campaigns/{campaign.id}/repeat",
        data=_repeat_form(
            token, weekdays=[weekday], starts_on=_week_day(start), end="count", count="1"
        ),
    )
    page = client.get(f"/console/calendar?view=week&day={_week_day(start)}", headers=EN)
    assert "Repeats, not made yet" in page.text
    assert f'href="/console/campaigns/{campaign.id}/repeat"' in page.text
    assert "09:00 WITA" in page.text


def test_a_monthly_rule_is_shown_again_as_it_was_entered(
    client: TestClient, session: Session
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    login_staff(client, editor)
    path = f"/console/campaigns/{campaign.id}/repeat"
    token = csrf_from(client, path)
    saved = client.post(
        path,
        data=_repeat_form(
            token,
            frequency="monthly",
            weekdays=[],
            monthly_by="weekday",
            nth="-1",
            nth_weekday="FR",
            at="14:45",
            end="count",
            count="6",
        ),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    rule = session.exec(select(CampaignRecurrence)).one()
    assert rule.rule == "FREQ=MONTHLY;BYDAY=-1FR;COUNT=6"
    form = client.get(path, headers=EN).text
    assert re.search(r'name="frequency" value="monthly" checked', form)
    assert re.search(r'name="monthly_by" value="weekday" checked', form)
    assert re.search(r'<option value="-1" selected>Last</option>', form)
    assert re.search(r'<option value="FR" selected>Friday</option>', form)
    assert re.search(r'name="end" value="count" checked', form)
    assert 'name="count" type="number" min="1" max="520" value="6"' in form
    assert 'value="14:45"' in form


def test_the_campaign_page_says_it_repeats_and_a_copy_where_it_came_from(
    client: TestClient, session: Session, db: Engine
) -> None:
    agency = _agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    make_post(session, campaign, editor)
    login_staff(client, editor)
    path = f"/console/campaigns/{campaign.id}/repeat"
    token = csrf_from(client, path)
    start = utcnow() + timedelta(days=2)
    weekday = recurrence.WEEKDAYS[start.astimezone(i18n.zone(WITA)).weekday()]
    client.post(path, data=_repeat_form(token, weekdays=[weekday], starts_on=_week_day(start)))
    page = client.get(f"/console/campaigns/{campaign.id}", headers=EN)
    assert "Repeats" in page.text
    assert re.search(r"next on \w+, .*9:00\sAM WITA", page.text)
    assert recurrence.make_due(db) == 1
    copy = session.exec(
        select(Campaign).where(Campaign.agency_id == agency.id, Campaign.id != campaign.id)
    ).one()
    made = client.get(f"/console/campaigns/{copy.id}", headers=EN)
    assert "Made from" in made.text
    assert f'href="/console/campaigns/{campaign.id}"' in made.text
    assert "Repeats" not in made.text

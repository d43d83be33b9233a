"""The "not acted yet" page and JSON API: who still has to act per unit, and reminding them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.models import Assignment, AssignmentStatus
from content.models import PostStatus
from gaung.db import utcnow
from gaung.settings import get_settings
from kernel.audit import AuditLog
from kernel.outbox import OutboxMessage
from roster import api_tokens
from roster.models import Asn, Role, Unit, User
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import csrf_from, login_staff

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_REQUEST = re.compile(r'name="request" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings().reminders, "manual_interval_hours", 3)
    monkeypatch.setattr(get_settings().reminders, "recent_hours", 3)


class Setup:
    """An agency in WITA with two units, a dispatched campaign and its people."""

    def __init__(self, session: Session, db: Engine) -> None:
        self.session = session
        self.agency = make_agency(session)
        self.agency.timezone = "Asia/Makassar"
        session.add(self.agency)
        session.commit()
        self.north = make_unit(session, self.agency, "Biro Utara")
        self.south = make_unit(session, self.agency, "Biro Selatan")
        self.editor = make_user(session, self.agency, Role.EDITOR)
        self.supervisor = make_user(session, self.agency, Role.SUPERVISOR)
        self.waiting = self.asn(self.north, "Ani Waiting")
        self.acted = self.asn(self.north, "Budi Acted")
        self.southern = self.asn(self.south, "Citra Selatan")
        self.campaign = make_campaign(session, self.agency, self.editor)
        post = make_post(session, self.campaign, self.editor, status=PostStatus.APPROVED)
        assert post.id is not None
        dispatch_post(db, post.id)
        with db.begin() as conn:  # the assignment notices went out five hours ago
            conn.execute(update(_outbox).values(created_at=utcnow() - timedelta(hours=5)))
        for assignment in session.exec(
            select(Assignment).where(Assignment.asn_id == self.acted.id)
        ):
            assignment.status = AssignmentStatus.REPORTED
            session.add(assignment)
        session.commit()

    def asn(self, unit: Unit, name: str) -> Asn:
        asn = make_asn(self.session, unit, platforms=("x",))
        asn.name = name
        self.session.add(asn)
        self.session.commit()
        return asn

    @property
    def page(self) -> str:
        return f"/dashboard/campaigns/{self.campaign.id}/not-acted"

    def messages(self) -> list[OutboxMessage]:
        self.session.expire_all()
        query = select(OutboxMessage).where(col(OutboxMessage.key).startswith("manual-reminder:"))
        return list(self.session.exec(query.order_by(col(OutboxMessage.asn_id))))


@pytest.fixture
def setup(session: Session, db: Engine) -> Setup:
    return Setup(session, db)


def _form(client: TestClient, path: str, unit: str) -> dict[str, str]:
    page = client.get(path)
    found = _REQUEST.search(page.text)
    assert found, page.text
    return {"csrf_token": csrf_from(client, path), "request": found.group(1), "unit": unit}


def _send(client: TestClient, setup: Setup, form: dict[str, str]) -> None:
    response = client.post(f"{setup.page}/remind", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == setup.page


def _flash(client: TestClient, path: str) -> str:
    found = re.search(r'<p class="flash" role="status">(.*?)</p>', client.get(path).text, re.S)
    assert found, "no flash message"
    return found.group(1)


# --- the page ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.EDITOR, Role.APPROVER, Role.ADMIN])
def test_staff_of_the_agency_see_who_has_not_acted_per_unit(
    client: TestClient, setup: Setup, session: Session, role: str
) -> None:
    login_staff(client, make_user(session, setup.agency, role))

    page = client.get(setup.page)

    assert page.status_code == 200
    assert "Ani Waiting" in page.text
    assert "Citra Selatan" in page.text
    assert "Budi Acted" not in page.text
    assert page.text.index("Biro Selatan") < page.text.index("Biro Utara")
    assert "Belum bertindak" in page.text
    assert "Kirim pengingat" in page.text


def test_times_on_the_page_are_in_the_readers_zone(client: TestClient, setup: Setup) -> None:
    login_staff(client, setup.supervisor)

    page = client.get(setup.page)

    assert "WITA" in page.text
    assert "WIB" not in page.text.replace("WITA", "")


def test_another_agencys_staff_get_404(client: TestClient, setup: Setup, session: Session) -> None:
    stranger = make_user(session, make_agency(session), Role.SUPERVISOR)
    login_staff(client, stranger)

    assert client.get(setup.page).status_code == 404


def test_without_signing_in_the_page_asks_for_it(client: TestClient, setup: Setup) -> None:
    response = client.get(setup.page, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_the_campaign_pages_link_to_it(client: TestClient, setup: Setup) -> None:
    login_staff(client, setup.editor)

    for path in (
        f"/dashboard/campaigns/{setup.campaign.id}",
        f"/console/campaigns/{setup.campaign.id}",
    ):
        assert f'href="{setup.page}"' in client.get(path).text, path


# --- sending ----------------------------------------------------------------------------


def test_a_unit_reminder_queues_exactly_the_listed_people(
    client: TestClient, setup: Setup, session: Session
) -> None:
    login_staff(client, setup.supervisor)

    response = client.post(
        f"{setup.page}/remind",
        data=_form(client, setup.page, str(setup.north.id)),
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == setup.page
    assert "Biro Utara: pengingat dalam antrean: 1." in _flash(client, setup.page)
    assert [m.asn_id for m in setup.messages()] == [setup.waiting.id]
    entry = session.exec(select(AuditLog).where(AuditLog.action == "campaign.reminded")).one()
    assert entry.actor_id == setup.supervisor.id
    assert "1 queued" in entry.detail


def test_a_second_click_is_refused_saying_when_it_is_possible_again(
    client: TestClient, setup: Setup
) -> None:
    login_staff(client, setup.editor)
    _send(client, setup, _form(client, setup.page, str(setup.north.id)))
    page = client.get(setup.page).text
    assert "Pengingat manual berikutnya dapat dikirim mulai" in page  # no button, the time

    _send(client, setup, _form(client, setup.page, str(setup.north.id)))

    flash = _flash(client, setup.page)
    assert "Biro Utara sudah diingatkan secara manual kurang dari 3 jam yang lalu" in flash
    assert flash.endswith("WITA.")
    assert len(setup.messages()) == 1
    # "All" now means the units that can be reminded: Biro Selatan's one person.
    page = client.get(setup.page).text
    assert "Kirim pengingat ke setiap unit yang dapat diingatkan sekarang (1 orang)" in page


def test_a_double_submit_sends_once(client: TestClient, setup: Setup) -> None:
    login_staff(client, setup.editor)
    form = _form(client, setup.page, "all")

    _send(client, setup, form)
    _send(client, setup, form)

    assert "tidak ada yang dikirim dua kali" in _flash(client, setup.page)
    assert sorted(m.asn_id or 0 for m in setup.messages()) == sorted(
        [setup.waiting.id or 0, setup.southern.id or 0]
    )


def test_people_told_recently_are_skipped_and_the_page_says_why(
    client: TestClient, setup: Setup, db: Engine
) -> None:
    with db.begin() as conn:  # Ani's notice is fresh
        conn.execute(
            update(_outbox).where(_outbox.c.asn_id == setup.waiting.id).values(created_at=utcnow())
        )
    login_staff(client, setup.editor)

    _send(client, setup, _form(client, setup.page, "all"))

    flash = _flash(client, setup.page)
    assert "Biro Utara: tidak ada yang diingatkan." in flash
    assert "Dilewati 1: mereka menerima pemberitahuan penugasan atau pengingat" in flash
    assert "Biro Selatan: pengingat dalam antrean: 1." in flash
    assert [m.asn_id for m in setup.messages()] == [setup.southern.id]


def test_a_form_without_the_csrf_token_is_refused(client: TestClient, setup: Setup) -> None:
    login_staff(client, setup.editor)
    form = _form(client, setup.page, "all")
    del form["csrf_token"]

    assert client.post(f"{setup.page}/remind", data=form).status_code == 403
    assert setup.messages() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("unit", "utara", "Pilih satu unit atau semua unit."),
        ("request", "short", "Formulir sudah kedaluwarsa"),
    ],
)
def test_bad_form_values_are_named(
    client: TestClient, setup: Setup, field: str, value: str, message: str
) -> None:
    login_staff(client, setup.editor)
    form = {**_form(client, setup.page, "all"), field: value}

    response = client.post(f"{setup.page}/remind", data=form)

    assert response.status_code == 400
    assert message in response.text
    assert setup.messages() == []


def test_another_agencys_unit_or_campaign_is_not_found(
    client: TestClient, setup: Setup, session: Session
) -> None:
    other = make_agency(session)
    foreign_unit = make_unit(session, other)
    login_staff(client, setup.editor)

    response = client.post(
        f"{setup.page}/remind", data=_form(client, setup.page, str(foreign_unit.id))
    )
    assert response.status_code == 404

    foreign = make_campaign(session, other)
    data = _form(client, setup.page, "all")
    assert (
        client.post(f"/dashboard/campaigns/{foreign.id}/not-acted/remind", data=data).status_code
        == 404
    )
    assert setup.messages() == []


# --- JSON API ---------------------------------------------------------------------------


def _bearer(session: Session, user: User) -> dict[str, str]:
    issued = api_tokens.create_token(session, user, name="test")
    return {"Authorization": f"Bearer {issued.secret}"}


def test_the_api_lists_who_has_not_acted(
    client: TestClient, setup: Setup, session: Session
) -> None:
    response = client.get(
        f"/api/campaigns/{setup.campaign.id}/not-acted", headers=_bearer(session, setup.supervisor)
    )

    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert body["campaign_id"] == setup.campaign.id
    assert body["total"] == 2
    assert (body["manual_interval_hours"], body["recent_hours"]) == (3, 3)
    assert [(u["unit"], u["count"]) for u in body["units"]] == [
        ("Biro Selatan", 1),
        ("Biro Utara", 1),
    ]
    (person,) = body["units"][1]["people"]
    assert person["asn_id"] == setup.waiting.id
    assert person["name"] == "Ani Waiting"
    assert person["platforms"] == ["x"]
    assert person["messenger"] == "email"
    assert person["open"] == 1
    assert person["reminders_off"] is False
    assert person["last_notice_at"] is not None
    assert person["last_reminder_at"] is None
    assert body["units"][1]["next_manual_reminder_at"] is None


def test_the_api_reminds_once_per_idempotency_key(
    client: TestClient, setup: Setup, session: Session
) -> None:
    headers = {**_bearer(session, setup.editor), "Idempotency-Key": "remind-north-1"}
    path = f"/api/campaigns/{setup.campaign.id}/reminders"

    first = client.post(path, json={"unit_id": setup.north.id}, headers=headers)
    again = client.post(path, json={"unit_id": setup.north.id}, headers=headers)
    other_key = {**headers, "Idempotency-Key": "remind-north-2"}
    refused = client.post(path, json={"unit_id": setup.north.id}, headers=other_key)

    assert first.status_code == 200, first.text
    (outcome,) = first.json()["units"]
    assert (outcome["result"], outcome["queued"], outcome["unit"]) == ("sent", 1, "Biro Utara")
    assert again.json() == first.json()
    (too_soon,) = refused.json()["units"]
    assert too_soon["result"] == "too_soon"
    assert too_soon["next_at"] is not None
    assert len(setup.messages()) == 1
    listed = client.get(f"/api/campaigns/{setup.campaign.id}/not-acted", headers=headers).json()
    assert listed["units"][1]["next_manual_reminder_at"] is not None


def test_the_api_answers_404_for_another_agencys_campaign(
    client: TestClient, setup: Setup, session: Session
) -> None:
    stranger = make_user(session, make_agency(session), Role.ADMIN)
    headers = _bearer(session, stranger)

    listed = client.get(f"/api/campaigns/{setup.campaign.id}/not-acted", headers=headers)
    sent = client.post(f"/api/campaigns/{setup.campaign.id}/reminders", json={}, headers=headers)

    assert (listed.status_code, sent.status_code) == (404, 404)
    assert setup.messages() == []


def test_the_api_refuses_a_bad_unit_id(client: TestClient, setup: Setup, session: Session) -> None:
    response = client.post(
        f"/api/campaigns/{setup.campaign.id}/reminders",
        json={"unit_id": 0},
        headers=_bearer(session, setup.editor),
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "unit_id"]

"""/console/audit: admins and supervisors read the agency's log; filters; CSV for Excel."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from kernel import audit
from roster.models import Role
from tests.factories import make_agency, make_user
from tests.web.conftest import login_staff


def test_supervisors_and_admins_read_it_editors_do_not(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.EDITOR))
    assert client.get("/console/audit").status_code == 403
    login_staff(client, make_user(session, agency, Role.SUPERVISOR))
    assert client.get("/console/audit").status_code == 200


def test_filters_and_csv(client: TestClient, session: Session) -> None:
    agency, other = make_agency(session), make_agency(session)
    admin = make_user(session, agency, Role.ADMIN)
    audit.record(
        session,
        actor=admin,
        action="post.approved",
        entity="post",
        entity_id=7,
        agency_id=agency.id,
        detail="mine",
    )
    audit.record(
        session,
        actor=None,
        action="post.approved",
        entity="post",
        entity_id=8,
        agency_id=other.id,
        detail="theirs",
    )
    session.commit()
    login_staff(client, admin)
    page = client.get("/console/audit", params={"action": "post.approved"})
    assert page.status_code == 200
    assert "mine" in page.text
    assert "theirs" not in page.text
    assert "WIB" in page.text
    bad = client.get("/console/audit", params={"since": "kemarin"})
    assert bad.status_code == 400
    assert 'id="since-error"' in bad.text
    export = client.get("/console/audit.csv", params={"person": str(admin.id)})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    assert export.content.startswith(b"\xef\xbb\xbfWaktu;Zona waktu;Pelaku")
    assert "mine" in export.text
    assert "theirs" not in export.text

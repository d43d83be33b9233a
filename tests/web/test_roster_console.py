"""The console's people pages: ASN list and review, invitation links, roster upload."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from kernel.audit import AuditLog
from kernel.outbox import OutboxMessage
from roster import enrolment, invitations
from roster.importer import COLUMNS
from roster.models import (
    Agency,
    Asn,
    AsnStatus,
    Invitation,
    OwnershipCheck,
    Role,
    SocialAccount,
    Unit,
    User,
)
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.roster.helpers import form, invitation
from tests.web.conftest import csrf_from, login_staff


@pytest.fixture
def agency(session: Session) -> Agency:
    return make_agency(session, slug="kominfo")


@pytest.fixture
def editor(session: Session, agency: Agency) -> User:
    return make_user(session, agency, Role.EDITOR)


def _pending(session: Session, agency: Agency, editor: User) -> Asn:
    unit = make_unit(session, agency)
    return enrolment.enrol(session, invitation(session, editor), form(unit))


def _post(client: TestClient, path: str, **data: str) -> httpx.Response:
    token = csrf_from(client, "/console/asn")
    response: httpx.Response = client.post(
        path, data={"csrf_token": token, **data}, follow_redirects=False
    )
    return response


def test_the_list_filters_by_status_and_hides_other_agencies(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    pending = _pending(session, agency, editor)
    active = make_asn(session, make_unit(session, agency))
    foreign = make_asn(session, make_unit(session, make_agency(session)))
    login_staff(client, editor)
    everyone = client.get("/console/asn")
    assert everyone.status_code == 200
    assert pending.name in everyone.text
    assert active.name in everyone.text
    assert foreign.name not in everyone.text
    only_pending = client.get("/console/asn", params={"status": "pending"})
    assert pending.name in only_pending.text
    assert active.name not in only_pending.text
    assert client.get(f"/console/asn/{foreign.id}").status_code == 404


def test_approving_an_enrolment_from_the_review_page(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    asn = _pending(session, agency, editor)
    login_staff(client, editor)
    page = client.get(f"/console/asn/{asn.id}")
    assert page.status_code == 200
    assert asn.nip is not None
    assert asn.nip in page.text
    code = session.exec(select(OwnershipCheck.code)).first()
    assert code is not None
    assert code in page.text  # Humas sees which code to look for
    response = client.post(
        f"/console/asn/{asn.id}/approve",
        data={"csrf_token": csrf_from(client, f"/console/asn/{asn.id}")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    session.refresh(asn)
    assert asn.status == AsnStatus.ACTIVE


def test_rejecting_without_a_reason_shows_the_field_error(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    asn = _pending(session, agency, editor)
    login_staff(client, editor)
    response = _post(client, f"/console/asn/{asn.id}/reject", reason="  ")
    assert response.status_code == 400
    assert 'id="reason-reject-error"' in response.text
    response = _post(client, f"/console/asn/{asn.id}/reject", reason="Bukan pegawai unit ini")
    assert response.status_code == 303
    session.refresh(asn)
    assert (asn.status, asn.review_note) == (AsnStatus.REJECTED, "Bukan pegawai unit ini")


def test_suspend_and_reactivate_are_audited(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    asn = make_asn(session, make_unit(session, agency))
    login_staff(client, editor)
    _post(client, f"/console/asn/{asn.id}/suspend", reason="Menyebarkan hoaks")
    _post(client, f"/console/asn/{asn.id}/reactivate")
    actions = session.exec(
        select(AuditLog.action).where(AuditLog.entity == "asn", AuditLog.entity_id == asn.id)
    ).all()
    assert actions == ["asn.suspended", "asn.reactivated"]
    history = client.get(f"/console/asn/{asn.id}").text
    assert "asn.suspended" in history


def test_a_supervisor_reads_but_cannot_decide(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    asn = _pending(session, agency, editor)
    login_staff(client, make_user(session, agency, Role.SUPERVISOR))
    page = client.get(f"/console/asn/{asn.id}")
    assert page.status_code == 200
    assert f"/console/asn/{asn.id}/approve" not in page.text
    assert _post(client, f"/console/asn/{asn.id}/approve").status_code == 403
    assert client.get("/console/invitations").status_code == 403


def test_humas_confirms_a_facebook_profile_by_hand(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    unit = make_unit(session, agency)
    asn = enrolment.enrol(
        session, invitation(session, editor), form(unit, handles={"facebook": "siti.rahayu"})
    )
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    login_staff(client, editor)
    response = _post(client, f"/console/accounts/{account.id}/confirm", followers="1.250")
    assert response.status_code == 303
    session.refresh(account)
    assert account.ownership_verified_at is not None
    assert account.followers == 1250


def test_sending_a_sign_in_link_queues_one_message(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    asn = make_asn(session, make_unit(session, agency))
    login_staff(client, editor)
    _post(client, f"/console/asn/{asn.id}/sign-in-link")
    _post(client, f"/console/asn/{asn.id}/sign-in-link")
    count = session.exec(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.asn_id == asn.id)
    ).one()
    assert count == 1


# --- invitations -------------------------------------------------------------------------


def test_creating_copying_and_revoking_an_invitation(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    unit = make_unit(session, agency, "Biro Humas")
    login_staff(client, editor)
    token = csrf_from(client, "/console/invitations")
    response = client.post(
        "/console/invitations",
        data={"csrf_token": token, "unit_id": str(unit.id), "label": "Grup WA", "valid_days": "7"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    link = session.exec(select(Invitation)).one()
    assert link.unit_id == unit.id
    assert link.expires_at is not None
    page = client.get("/console/invitations")
    assert f"http://testserver/enrol/{link.token}" in page.text
    assert f'data-copy="#link-{link.id}"' in page.text
    client.post(f"/console/invitations/{link.id}/revoke", data={"csrf_token": token})
    session.refresh(link)
    assert link.revoked_at is not None
    assert client.get(f"/enrol/{link.token}").status_code == 404


def test_a_bad_validity_is_shown_next_to_its_field(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    login_staff(client, editor)
    token = csrf_from(client, "/console/invitations")
    response = client.post("/console/invitations", data={"csrf_token": token, "valid_days": "999"})
    assert response.status_code == 400
    assert 'id="valid_days-error"' in response.text
    assert session.exec(select(Invitation)).all() == []


def test_another_agencys_invitation_cannot_be_revoked(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    other = make_agency(session)
    theirs = invitations.create_invitation(session, make_user(session, other, Role.EDITOR))
    login_staff(client, editor)
    response = _post(client, f"/console/invitations/{theirs.id}/revoke")
    assert response.status_code == 404


# --- roster upload -----------------------------------------------------------------------


def _roster(*overrides: dict[str, str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for n, extra in enumerate(overrides, start=1):
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            nip=f"{199001012015031000 + n}",
            name=f"Budi Santoso {n}",
            unit="Biro Humas",
            email=f"budi{n}@kominfo.go.id",
            messenger="email",
            x_handle=f"budi_{n}",
            x_user_id=f"90{n}",
            x_followers="900",
            consent_at="2026-01-15",
        )
        row.update(extra)
        writer.writerow(row)
    return out.getvalue().encode()


def _upload(client: TestClient, data: bytes, *, create_units: bool = True) -> httpx.Response:
    token = csrf_from(client, "/console/roster/upload")
    response: httpx.Response = client.post(
        "/console/roster/upload",
        data={"csrf_token": token, **({"create_units": "1"} if create_units else {})},
        files={"file": ("roster.csv", data, "text/csv")},
    )
    return response


def _snapshot(session: Session) -> list[tuple[object, ...]]:
    session.expire_all()
    people = session.exec(select(Asn).order_by(col(Asn.id))).all()
    accounts = session.exec(select(SocialAccount).order_by(col(SocialAccount.id))).all()
    return [tuple(p.model_dump().values()) for p in people] + [
        tuple(a.model_dump().values()) for a in accounts
    ]


def test_uploading_a_roster_imports_it_and_a_second_upload_changes_nothing(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    login_staff(client, editor)
    data = _roster({}, {"unit": "Direktorat Informasi"})
    first = _upload(client, data)
    assert first.status_code == 200
    assert session.exec(select(func.count()).select_from(Asn)).one() == 2
    before = _snapshot(session)
    units_before = session.exec(select(func.count()).select_from(Unit)).one()

    second = _upload(client, data)
    assert second.status_code == 200
    assert _snapshot(session) == before
    assert session.exec(select(func.count()).select_from(Unit)).one() == units_before
    audit = session.exec(select(AuditLog.detail).where(AuditLog.action == "roster.imported")).all()
    assert audit[-1].startswith("created 0, updated 0, unchanged 2")


def test_a_bad_roster_lists_every_error_with_line_and_column_and_imports_nothing(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    login_staff(client, editor)
    data = _roster({}, {"nip": "123", "consent_at": ""}, {"x_followers": "banyak"})
    response = _upload(client, data)
    assert response.status_code == 400
    text = response.text
    for line, column in ((3, "nip"), (3, "consent_at"), (4, "x_followers")):
        assert f"<tr><td>{line}</td><td><code>{column}</code></td>" in text
    assert session.exec(select(func.count()).select_from(Asn)).one() == 0


def test_an_empty_upload_is_refused(client: TestClient, editor: User) -> None:
    login_staff(client, editor)
    token = csrf_from(client, "/console/roster/upload")
    response = client.post("/console/roster/upload", data={"csrf_token": token})
    assert response.status_code == 400


def test_the_template_downloads_for_excel(client: TestClient, editor: User) -> None:
    login_staff(client, editor)

    response = client.get("/console/roster/template.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf" + ";".join(COLUMNS).encode())
    page = client.get("/console/roster/upload")
    assert 'href="/console/roster/template.csv"' in page.text
    assert 'name="create_units"' in page.text


def test_an_unknown_unit_is_refused_by_row_unless_the_box_is_ticked(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    login_staff(client, editor)
    make_unit(session, agency, "Biro Humas")
    data = _roster({}, {"unit": "Biro Hukum"})

    refused = _upload(client, data, create_units=False)

    assert refused.status_code == 400
    assert "<tr><td>3</td><td><code>unit</code></td>" in refused.text
    assert "Biro Hukum" in refused.text
    assert session.exec(select(func.count()).select_from(Asn)).one() == 0

    created = _upload(client, data, create_units=True)

    assert created.status_code == 200
    assert session.exec(select(func.count()).select_from(Unit)).one() == 2


def test_an_excel_upload_with_handles_alone_imports_them_not_yet_verified(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    login_staff(client, editor)
    make_unit(session, agency, "Biro Humas")
    rows = [";".join(COLUMNS)]
    cells = dict.fromkeys(COLUMNS, "") | {
        "nip": "199001012015031001",
        "name": "Désy",
        "unit": "biro humas",
        "email": "desy@kominfo.go.id",
        "x_handle": "@Desy_Humas",
        "consent_at": "17/08/2025",
    }
    rows.append(";".join(cells[c] for c in COLUMNS))
    data = ("\r\n".join(rows) + "\r\n").encode("cp1252")

    response = _upload(client, data, create_units=False)

    assert response.status_code == 200, response.text
    account = session.exec(select(SocialAccount)).one()
    assert (account.handle, account.platform_user_id) == ("desy_humas", None)
    assert account.ownership_verified_at is None
    assert session.exec(select(Asn.name)).one() == "Désy"
    audit = session.exec(select(AuditLog.detail).where(AuditLog.action == "roster.imported")).one()
    assert audit.endswith("accounts by handle alone 1")


def test_an_undecodable_upload_is_refused_clearly(
    client: TestClient, session: Session, editor: User
) -> None:
    login_staff(client, editor)

    response = _upload(client, b"nip;name\r\n\x81\x8d;\x90\r\n")

    assert response.status_code == 400
    assert "<tr><td>1</td><td><code>file</code></td>" in response.text
    assert session.exec(select(func.count()).select_from(Asn)).one() == 0


def _set(session: Session, asn: Asn, **values: object) -> SocialAccount:
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).first()
    assert account is not None
    for name, value in values.items():
        setattr(account, name, value)
    session.add(account)
    session.commit()
    return account


def test_the_not_eligible_filter_lists_active_people_with_the_reason_per_account(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    agency.min_followers = {"x": 800}
    session.add(agency)
    session.commit()
    unit = make_unit(session, agency)
    at_minimum = make_asn(session, unit, followers=800, platforms=["x"])
    below = make_asn(session, unit, followers=799, platforms=["x"])
    uncounted = make_asn(session, unit, followers=0, platforms=["x"])
    _set(session, uncounted, followers_at=None)
    unproven = make_asn(session, unit, platforms=["instagram"])
    _set(session, unproven, ownership_verified_at=None)
    suspended = make_asn(session, unit, followers=1, platforms=["x"], status=AsnStatus.SUSPENDED)
    pending = _pending(session, agency, editor)  # not verified either, but not active yet
    elsewhere = make_asn(session, make_unit(session, make_agency(session)), followers=1)
    login_staff(client, editor)

    page = client.get("/console/asn?eligibility=not", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Not eligible (3)" in page.text
    for shown in (below, uncounted, unproven):
        assert f'href="/console/asn/{shown.id}"' in page.text
    for hidden in (at_minimum, suspended, pending, elsewhere):
        assert f'href="/console/asn/{hidden.id}"' not in page.text
    assert "no assignments: below the minimum: 799 of 800 followers" in page.text
    assert "no assignments: no follower count yet" in page.text
    assert "no assignments: ownership not verified" in page.text
    assert "People found: 3" in page.text

    everyone = client.get("/console/asn", headers={"Accept-Language": "en"})
    assert f'href="/console/asn/{pending.id}"' in everyone.text
    assert "Active people who get no assignments on at least one account: 3." in everyone.text
    assert everyone.text.count("no assignments:") == 3  # not the pending or suspended ones

    # Combined with another filter (pending people are never in it), and junk in the parameter.
    only_pending = client.get(
        "/console/asn?eligibility=not&status=pending", headers={"Accept-Language": "en"}
    )
    assert "Nobody matches these filters." in only_pending.text
    junk = client.get("/console/asn?eligibility=%27%3B--")
    assert junk.status_code == 200
    assert f'href="/console/asn/{at_minimum.id}"' in junk.text


def test_the_review_page_compares_followers_with_the_agencys_own_minimum(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    agency.min_followers = {"x": 800}
    session.add(agency)
    session.commit()
    asn = make_asn(session, make_unit(session, agency), followers=600, platforms=["x"])
    login_staff(client, editor)
    page = client.get(f"/console/asn/{asn.id}", headers={"Accept-Language": "en"})
    assert "below 800" in page.text

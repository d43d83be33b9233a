"""Console page "Agency networks", on both databases: the instance operator creates a network
and adds and removes members; anyone else gets 403; refusals show next to their field."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gaung.settings import get_settings
from kernel.audit import AuditLog
from roster import networks
from roster.models import Agency, AgencyNetwork, Role, User
from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from, login_staff

PAGE = "/console/networks"


class Instance:
    """Three agencies; the operator is an admin of the first, listed in auth.operators."""

    def __init__(self, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kominfo = make_agency(session, name="Kementerian Kominfo")
        self.kkp = make_agency(session, name="Kementerian Kelautan")
        self.tani = make_agency(session, name="Kementerian Pertanian")
        self.operator = make_user(session, self.kominfo, Role.ADMIN)
        self.admin = make_user(session, self.kkp, Role.ADMIN)
        monkeypatch.setattr(get_settings().auth, "operators", [self.operator.email])


@pytest.fixture
def instance(session: Session, monkeypatch: pytest.MonkeyPatch) -> Instance:
    return Instance(session, monkeypatch)


def _post(client: TestClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_from(client, PAGE)
    response: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return response


def _create(client: TestClient, name: str, coordinator: Agency) -> httpx.Response:
    return _post(client, PAGE, {"name": name, "coordinator": coordinator.slug})


def test_the_operator_creates_a_network_and_manages_its_members(
    client: TestClient, session: Session, instance: Instance
) -> None:
    login_staff(client, instance.operator)
    assert _create(client, "Bakohumas", instance.kominfo).status_code == 303
    network = session.exec(select(AgencyNetwork)).one()
    assert network.coordinator_id == instance.kominfo.id
    for agency in (instance.kkp, instance.tani):
        response = _post(client, f"{PAGE}/{network.id}/members", {"agency": agency.slug})
        assert response.status_code == 303
    page = client.get(PAGE).text
    assert "Kementerian Pertanian menjadi anggota Bakohumas." in page
    session.expire_all()
    assert set(networks.member_ids(session, network.id or 0)) == {instance.kkp.id, instance.tani.id}
    assert "Kementerian Pertanian" in page

    remove = f"{PAGE}/{network.id}/members/remove"
    assert _post(client, remove, {"agency": instance.tani.slug}).status_code == 303
    page = client.get(PAGE).text
    assert "Kementerian Pertanian keluar dari Bakohumas" in page
    session.expire_all()
    assert networks.member_ids(session, network.id or 0) == [instance.kkp.id]
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity == "agency_network"))
    assert "network.member_removed" in set(actions)


def test_the_flash_names_the_new_member(client: TestClient, instance: Instance) -> None:
    login_staff(client, instance.operator)
    _create(client, "Bakohumas", instance.kominfo)
    network_page = client.get(PAGE).text
    assert "Jaringan Bakohumas dibuat, dikoordinasikan oleh Kementerian Kominfo." in network_page


@pytest.mark.parametrize("role", [Role.ADMIN, Role.APPROVER, Role.SUPERVISOR])
def test_anyone_but_the_operator_gets_403(
    client: TestClient, session: Session, instance: Instance, role: str
) -> None:
    someone: User = (
        instance.admin if role == Role.ADMIN else make_user(session, instance.kominfo, role)
    )
    login_staff(client, someone)
    assert client.get(PAGE).status_code == 403
    token = csrf_from(client, "/console/account")
    response = client.post(
        PAGE,
        data={"name": "Bakohumas", "coordinator": instance.kkp.slug, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert session.exec(select(AgencyNetwork)).first() is None


def test_refusals_show_next_to_their_field(
    client: TestClient, session: Session, instance: Instance
) -> None:
    login_staff(client, instance.operator)
    response = _create(client, "  ", instance.kominfo)
    assert response.status_code == 400
    assert 'id="create-name-error"' in response.text
    assert "Masukkan nama jaringan." in response.text

    response = _post(client, PAGE, {"name": "Bakohumas", "coordinator": ""})
    assert response.status_code == 400
    assert 'id="create-coordinator-error"' in response.text

    _create(client, "Bakohumas", instance.kominfo)
    response = _create(client, "Jaringan Kedua", instance.kominfo)
    assert response.status_code == 400
    assert 'id="create-coordinator-error"' in response.text
    assert "Kementerian Kominfo sudah mengoordinasikan sebuah jaringan." in response.text

    network = session.exec(select(AgencyNetwork)).one()
    members = f"{PAGE}/{network.id}/members"
    response = _post(client, members, {"agency": instance.kominfo.slug})
    assert response.status_code == 400
    assert f'id="member-{network.id}-agency-error"' in response.text


def test_an_unknown_network_is_404(client: TestClient, instance: Instance) -> None:
    login_staff(client, instance.operator)
    response = _post(client, f"{PAGE}/999999/members", {"agency": instance.kkp.slug})
    assert response.status_code == 404


def test_only_the_operator_finds_agency_networks_in_the_menu(
    client: TestClient, instance: Instance
) -> None:
    link = 'href="/console/networks"'
    login_staff(client, instance.operator)
    assert link in client.get("/console").text
    client.cookies.clear()
    login_staff(client, instance.admin)
    assert link not in client.get("/console").text

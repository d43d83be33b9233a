"""The admin's channel credentials page: write-only fields, encrypted storage, audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text
from sqlmodel import Session, col, select

from channels import credentials
from channels.credentials import credential
from gaung.crypto import KEYS_ENV
from gaung.settings import get_settings
from kernel.audit import AuditLog
from roster.models import Role, User
from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from, login_staff

PAGE = "/console/channels/credentials"
TOKEN = "AAAAbearer-token-from-x-9f3k"


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())
    credentials.clear_cache()
    yield
    credentials.clear_cache()


@pytest.fixture
def admin(client: TestClient, session: Session) -> User:
    user = make_user(session, make_agency(session), role=Role.ADMIN)
    login_staff(client, user)
    return user


def _save(client: TestClient, name: str, value: str, **extra: str) -> Response:
    data = {"value": value, "csrf_token": csrf_from(client, PAGE), **extra}
    response: Response = client.post(f"{PAGE}/{name}", data=data, follow_redirects=False)
    return response


def test_only_admins_open_the_page(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.APPROVER))
    assert client.get(PAGE).status_code == 403


def test_the_page_lists_every_credential_and_its_source(
    client: TestClient, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().smtp, "password", "from-the-environment")
    html = client.get(PAGE).text
    for text_ in ("Token bearer API X", "Token bot Telegram", "GAUNG_X__BEARER_TOKEN"):
        assert text_ in html
    assert "Disetel melalui variabel lingkungan" in html  # the SMTP password
    assert "Belum disetel" in html
    assert "from-the-environment" not in html


def test_saving_stores_the_value_encrypted_and_shows_only_its_end(
    client: TestClient, session: Session, admin: User
) -> None:
    response = _save(client, "x.bearer_token", f"  {TOKEN}  ")
    assert response.status_code == 303
    assert credential("x.bearer_token") == TOKEN
    raw = session.execute(text("SELECT value, updated_by FROM channel_credential")).one()
    assert TOKEN not in raw[0]
    assert raw[1] == admin.id
    html = client.get(PAGE).text
    assert TOKEN not in html
    assert "Berakhiran 9f3k" in html
    assert f"oleh {admin.name}" in html
    assert "Tersimpan" in html


def test_a_short_secret_does_not_show_its_last_characters(client: TestClient, admin: User) -> None:
    _save(client, "smtp.password", "pw-1234")
    html = client.get(PAGE).text
    assert "Disetel pada" in html
    assert "Berakhiran" not in html


def test_changes_are_audited_without_the_value(
    client: TestClient, session: Session, admin: User
) -> None:
    _save(client, "telegram.bot_token", TOKEN)
    token = csrf_from(client, PAGE)
    client.post(f"{PAGE}/telegram.bot_token/clear", data={"csrf_token": token})
    rows = session.exec(select(AuditLog).order_by(col(AuditLog.id))).all()
    assert [(r.action, r.detail, r.actor_id) for r in rows] == [
        ("channel_credential.set", "telegram.bot_token", admin.id),
        ("channel_credential.cleared", "telegram.bot_token", admin.id),
    ]
    assert credential("telegram.bot_token") == get_settings().telegram.bot_token


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("   ", "Masukkan nilai baru."),
        ("x" * 4097, "Nilai melebihi 4096 karakter."),
        ("abc\ndef", "Nilai tidak boleh mengandung baris baru"),
    ],
)
def test_bad_values_are_refused_with_a_reason(
    client: TestClient, session: Session, admin: User, value: str, message: str
) -> None:
    response = _save(client, "whatsapp.access_token", value)
    assert response.status_code == 400
    assert message in response.text
    assert session.execute(text("SELECT count(*) FROM channel_credential")).scalar_one() == 0


def test_an_unknown_credential_is_404(client: TestClient, admin: User) -> None:
    assert _save(client, "x.api_base_url", "https://evil.example").status_code == 404


def test_saving_needs_the_form_token(client: TestClient, admin: User) -> None:
    response = client.post(f"{PAGE}/x.bearer_token", data={"value": TOKEN})
    assert response.status_code == 403


def test_a_value_under_a_lost_key_is_flagged_and_can_be_replaced(
    client: TestClient, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(client, "graph.app_secret", TOKEN)
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())
    credentials.clear_cache()
    assert "Tidak dapat didekripsi" in client.get(PAGE).text
    assert _save(client, "graph.app_secret", "replacement-secret-value").status_code == 303
    assert credential("graph.app_secret") == "replacement-secret-value"


def test_with_two_agencies_an_agency_admin_cannot_read_or_clear_shared_credentials(
    client: TestClient, session: Session, admin: User
) -> None:
    other = make_user(session, make_agency(session), role=Role.ADMIN)  # a second agency
    login_staff(client, other)
    assert client.get(PAGE).status_code == 403
    token = csrf_from(client, "/console")
    cleared = client.post(f"{PAGE}/x_bearer_token/clear", data={"csrf_token": token})
    assert cleared.status_code == 403
    assert "credentials" not in client.get("/console/channels").text.split("<main")[1]


def test_a_listed_operator_manages_credentials_whatever_their_agency(
    client: TestClient, session: Session, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = make_user(session, make_agency(session), role=Role.ADMIN)
    monkeypatch.setattr(get_settings().auth, "operators", [operator.email.upper()])
    login_staff(client, operator)
    assert client.get(PAGE).status_code == 200
    client.cookies.clear()
    login_staff(client, admin)  # the first agency's admin is not listed
    assert client.get(PAGE).status_code == 403

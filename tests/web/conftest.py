"""Web test helpers: a client on the test database, and sign-in for staff and ASN.

Every test using ``client`` runs on SQLite and PostgreSQL (through the ``db`` fixture).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from gaung.settings import get_settings
from roster.models import Asn, User
from roster.security import make_magic_token
from tests.factories import PASSWORD
from web.app import create_app

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A browser on a fresh app; uploads go to a temporary media folder."""
    monkeypatch.setattr(get_settings(), "media_dir", tmp_path / "media")
    with TestClient(create_app()) as test_client:
        yield test_client


def csrf_from(client: TestClient, path: str = "/login") -> str:
    """The session's CSRF token, read from the hidden field of a page's form."""
    response = client.get(path)
    found = _CSRF.search(response.text)
    assert found, f"no csrf_token field on {path} ({response.status_code})"
    return found.group(1)


def login_staff(client: TestClient, user: User, password: str = PASSWORD) -> None:
    """Sign a staff member in through the real /login form."""
    token = csrf_from(client, "/login")
    response = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def login_asn(client: TestClient, asn: Asn) -> None:
    """Sign an ASN in through their magic link."""
    assert asn.id is not None
    token = make_magic_token(asn.id, asn.login_epoch)
    response = client.get(f"/inbox/login/{token}", follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/inbox"

"""Sign-in throttling per account and per client address, counted in the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.requests import Request

from gaung.db import utcnow
from gaung.settings import get_settings
from kernel import throttle
from kernel.audit import AuditLog
from kernel.jobs import JOBS
from kernel.recurring import RECURRING
from tests.factories import PASSWORD, make_agency, make_user
from tests.web.conftest import csrf_from
from web.app import create_app
from web.deps import client_address

ACCOUNT_LIMIT, ADDRESS_LIMIT = 3, 5
LOCKED_ID = "Terlalu banyak percobaan masuk yang gagal"


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = get_settings().auth
    monkeypatch.setattr(auth, "max_failures_per_account", ACCOUNT_LIMIT)
    monkeypatch.setattr(auth, "max_failures_per_address", ADDRESS_LIMIT)
    monkeypatch.setattr(auth, "failure_window_seconds", 900)


@pytest.fixture
def other_client(db: Engine) -> Iterator[TestClient]:
    """A second browser on another network address."""
    with TestClient(create_app(), client=("203.0.113.7", 40000)) as test_client:
        yield test_client


def _attempt(client: TestClient, email: str, password: str) -> Response:
    token = csrf_from(client, "/login")
    response: Response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    return response


def _statuses(client: TestClient, email: str, count: int) -> list[int]:
    return [_attempt(client, email, "wrong-password").status_code for _ in range(count)]


def test_an_account_is_locked_after_its_limit_even_for_the_right_password(
    client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session))
    assert _statuses(client, editor.email, ACCOUNT_LIMIT) == [400, 400, 429]
    refused = _attempt(client, editor.email, PASSWORD)
    assert refused.status_code == 429
    assert LOCKED_ID in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_lockout_message_is_translated(client: TestClient, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    _statuses(client, editor.email, ACCOUNT_LIMIT)
    client.cookies.set("lang", "en")
    refused = _attempt(client, editor.email, PASSWORD)
    assert "Too many failed sign-in attempts" in refused.text
    assert "try again after" in refused.text


def test_an_unknown_email_is_locked_the_same_way(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    """Same answers for a real and an invented account: the lockout reveals nothing."""
    editor = make_user(session, make_agency(session))
    real = _statuses(client, editor.email, ACCOUNT_LIMIT + 1)
    invented = _statuses(other_client, "nobody@example.go.id", ACCOUNT_LIMIT + 1)
    assert real == invented == [400, 400, 429, 429]


def test_the_account_lock_holds_from_another_address(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session))
    _statuses(client, editor.email, ACCOUNT_LIMIT)
    assert _attempt(other_client, editor.email, PASSWORD).status_code == 429


def test_an_address_is_locked_across_accounts_while_others_still_sign_in(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session))
    for n in range(ADDRESS_LIMIT):
        _attempt(client, f"guess{n}@example.go.id", "wrong-password")
    assert _attempt(client, editor.email, PASSWORD).status_code == 429
    assert _attempt(other_client, editor.email, PASSWORD).status_code == 303


def test_a_successful_sign_in_resets_the_account_counter(
    client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session))
    _statuses(client, editor.email, ACCOUNT_LIMIT - 1)
    assert _attempt(client, editor.email, PASSWORD).status_code == 303
    client.cookies.clear()
    assert _statuses(client, editor.email, ACCOUNT_LIMIT - 1) == [400] * (ACCOUNT_LIMIT - 1)


def test_a_lockout_is_audited_without_the_password(
    client: TestClient, other_client: TestClient, session: Session
) -> None:
    editor = make_user(session, make_agency(session))
    _statuses(client, editor.email, ACCOUNT_LIMIT)
    _statuses(other_client, "nobody@example.go.id", ACCOUNT_LIMIT)
    rows = session.exec(select(AuditLog).where(AuditLog.action == "login.locked.account")).all()
    by_entity = {(r.entity, r.entity_id, r.agency_id) for r in rows}
    assert by_entity == {("user", editor.id, editor.agency_id), ("login", None, None)}
    assert all("wrong-password" not in r.detail for r in rows)
    assert any("nobody@example.go.id" in r.detail for r in rows)


def test_the_address_lockout_is_audited(client: TestClient, session: Session) -> None:
    for n in range(ADDRESS_LIMIT):
        _attempt(client, f"guess{n}@example.go.id", "wrong-password")
    rows = session.exec(select(AuditLog).where(AuditLog.action == "login.locked.address")).all()
    assert len(rows) == 1
    assert "testclient" in rows[0].detail


def test_a_window_that_has_passed_starts_over(session: Session) -> None:
    start = utcnow()
    for _ in range(ACCOUNT_LIMIT):
        throttle.record_failure(session, "siti@example.go.id", "192.0.2.1", start)
    session.commit()
    lock = throttle.lockout(session, "SITI@example.go.id ", "192.0.2.99", start)
    assert lock is not None
    assert lock.kind == throttle.ACCOUNT
    assert lock.until == start + timedelta(seconds=900)
    later = start + timedelta(seconds=901)
    assert throttle.lockout(session, "siti@example.go.id", "192.0.2.1", later) is None
    assert throttle.record_failure(session, "siti@example.go.id", "192.0.2.1", later) == []
    session.commit()
    count = session.exec(
        select(throttle.LoginFailure.count).where(throttle.LoginFailure.kind == throttle.ACCOUNT)
    ).one()
    assert count == 1


def test_the_table_holds_no_email_or_address(session: Session) -> None:
    throttle.record_failure(session, "siti@example.go.id", "192.0.2.1")
    session.commit()
    for row in session.exec(select(throttle.LoginFailure)).all():
        assert "siti" not in row.key_hash
        assert "192.0.2.1" not in row.key_hash
        assert len(row.key_hash) == 64


def test_old_rows_are_purged_by_a_recurring_job(db: Engine, session: Session) -> None:
    assert RECURRING["login_failure.purge"].every == timedelta(hours=1)
    old = utcnow() - timedelta(hours=2)
    throttle.record_failure(session, "old@example.go.id", "192.0.2.1", old)
    throttle.record_failure(session, "new@example.go.id", "192.0.2.2")
    session.commit()
    JOBS["login_failure.purge"](db, {})
    session.expire_all()
    assert len(session.exec(select(throttle.LoginFailure)).all()) == 2  # the new one's 2 keys


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "headers": headers, "client": (peer, 1234)})


def test_proxy_headers_count_only_from_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = get_settings().auth
    assert client_address(_request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"
    monkeypatch.setattr(auth, "trusted_proxies", ["10.0.0.0/8"])
    assert client_address(_request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"
    assert client_address(_request("10.1.2.3", "203.0.113.9")) == "203.0.113.9"
    # A client-supplied first hop is ignored: the proxy appended the real peer last.
    assert client_address(_request("10.1.2.3", "1.1.1.1, 203.0.113.9, 10.0.0.5")) == "203.0.113.9"
    assert client_address(_request("10.1.2.3", "not-an-ip")) == "10.1.2.3"
    assert client_address(_request("10.1.2.3")) == "10.1.2.3"

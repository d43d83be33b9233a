"""Hardening by class: control characters, impossible ids, error pages, body size, busy SQLite.

Each probe goes to many routes at once, signed in as staff and as an ASN, on both
databases: a new page is covered by the same guard without a test of its own.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from roster.models import Role
from tests.factories import make_agency, make_asn, make_campaign, make_unit, make_user
from tests.web.conftest import csrf_from, login_asn, login_staff
from web.headers import SECURITY_HEADERS

BEYOND_INTEGER = "9223372036854775808"  # 2**63: over every integer column either database has
BEYOND_INT4 = "2147483648"  # 2**31: over PostgreSQL's INTEGER
CONSOLE_ID_ROUTES = (
    "/console/campaigns/{id}",
    "/console/campaigns/{id}/assignments",
    "/console/campaigns/{id}/feedback",
    "/console/posts/{id}",
    "/console/asn/{id}",
    "/dashboard/campaigns/{id}",
)
CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F) | st.just("\x7f")


def _staff(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    login_staff(client, make_user(session, agency, Role.ADMIN))


@pytest.mark.parametrize("too_big", [BEYOND_INTEGER, BEYOND_INT4, "-" + BEYOND_INTEGER])
def test_an_id_beyond_the_database_range_is_not_found_on_every_page(
    client: TestClient, session: Session, too_big: str
) -> None:
    _staff(client, session)
    for route in CONSOLE_ID_ROUTES:
        response = client.get(route.format(id=too_big), follow_redirects=False)
        assert response.status_code == 404, route


def test_an_assignment_id_beyond_the_range_is_not_found_in_the_inbox(
    client: TestClient, session: Session
) -> None:
    login_asn(client, make_asn(session, make_unit(session, make_agency(session))))
    assert client.get(f"/inbox/{BEYOND_INTEGER}").status_code == 404


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(control=CONTROL)
def test_a_control_character_in_a_path_query_or_form_is_refused_clearly(
    client: TestClient, session: Session, control: str
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    campaign = make_campaign(session, agency, editor)
    login_staff(client, editor)
    encoded = quote(control)  # as a browser sends it
    assert client.get(f"/registry/x/ab{encoded}c").status_code == 404
    assert client.get(f"/console/campaigns/{campaign.id}{encoded}").status_code == 404
    query = client.get("/registry", params={"q": f"budi{control}"})
    assert query.status_code == 400
    assert "karakter kontrol" in query.text
    token = csrf_from(client, "/console/campaigns/new")
    form = {"csrf_token": token, "title": f"HUT RI{control}", "kind": "program"}
    posted = client.post("/console/campaigns", data=form, follow_redirects=False)
    assert posted.status_code == 400
    assert "title" in posted.text


def test_line_breaks_in_a_form_field_are_text_not_control_characters(
    client: TestClient, session: Session
) -> None:
    _staff(client, session)
    token = csrf_from(client, "/console/campaigns/new")
    form = {"csrf_token": token, "title": "Baris satu\r\nbaris dua\tlagi", "kind": "bogus"}
    response = client.post("/console/campaigns", data=form, follow_redirects=False)
    assert "karakter kontrol" not in response.text


def test_a_server_error_page_is_translated_and_carries_the_security_headers(
    client: TestClient,
) -> None:
    app = client.app
    assert isinstance(app, FastAPI)

    def explode() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-explode", explode)
    with TestClient(app, raise_server_exceptions=False) as quiet:
        response = quiet.get("/test-explode")
    assert response.status_code == 500
    assert "Terjadi kesalahan" in response.text
    assert "boom" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_a_busy_sqlite_writer_answers_503_with_retry_after(client: TestClient) -> None:
    app = client.app
    assert isinstance(app, FastAPI)

    def locked() -> None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    app.add_api_route("/test-locked", locked)
    response: httpx.Response = client.get("/test-locked")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert (
        response.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    )


def test_a_request_body_over_the_limit_is_refused(client: TestClient, session: Session) -> None:
    _staff(client, session)
    token = csrf_from(client, "/console/campaigns/new")
    body = {"csrf_token": token, "title": "x" * (11 * 1024 * 1024), "kind": "program"}
    response = client.post("/console/campaigns", data=body, follow_redirects=False)
    assert response.status_code == 413
    assert response.headers["X-Frame-Options"] == "DENY"

"""Every response carries the security headers; /healthz reports the database."""

from __future__ import annotations

from fastapi.testclient import TestClient

from web.headers import SECURITY_HEADERS


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/login")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_route_keeps_its_own_stricter_referrer_policy(client: TestClient) -> None:
    response = client.get("/r/unknown-code")
    assert response.status_code == 404
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_use_no_inline_styles_or_scripts(client: TestClient) -> None:
    """The CSP forbids inline code, so a page that relied on it would break in a browser."""
    html = client.get("/login").text
    assert "<style" not in html
    assert "<script>" not in html


def test_healthz_reports_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}

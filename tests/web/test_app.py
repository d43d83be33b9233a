"""The application shell: language choice, error pages, redirects, OpenAPI."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.factories import make_agency, make_user
from tests.web.conftest import csrf_from, login_staff


def test_the_ui_is_indonesian_by_default(client: TestClient) -> None:
    response = client.get("/login")
    assert '<html lang="id">' in response.text
    assert "Masuk" in response.text


def test_accept_language_en_gives_english(client: TestClient) -> None:
    response = client.get("/login", headers={"accept-language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in response.text
    assert "Sign in" in response.text
    assert "Masuk" not in response.text


def test_switching_language_sticks_for_the_session(client: TestClient) -> None:
    token = csrf_from(client, "/login")
    response = client.post(
        "/lang/en", data={"csrf_token": token, "next": "/login"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert "Sign in" in client.get("/login").text
    # The session choice beats the browser's header.
    assert "Sign in" in client.get("/login", headers={"accept-language": "id"}).text


def test_switching_language_needs_the_csrf_token(client: TestClient) -> None:
    assert client.post("/lang/en", data={"next": "/login"}).status_code == 403


def test_language_link_sets_only_a_cookie_and_stays_on_site(client: TestClient) -> None:
    response = client.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert response.headers["location"] == "/"
    assert "lang=en" in response.headers["set-cookie"]
    assert "Sign in" in client.get("/login").text


def test_unknown_language_falls_back_to_indonesian(client: TestClient) -> None:
    client.get("/lang/fr", follow_redirects=False)
    assert "Masuk" in client.get("/login").text


def test_unknown_page_is_a_translated_404_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Halaman tidak ditemukan" in response.text
    english = client.get("/no-such-page", headers={"accept-language": "en"})
    assert "Page not found" in english.text


def test_api_errors_are_json(client: TestClient) -> None:
    response = client.get("/api/campaigns")
    assert response.status_code == 401
    assert response.json() == {"detail": "Silakan masuk atau kirim token API."}
    assert client.get("/api/no-such-thing").headers["content-type"] == "application/json"


def test_anonymous_home_goes_to_login(client: TestClient) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_editor_home_is_the_console(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session)))
    assert client.get("/", follow_redirects=False).headers["location"] == "/console"


def test_openapi_documents_the_json_api(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert schema["info"]["title"] == "Gaung"
    assert "/api/campaigns/{campaign_id}/reach" in schema["paths"]
    assert not any(path.startswith("/console") for path in schema["paths"])
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "/api/campaigns/{campaign_id}/assignments" in docs.text
    # No script or style from a CDN (a random token may well contain the letters "cdn").
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", docs.text)


def test_pages_load_nothing_from_outside(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session)))
    for path in ("/login", "/console", "/console/campaigns/new"):
        text = client.get(path).text
        assert 'src="http' not in text
        assert 'href="http' not in text


def test_static_files_are_served(client: TestClient) -> None:
    assert client.get("/static/gaung.css").status_code == 200
    assert client.get("/static/console.js").status_code == 200

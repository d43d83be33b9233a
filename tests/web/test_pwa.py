"""The inbox as an installable web app: a valid manifest with real icons, linked from every
inbox page with the iOS tags, an install guide in Indonesian, and an offline copy owned by
the person signed in."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from roster.models import Role
from tests.factories import make_agency, make_asn, make_unit, make_user
from tests.web.conftest import login_asn, login_staff
from web.pwa import session_tag


def _meta(html: str, name: str) -> str | None:
    found = re.search(rf'<meta name="{name}" content="([^"]*)"', html)
    return found.group(1) if found else None


def test_the_manifest_is_valid_and_its_icons_are_what_it_says(client: TestClient) -> None:
    response = client.get("/manifest.webmanifest")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["short_name"] == "Gaung"
    assert manifest["name"] == "Gaung: penugasan saya"  # Indonesian by default
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/inbox"
    assert manifest["start_url"].startswith(manifest["scope"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    purposes = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200, icon
        assert image.headers["content-type"] == icon["type"] == "image/png"
        width, height = Image.open(io.BytesIO(image.content)).size
        assert f"{width}x{height}" == icon["sizes"]
        purposes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    english = client.get("/manifest.webmanifest", headers={"Accept-Language": "en"}).json()
    assert english["name"] == "Gaung: my assignments"


def test_every_inbox_page_links_the_manifest_and_the_ios_tags(
    client: TestClient, session: Session
) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)

    for path in ("/inbox", "/inbox/settings", "/inbox/app"):
        html = client.get(path).text
        assert '<link rel="manifest" href="/manifest.webmanifest">' in html, path
        assert 'rel="apple-touch-icon"' in html
        assert _meta(html, "apple-mobile-web-app-capable") == "yes"
        assert _meta(html, "theme-color")
        assert '<script src="/static/pwa.js" defer></script>' in html
        assert _meta(html, "gaung-session") == session_tag(asn)
    assert client.get("/static/icons/apple-touch-icon.png").status_code == 200
    assert client.get("/static/pwa.js").status_code == 200


def test_staff_pages_are_not_the_app(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session), role=Role.EDITOR))
    assert "manifest.webmanifest" not in client.get("/console").text


def test_the_sign_in_page_names_no_owner_so_the_offline_copy_is_dropped(
    client: TestClient,
) -> None:
    html = client.get("/inbox/login").text
    assert "/static/pwa.js" in html
    assert _meta(html, "gaung-session") is None


def test_the_owner_tag_differs_per_person_and_after_signing_out_everywhere(
    session: Session,
) -> None:
    unit = make_unit(session, make_agency(session))
    one, other = make_asn(session, unit), make_asn(session, unit)
    tag = session_tag(one)
    assert tag != session_tag(other)
    assert re.fullmatch(r"[0-9a-f]{24}", tag)  # opaque: an HMAC, not the id
    one.login_epoch += 1
    assert session_tag(one) != tag


def test_the_install_guide_is_in_indonesian_for_android_and_iphone(
    client: TestClient, session: Session
) -> None:
    assert client.get("/inbox/app", follow_redirects=False).status_code in (302, 303, 307)
    asn = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)

    html = client.get("/inbox/app").text

    assert "Pasang Gaung di ponsel Anda" in html
    assert "Tambahkan ke layar utama" in html  # Chrome on Android
    assert "Tambahkan ke Layar Utama" in html  # Safari on an iPhone
    assert "iOS 16.4" in html
    assert 'href="/inbox/settings#devices"' in html
    assert "<script>" not in html  # strict CSP: nothing inline
    assert 'href="/inbox/app"' in client.get("/inbox").text


@pytest.mark.parametrize("path", ["/sw.js"])
def test_the_service_worker_may_control_the_inbox(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/"
    assert 'addEventListener("fetch"' in response.text

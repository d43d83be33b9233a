"""The JSON API's per-platform texts: texts (own text) and variants (alternatives)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from roster.models import Role, User
from tests.factories import make_agency, make_campaign, make_user
from tests.web.test_api_writes import POST_BODY, _bearer

SHORT_X = "UMKM Go Digital: pelatihan gratis untuk 1 juta pelaku usaha."


def _editor(session: Session) -> tuple[User, int]:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    return editor, make_campaign(session, agency, editor).id or 0


def _loc(response: httpx.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    loc: list[Any] = response.json()["detail"][0]["loc"]
    return loc


def test_texts_and_variants_round_trip(client: TestClient, session: Session) -> None:
    editor, campaign_id = _editor(session)
    auth = _bearer(session, editor)
    body = {
        **POST_BODY,
        "texts": {"x": SHORT_X},
        "variants": {"x": ["Satu juta UMKM naik kelas.", ""], "facebook": ["Ayo daftar!"]},
    }
    created = client.post(f"/api/campaigns/{campaign_id}/posts", json=body, headers=auth)
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["texts"] == {"x": SHORT_X}
    assert post["variants"] == {"x": ["Satu juta UMKM naik kelas."], "facebook": ["Ayo daftar!"]}

    patch = {"texts": {"facebook": "Teks Facebook."}, "variants": {"x": ["UMKM naik kelas."]}}
    changed = client.patch(f"/api/posts/{post['id']}", json=patch, headers=auth)
    assert changed.status_code == 200, changed.text
    assert changed.json()["texts"] == {"x": SHORT_X, "facebook": "Teks Facebook."}
    assert changed.json()["variants"] == {"x": ["UMKM naik kelas."], "facebook": ["Ayo daftar!"]}
    read = client.get(f"/api/posts/{post['id']}", headers=auth).json()
    assert read["texts"] == changed.json()["texts"]
    assert read["variants"] == changed.json()["variants"]

    preview = client.post(f"/api/posts/{post['id']}/preview", headers=auth).json()
    assert [(r["platform"], r["position"]) for r in preview] == [
        ("x", 0),
        ("x", 1),
        ("facebook", 0),
        ("facebook", 1),
    ]
    assert preview[0]["text"].startswith(SHORT_X)
    assert preview[1]["text"].startswith("UMKM naik kelas.")

    cleared = client.patch(
        f"/api/posts/{post['id']}", json={"texts": {"x": None}, "variants": {"x": []}}, headers=auth
    )
    assert cleared.json()["texts"] == {"facebook": "Teks Facebook."}
    assert cleared.json()["variants"] == {"facebook": ["Ayo daftar!"]}


def test_a_bad_variant_is_a_422_naming_it(client: TestClient, session: Session) -> None:
    editor, campaign_id = _editor(session)
    auth = _bearer(session, editor)
    url = f"/api/campaigns/{campaign_id}/posts"
    repeated = {**POST_BODY, "variants": {"x": ["Sama.", "sama."]}}
    assert _loc(client.post(url, json=repeated, headers=auth)) == ["body", "variants", "x", 1]
    too_many = {**POST_BODY, "variants": {"x": [f"Teks {n}." for n in range(6)]}}
    assert _loc(client.post(url, json=too_many, headers=auth)) == ["body", "variants", "x", 5]
    unknown = {**POST_BODY, "variants": {"tiktok": ["Halo."]}}
    assert client.post(url, json=unknown, headers=auth).status_code == 422


def test_submit_names_the_variant_over_the_limit(client: TestClient, session: Session) -> None:
    editor, campaign_id = _editor(session)
    auth = _bearer(session, editor)
    body = {**POST_BODY, "texts": {"x": "a" * 300}, "variants": {"x": ["b" * 300]}}
    post = client.post(f"/api/campaigns/{campaign_id}/posts", json=body, headers=auth).json()
    submitted = client.post(f"/api/posts/{post['id']}/submit", headers=auth)
    assert _loc(submitted) == ["body", "texts", "x"]
    client.patch(f"/api/posts/{post['id']}", json={"texts": {"x": None}}, headers=auth)
    client.patch(
        f"/api/posts/{post['id']}", json={"master_text": "Teks pendek yang muat."}, headers=auth
    )
    submitted = client.post(f"/api/posts/{post['id']}/submit", headers=auth)
    assert _loc(submitted) == ["body", "variants", "x", 0]
    assert "280" in submitted.json()["detail"][0]["msg"]

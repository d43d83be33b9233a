"""The write API: bearer tokens, the same workflow rules as the console, Idempotency-Key."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from content.models import Campaign
from gaung.db import utcnow
from kernel import idempotency
from roster import api_tokens
from roster.models import Agency, Role, Unit, User
from tests.factories import make_agency, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import csrf_from, login_staff
from web.api import CampaignIn


def _bearer(session: Session, user: User, **options: Any) -> dict[str, str]:
    issued = api_tokens.create_token(session, user, name="test", **options)
    return {"Authorization": f"Bearer {issued.secret}"}


def _campaign_body(unit: Unit | None = None, **changes: Any) -> dict[str, Any]:
    start = utcnow() + timedelta(hours=1)
    return {
        "title": "Vaksinasi Nasional",
        "kind": "program",
        "starts_at": start.isoformat(),
        "deadline": (start + timedelta(days=2)).isoformat(),
        "unit_ids": [unit.id] if unit else [],
        **changes,
    }


POST_BODY = {
    "master_text": "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
    "link": "https://www.kominfo.go.id/berita/umkm-digital",
    "hashtags": ["UMKM"],
    "platforms": ["x", "facebook"],
    "official_urls": {"x": "https://x.com/kominfo/status/1"},
}


@pytest.fixture
def agency(session: Session) -> Agency:
    return make_agency(session)


@pytest.fixture
def editor(session: Session, agency: Agency) -> User:
    return make_user(session, agency, Role.EDITOR)


def _loc(response: httpx.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    loc: list[Any] = response.json()["detail"][0]["loc"]
    return loc


# --- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Bearer gaung_000000000000_x", "Bearer nonsense", "Basic a"])
def test_an_unknown_token_answers_401_with_a_bearer_challenge(
    client: TestClient, header: str
) -> None:
    response = client.get("/api/campaigns", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_revoked_expired_and_inactive_tokens_answer_401(
    client: TestClient, session: Session, editor: User
) -> None:
    revoked = _bearer(session, editor)
    token_id = session.exec(select(api_tokens.ApiToken.id)).one()
    expired = _bearer(session, editor, expires_days=1)
    expired_row = session.exec(
        select(api_tokens.ApiToken).where(api_tokens.ApiToken.id != token_id)
    ).one()
    assert client.get("/api/campaigns", headers=revoked).status_code == 200
    api_tokens.revoke_token(session, editor, token_id or 0)
    expired_row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(expired_row)
    session.commit()
    for headers in (revoked, expired):
        response = client.get("/api/campaigns", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    live = _bearer(session, editor)
    editor.active = False
    session.add(editor)
    session.commit()
    assert client.get("/api/campaigns", headers=live).status_code == 401


def test_only_a_hash_of_the_token_is_stored(session: Session, editor: User) -> None:
    issued = api_tokens.create_token(session, editor, name="site")
    row = session.get_one(api_tokens.ApiToken, issued.token.id)
    assert issued.secret not in (row.token_hash, row.lookup)
    assert row.lookup in issued.secret


def test_a_token_acts_with_its_owners_role_and_agency(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    mine = make_campaign(session, agency)
    theirs = make_campaign(session, make_agency(session))
    supervisor = _bearer(session, make_user(session, agency, Role.SUPERVISOR))
    assert [c["id"] for c in client.get("/api/campaigns", headers=supervisor).json()] == [mine.id]
    assert client.get(f"/api/campaigns/{theirs.id}", headers=supervisor).status_code == 404
    response = client.post("/api/campaigns", json=_campaign_body(), headers=supervisor)
    assert response.status_code == 403


def test_session_writes_need_the_csrf_token_and_bearer_writes_do_not(
    client: TestClient, session: Session, editor: User
) -> None:
    login_staff(client, editor)
    assert client.post("/api/campaigns", json=_campaign_body()).status_code == 403
    token = csrf_from(client, "/console")
    response = client.post("/api/campaigns", json=_campaign_body(), headers={"X-CSRF-Token": token})
    assert response.status_code == 201
    client.cookies.clear()
    response = client.post(
        "/api/campaigns", json=_campaign_body(), headers=_bearer(session, editor)
    )
    assert response.status_code == 201


# --- campaigns and posts -----------------------------------------------------------------


def test_create_edit_and_delete_a_campaign(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    auth = _bearer(session, editor)
    unit = make_unit(session, agency)
    response = client.post("/api/campaigns", json=_campaign_body(unit), headers=auth)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["title"] == "Vaksinasi Nasional"
    assert body["unit_ids"] == [unit.id]
    response = client.patch(f"/api/campaigns/{body['id']}", json={"title": "Tahap 2"}, headers=auth)
    assert response.status_code == 200
    assert response.json()["title"] == "Tahap 2"
    assert response.json()["unit_ids"] == [unit.id]
    assert client.delete(f"/api/campaigns/{body['id']}", headers=auth).status_code == 204
    assert session.exec(select(func.count()).select_from(Campaign)).one() == 0


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"title": " "}, ["body", "title"]),
        ({"kind": "propaganda"}, ["body", "kind"]),
        ({"starts_at": "2020-01-01T00:00:00Z"}, ["body", "starts_at"]),
        ({"deadline": "2020-01-01T00:00:00Z"}, ["body", "deadline"]),
        ({"starts_at": "9999-12-31T23:59:59-23:59"}, ["body", "starts_at"]),
        ({"unit_ids": [999999]}, ["body", "unit_ids"]),
        ({"title": "Nul\u0000"}, ["body", "title"]),
    ],
)
def test_bad_campaign_input_answers_422_naming_the_field(
    client: TestClient, session: Session, editor: User, changes: dict[str, Any], loc: list[str]
) -> None:
    response = client.post(
        "/api/campaigns", json=_campaign_body(**changes), headers=_bearer(session, editor)
    )
    assert _loc(response)[:2] == loc[:2]
    assert session.exec(select(func.count()).select_from(Campaign)).one() == 0


def test_the_whole_post_workflow_over_the_api(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    editor_auth = _bearer(session, editor)
    approver = _bearer(session, make_user(session, agency, Role.APPROVER))
    campaign = make_campaign(session, agency)
    response = client.post(
        f"/api/campaigns/{campaign.id}/posts", json=POST_BODY, headers=editor_auth
    )
    assert response.status_code == 201, response.text
    post = response.json()
    assert post["status"] == "draft"
    assert post["official_urls"]["x"] == "https://x.com/kominfo/status/1"
    response = client.patch(
        f"/api/posts/{post['id']}", json={"hashtags": ["UMKM", "Digital"]}, headers=editor_auth
    )
    assert response.json()["hashtags"] == ["UMKM", "Digital"]
    # The author may not approve (four eyes): 403.
    assert client.post(f"/api/posts/{post['id']}/submit", headers=editor_auth).status_code == 200
    assert client.post(f"/api/posts/{post['id']}/approve", headers=editor_auth).status_code == 403
    rejected = client.post(
        f"/api/posts/{post['id']}/reject", json={"note": "Tambahkan tanggal."}, headers=approver
    )
    assert rejected.json()["status"] == "rejected"
    client.patch(
        f"/api/posts/{post['id']}", json={"master_text": "Teks baru."}, headers=editor_auth
    )
    client.post(f"/api/posts/{post['id']}/submit", headers=editor_auth)
    approved = client.post(f"/api/posts/{post['id']}/approve", headers=approver)
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    # A draft-only change on an approved post is a state conflict: 409.
    assert client.delete(f"/api/posts/{post['id']}", headers=editor_auth).status_code == 409
    withdrawn = client.post(f"/api/posts/{post['id']}/withdraw", headers=approver)
    assert withdrawn.json()["status"] == "withdrawn"


def test_another_agencys_post_answers_404_for_every_write(
    client: TestClient, session: Session, editor: User
) -> None:
    other = make_agency(session)
    author = make_user(session, other)
    post = make_post(session, make_campaign(session, other, author), author)
    auth = _bearer(session, editor)
    assert (
        client.patch(f"/api/posts/{post.id}", json={"urgent": True}, headers=auth).status_code
        == 404
    )
    assert client.delete(f"/api/posts/{post.id}", headers=auth).status_code == 404
    for step in ("submit", "approve", "withdraw"):
        assert client.post(f"/api/posts/{post.id}/{step}", headers=auth).status_code == 404
    assert client.get(f"/api/posts/{post.id}", headers=auth).status_code == 404


def test_bad_post_input_names_the_field(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    auth = _bearer(session, editor)
    campaign = make_campaign(session, agency)
    path = f"/api/campaigns/{campaign.id}/posts"
    for changes, loc in (
        ({"link": "ftp://x"}, ["body", "link"]),
        ({"official_urls": {"facebook": "nope"}}, ["body", "official_urls", "facebook"]),
        ({"platforms": ["myspace"]}, ["body", "platforms", 0]),
        ({"scheduled_at": "2021-01-01T00:00:00+07:00"}, ["body", "scheduled_at"]),
        ({"hashtags": ["not a tag!"]}, ["body", "hashtags"]),
    ):
        assert _loc(client.post(path, json={**POST_BODY, **changes}, headers=auth)) == loc
    assert (
        _loc(
            client.patch(
                f"/api/posts/{make_post(session, campaign, editor).id}",
                json={"master_text": None},
                headers=auth,
            )
        )[0]
        == "body"
    )


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 94, 184)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_is_uploaded_checked_and_removed(
    client: TestClient, session: Session, agency: Agency, editor: User
) -> None:
    auth = _bearer(session, editor)
    post = make_post(session, make_campaign(session, agency), editor)
    response = client.post(
        f"/api/posts/{post.id}/image", files={"image": ("a.png", _png(), "image/png")}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["image_url"].startswith("/media/")
    bad = client.post(
        f"/api/posts/{post.id}/image",
        files={"image": ("a.png", b"GIF89a", "image/png")},
        headers=auth,
    )
    assert _loc(bad) == ["body", "image"]
    removed = client.delete(f"/api/posts/{post.id}/image", headers=auth)
    assert removed.json()["image_url"] is None


# --- idempotency -------------------------------------------------------------------------


def test_the_same_key_and_body_get_the_first_answer(
    client: TestClient, session: Session, editor: User
) -> None:
    headers = {**_bearer(session, editor), "Idempotency-Key": "create-1"}
    body = _campaign_body()
    first = client.post("/api/campaigns", json=body, headers=headers)
    again = client.post("/api/campaigns", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert session.exec(select(func.count()).select_from(Campaign)).one() == 1
    other = client.post("/api/campaigns", json={**body, "title": "Lain"}, headers=headers)
    assert _loc(other) == ["header", "Idempotency-Key"]
    # The key is the caller's own: someone else's request with it is a new one.
    colleague = {
        **_bearer(session, make_user(session, make_agency(session))),
        "Idempotency-Key": "create-1",
    }
    assert client.post("/api/campaigns", json=body, headers=colleague).status_code == 201


def test_a_failed_request_frees_its_key(client: TestClient, session: Session, editor: User) -> None:
    headers = {**_bearer(session, editor), "Idempotency-Key": "k"}
    assert (
        client.post("/api/campaigns", json=_campaign_body(title=" "), headers=headers).status_code
        == 422
    )
    assert client.post("/api/campaigns", json=_campaign_body(), headers=headers).status_code == 201


def test_concurrent_duplicates_create_one_campaign(
    db: Engine, session: Session, editor: User
) -> None:
    """Requests with the same key at once: one reserves it, the others are told it runs."""
    assert editor.id is not None
    digest = idempotency.fingerprint("POST", "/api/campaigns", {"a": 1})
    barrier = threading.Barrier(4)
    outcomes: list[idempotency.Outcome] = []

    def reserve() -> None:
        with Session(db) as own:
            barrier.wait()
            outcomes.append(idempotency.reserve(own, editor.id or 0, "same", digest))

    threads = [threading.Thread(target=reserve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.reserved for o in outcomes) == [False, False, False, True]
    assert all(o.same_request and o.status is None for o in outcomes if not o.reserved)


def test_a_running_duplicate_answers_409(
    client: TestClient, session: Session, editor: User
) -> None:
    digest_body = _campaign_body()
    headers = {**_bearer(session, editor), "Idempotency-Key": "busy"}
    as_parsed = CampaignIn.model_validate(digest_body).model_dump(mode="json")
    first = idempotency.fingerprint("POST", "/api/campaigns", as_parsed)
    assert idempotency.reserve(session, editor.id or 0, "busy", first).reserved
    response = client.post("/api/campaigns", json=digest_body, headers=headers)
    assert response.status_code == 409
    assert session.exec(select(func.count()).select_from(Campaign)).one() == 0

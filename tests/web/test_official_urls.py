"""A link of another platform in an official-post field is refused where it is typed."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from content.models import Post
from roster import api_tokens
from roster.models import Role
from tests.factories import make_agency, make_campaign, make_post, make_user
from tests.web.conftest import csrf_from, login_staff

FACEBOOK_POST = "https://www.facebook.com/kominfo/posts/1234567890"
EN = {"accept-language": "en"}


def _form(token: str, **overrides: object) -> dict[str, object]:
    return {
        "csrf_token": token,
        "master_text": "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
        "link": "https://www.kominfo.go.id/berita/umkm",
        "hashtags": "#UMKMGoDigital",
        "platforms": ["x", "facebook"],
        "official_url_x": "https://x.com/kominfo/status/1",
        "scheduled_at": "",
        **overrides,
    }


def test_console_refuses_a_facebook_link_in_the_x_field(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_form(token, official_url_x=FACEBOOK_POST),
    )
    assert response.status_code == 400
    assert 'id="official_url_x-error"' in response.text
    assert "bukan tautan ke unggahan di X" in response.text
    assert "https://x.com/humas_instansi/status/" in response.text
    assert FACEBOOK_POST in response.text  # the input is kept to correct it
    assert session.exec(select(Post)).first() is None


def test_console_accepts_the_facebook_link_in_the_facebook_field(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_form(token, official_url_facebook=FACEBOOK_POST),
        follow_redirects=False,
    )
    assert response.status_code == 303
    post = session.exec(select(Post)).one()
    assert post.official_url_facebook == FACEBOOK_POST


def test_api_refuses_a_facebook_link_in_the_x_field_naming_it(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency)
    auth = {"Authorization": f"Bearer {api_tokens.create_token(session, editor, name='t').secret}"}
    body = {
        "master_text": "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
        "platforms": ["x"],
        "official_urls": {"x": FACEBOOK_POST},
    }
    created = client.post(f"/api/campaigns/{campaign.id}/posts", json=body, headers={**auth, **EN})
    assert created.status_code == 422
    error = created.json()["detail"][0]
    assert error["loc"] == ["body", "official_urls", "x"]
    assert error["msg"].startswith("This is not a link to a post on X. Example: https://x.com/")
    draft = make_post(session, campaign, editor)
    patched = client.patch(
        f"/api/posts/{draft.id}", json={"official_urls": {"x": FACEBOOK_POST}}, headers=auth
    )
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["body", "official_urls", "x"]


def test_humas_corrects_a_dispatched_posts_wrong_link_from_the_post_page(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency, Role.EDITOR)
    post = make_post(session, make_campaign(session, agency, editor), editor, status="dispatched")
    login_staff(client, editor)
    page = client.get(f"/console/posts/{post.id}")
    assert f'action="/console/posts/{post.id}/official-links"' in page.text

    token = csrf_from(client, f"/console/posts/{post.id}")
    wrong = {"csrf_token": token, "official_url_x": "https://www.facebook.com/kominfo/posts/9"}
    refused = client.post(f"/console/posts/{post.id}/official-links", data=wrong)
    assert refused.status_code == 400
    assert "X" in refused.text

    fixed = "https://x.com/kominfo/status/1800000000000000001"
    good = {"csrf_token": token, "official_url_x": fixed}
    path = f"/console/posts/{post.id}/official-links"
    saved = client.post(path, data=good, follow_redirects=False)
    assert saved.status_code == 303
    session.expire_all()
    assert session.get_one(Post, post.id).official_url("x") == fixed

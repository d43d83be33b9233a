"""The console post form's per-platform texts: own text, alternatives, preview, errors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from content import variants
from content.models import Post
from roster.models import Role
from tests.factories import make_agency, make_campaign, make_user
from tests.web.conftest import csrf_from, login_staff
from tests.web.test_console import EN, _post_form

SHORT_X = "UMKM Go Digital: pelatihan gratis untuk 1 juta pelaku usaha."


def test_form_saves_own_texts_and_alternatives_and_shows_them_again(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_post_form(
            campaign.id or 0,
            token,
            text_x=SHORT_X,
            variant_x_1="",
            variant_x_2="Satu juta UMKM naik kelas.",
            variant_facebook_1="Ayo daftar pelatihan UMKM!",
        ),
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    post = session.exec(select(Post)).one()
    assert variants.load(session, post.id) == {
        "x": {0: SHORT_X, 1: "Satu juta UMKM naik kelas."},
        "facebook": {1: "Ayo daftar pelatihan UMKM!"},
    }
    page = client.get(f"/console/posts/{post.id}", headers=EN)
    # The approver sees every text of every platform, each labelled.
    assert page.text.count('data-platform="x"') == 2
    assert page.text.count('data-platform="facebook"') == 2
    assert "Own text" in page.text
    assert "Alternative 1" in page.text
    assert "Satu juta UMKM naik kelas." in page.text
    edit = client.get(f"/console/posts/{post.id}/edit")
    assert f">{SHORT_X}</textarea>" in edit.text
    assert 'name="variant_x_1" rows="2" maxlength="5000">Satu juta UMKM naik kelas.<' in edit.text


def test_a_repeated_alternative_is_shown_at_its_field(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_post_form(campaign.id or 0, token, variant_x_1="Sama.", variant_x_2="Sama."),
        headers=EN,
    )
    assert response.status_code == 400
    assert 'id="variant_x_2-error"' in response.text
    assert "X alternative 2 repeats another text of the post." in response.text
    assert session.exec(select(Post)).first() is None


def test_submit_refuses_an_alternative_over_the_x_limit(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    editor = make_user(session, agency)
    make_user(session, agency, role=Role.APPROVER)
    login_staff(client, editor)
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_post_form(campaign.id or 0, token, variant_x_1="a" * 290),
    )
    post = session.exec(select(Post)).one()
    response = client.post(
        f"/console/posts/{post.id}/submit", data={"csrf_token": token}, headers=EN
    )
    assert response.status_code == 400
    assert "X alternative 1 is" in response.text
    assert "the limit is 280" in response.text


def test_live_preview_shows_each_variant_with_its_length(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        "/console/preview",
        json={
            "campaign_id": campaign.id,
            "master_text": "Teks utama. " * 30,
            "link": "",
            "hashtags": "",
            "platforms": ["x", "facebook"],
            "text_x": SHORT_X,
            "variant_x_1": "",
            "variant_x_2": "b" * 300,
        },
        headers={"x-csrf-token": token, **EN},
    )
    assert response.status_code == 200
    x = [r for r in response.json()["renditions"] if r["platform"] == "x"]
    assert [(r["position"], r["label"]) for r in x] == [(0, "Own text"), (1, "Alternative 1")]
    assert x[0]["error"] is None
    assert x[0]["text"].startswith(SHORT_X)
    assert x[1]["length"] > 300
    assert x[1]["limit"] == 280
    assert x[1]["field"] == "variant_x_1"
    assert "X alternative 1 is" in x[1]["error"]
    facebook = [r for r in response.json()["renditions"] if r["platform"] == "facebook"]
    assert [r["label"] for r in facebook] == ["Main text"]

"""The Humas console: campaigns, posts, live preview, approval, agency isolation."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from httpx import Response
from PIL import Image
from sqlmodel import Session, select

from content.models import Campaign, CampaignUnit, Post, PostStatus
from kernel.audit import AuditLog
from kernel.models import WorkItem, WorkStatus
from roster.models import Role
from tests.factories import make_agency, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import csrf_from, login_staff

EN = {"accept-language": "en"}


def _location_id(response: Response, pattern: str) -> int:
    found = re.fullmatch(pattern, response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def _post_form(campaign_id: int, token: str, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": token,
        "master_text": "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
        "link": "https://www.kominfo.go.id/berita/umkm",
        "hashtags": "#UMKMGoDigital",
        "platforms": ["x", "facebook"],
        "official_url_x": "https://x.com/kominfo/status/1",
        "scheduled_at": "",
    }
    data.update(overrides)
    return data


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_campaign_form_converts_jakarta_time_to_utc(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, "/console/campaigns/new")
    response = client.post(
        "/console/campaigns",
        data={
            "csrf_token": token,
            "title": "Literasi Digital",
            "kind": "program",
            "starts_at": "2036-08-17T10:00",
            "deadline": "2036-08-18T10:00",
            "unit_ids": [str(unit.id)],
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    campaign_id = _location_id(response, r"/console/campaigns/(\d+)")
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    assert campaign.starts_at.replace(tzinfo=UTC) == datetime(2036, 8, 17, 3, 0, tzinfo=UTC)
    units = session.exec(select(CampaignUnit).where(CampaignUnit.campaign_id == campaign_id))
    assert [cu.unit_id for cu in units] == [unit.id]
    page = client.get(f"/console/campaigns/{campaign_id}")
    assert "Literasi Digital" in page.text
    assert unit.name in page.text


def test_campaign_form_error_is_shown_at_the_field_and_keeps_the_input(
    client: TestClient, session: Session
) -> None:
    login_staff(client, make_user(session, make_agency(session)))
    token = csrf_from(client, "/console/campaigns/new")
    response = client.post(
        "/console/campaigns",
        data={
            "csrf_token": token,
            "title": "Kampanye Mundur",
            "kind": "program",
            "starts_at": "2036-08-17T10:00",
            "deadline": "not a date",
        },
        headers=EN,
    )
    assert response.status_code == 400
    assert 'id="deadline-error"' in response.text
    assert "Enter a valid date and time." in response.text
    assert 'value="Kampanye Mundur"' in response.text
    assert session.exec(select(Campaign)).first() is None


def test_form_post_without_csrf_token_is_refused(client: TestClient, session: Session) -> None:
    login_staff(client, make_user(session, make_agency(session)))
    response = client.post(
        "/console/campaigns",
        data={
            "title": "X",
            "kind": "program",
            "starts_at": "2036-08-17T10:00",
            "deadline": "2036-08-18T10:00",
        },
    )
    assert response.status_code == 403
    assert session.exec(select(Campaign)).first() is None


def test_editor_of_another_agency_gets_404_for_campaign_and_post(
    client: TestClient, session: Session
) -> None:
    agency_a, agency_b = make_agency(session), make_agency(session)
    author_b = make_user(session, agency_b)
    campaign_b = make_campaign(session, agency_b, author_b)
    post_b = make_post(session, campaign_b, author_b)
    login_staff(client, make_user(session, agency_a))
    for path in (
        f"/console/campaigns/{campaign_b.id}",
        f"/console/campaigns/{campaign_b.id}/posts/new",
        f"/console/posts/{post_b.id}",
        f"/console/posts/{post_b.id}/edit",
        f"/console/posts/{post_b.id}/audit",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert campaign_b.title not in response.text
    token = csrf_from(client, "/console")
    response = client.post(f"/console/posts/{post_b.id}/submit", data={"csrf_token": token})
    assert response.status_code == 404
    assert campaign_b.title not in client.get("/console").text


def test_approver_never_approves_their_own_post(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    approver = make_user(session, agency, role=Role.APPROVER)
    post = make_post(session, make_campaign(session, agency), approver, status=PostStatus.SUBMITTED)
    login_staff(client, approver)
    page = client.get(f"/console/posts/{post.id}")
    assert f"/console/posts/{post.id}/approve" not in page.text
    token = csrf_from(client, f"/console/posts/{post.id}")
    response = client.post(
        f"/console/posts/{post.id}/approve", data={"csrf_token": token}, headers=EN
    )
    assert response.status_code == 403
    assert "someone else must review it" in response.text
    session.refresh(post)
    assert post.status == PostStatus.SUBMITTED
    assert session.exec(select(WorkItem)).first() is None


def test_preview_reports_the_x_overrun_with_its_figure(
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
            "master_text": "a" * 300,
            "link": "",
            "hashtags": "",
            "platforms": ["x", "facebook"],
        },
        headers={"x-csrf-token": token, **EN},
    )
    assert response.status_code == 200
    by_platform = {r["platform"]: r for r in response.json()["renditions"]}
    x = by_platform["x"]
    assert x["limit"] == 280
    assert x["length"] > 300
    assert f"{x['length']} characters" in x["error"]
    assert by_platform["facebook"]["error"] is None


def test_preview_needs_the_csrf_header(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    response = client.post("/console/preview", json={"campaign_id": campaign.id})
    assert response.status_code == 403


def test_preview_of_another_agencys_campaign_is_404(client: TestClient, session: Session) -> None:
    campaign_b = make_campaign(session, make_agency(session))
    login_staff(client, make_user(session, make_agency(session)))
    token = csrf_from(client, "/console")
    response = client.post(
        "/console/preview",
        json={"campaign_id": campaign_b.id, "master_text": "x", "platforms": ["x"]},
        headers={"x-csrf-token": token},
    )
    assert response.status_code == 404


def test_post_form_shows_side_by_side_previews(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    page = client.get(f"/console/campaigns/{campaign.id}/posts/new")
    for platform in ("x", "facebook", "instagram"):
        assert f'data-platform="{platform}"' in page.text
    assert '<script src="/static/console.js"' in page.text


def test_bad_link_rerenders_the_post_form_with_the_input(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_post_form(campaign.id or 0, token, link="ftp://nope", master_text="Teks saya"),
    )
    assert response.status_code == 400
    assert 'id="link-error"' in response.text
    assert "Teks saya" in response.text
    assert session.exec(select(Post)).first() is None


def test_draft_submit_approve_queues_one_dispatch(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    editor = make_user(session, agency)
    approver = make_user(session, agency, role=Role.APPROVER)

    login_staff(client, editor)
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    created = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_post_form(campaign.id or 0, token, scheduled_at="2036-08-17T10:00"),
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    post_id = _location_id(created, r"/console/posts/(\d+)")
    token = csrf_from(client, f"/console/posts/{post_id}")
    submitted = client.post(f"/console/posts/{post_id}/submit", data={"csrf_token": token})
    assert submitted.status_code == 200
    assert "Diajukan untuk persetujuan." in submitted.text

    login_staff(client, approver)
    queue = client.get("/console/approvals")
    assert f"/console/posts/{post_id}" in queue.text
    page = client.get(f"/console/posts/{post_id}")
    assert f"/console/posts/{post_id}/approve" in page.text
    token = csrf_from(client, f"/console/posts/{post_id}")
    approved = client.post(f"/console/posts/{post_id}/approve", data={"csrf_token": token})
    assert approved.status_code == 200

    post = session.get(Post, post_id)
    assert post is not None
    session.refresh(post)
    assert post.status == PostStatus.APPROVED
    assert post.approver_id == approver.id
    assert post.scheduled_at is not None
    assert post.scheduled_at.replace(tzinfo=UTC) == datetime(2036, 8, 17, 3, 0, tzinfo=UTC)
    items = session.exec(select(WorkItem)).all()
    assert [(i.kind, i.key, i.status) for i in items] == [
        ("dispatch", f"dispatch:post:{post_id}", WorkStatus.QUEUED)
    ]
    audit = client.get(f"/console/posts/{post_id}/audit")
    for action in ("post.created", "post.submitted", "post.approved"):
        assert action in audit.text


def test_reject_needs_a_note_and_then_returns_the_post(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency), editor, status=PostStatus.SUBMITTED)
    login_staff(client, make_user(session, agency, role=Role.APPROVER))
    token = csrf_from(client, f"/console/posts/{post.id}")
    empty = client.post(f"/console/posts/{post.id}/reject", data={"csrf_token": token, "note": " "})
    assert empty.status_code == 400
    rejected = client.post(
        f"/console/posts/{post.id}/reject",
        data={"csrf_token": token, "note": "Tambahkan sumber data."},
    )
    assert rejected.status_code == 200
    session.refresh(post)
    assert post.status == PostStatus.REJECTED
    assert post.review_note == "Tambahkan sumber data."
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity_id == post.id)).all()
    assert "post.rejected" in actions


def test_supervisor_reads_but_cannot_write(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency, role=Role.SUPERVISOR))
    assert client.get(f"/console/campaigns/{campaign.id}").status_code == 200
    assert client.get("/console/campaigns/new").status_code == 403
    token = csrf_from(client, "/console")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts", data=_post_form(campaign.id or 0, token)
    )
    assert response.status_code == 403


def test_editor_uploads_an_image_for_instagram(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    data = _post_form(campaign.id or 0, token, platforms=["instagram"])
    created = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=data,
        files={"image": ("infografis.png", _png(), "image/png")},
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    post = session.exec(select(Post)).one()
    assert post.image_path
    assert post.image_path.endswith(".png")
    assert client.get(f"/media/{post.image_path}").status_code == 200
    page = client.get(f"/console/posts/{post.id}")
    assert "Instagram" in page.text


def test_a_non_image_upload_is_refused_at_the_image_field(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    campaign = make_campaign(session, agency)
    login_staff(client, make_user(session, agency))
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/posts/new")
    response = client.post(
        f"/console/campaigns/{campaign.id}/posts",
        data=_post_form(campaign.id or 0, token),
        files={"image": ("evil.png", b"<?php echo 1; ?>", "image/png")},
    )
    assert response.status_code == 400
    assert 'id="image-error"' in response.text


# --- lifecycle: edit a campaign, delete a draft, withdraw, what the approver sees -------


def test_edit_a_campaign_and_refuse_a_start_in_the_past(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    login_staff(client, editor)
    token = csrf_from(client, f"/console/campaigns/{campaign.id}/edit")
    form = {
        "csrf_token": token,
        "title": "Judul baru",
        "kind": "program",
        "starts_at": "2036-08-17T10:00",
        "deadline": "2036-08-18T10:00",
    }
    response = client.post(
        f"/console/campaigns/{campaign.id}/edit", data=form, headers=EN, follow_redirects=False
    )
    assert response.status_code == 303
    session.expire_all()
    assert session.get_one(Campaign, campaign.id).title == "Judul baru"
    form["starts_at"] = "2020-01-01T10:00"
    page = client.post(f"/console/campaigns/{campaign.id}/edit", data=form, headers=EN)
    assert page.status_code == 400
    assert 'id="starts_at-error"' in page.text
    assert "The start is in the past" in page.text


def test_the_author_deletes_a_draft_from_its_page(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor)
    post_id = post.id
    login_staff(client, editor)
    page = client.get(f"/console/posts/{post.id}", headers=EN)
    assert f'action="/console/posts/{post.id}/delete"' in page.text
    token = csrf_from(client, f"/console/posts/{post.id}")
    response = client.post(
        f"/console/posts/{post.id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/console/campaigns/{campaign.id}"
    session.expunge_all()
    assert session.get(Post, post_id) is None


def test_an_approver_withdraws_a_scheduled_post(client: TestClient, session: Session) -> None:
    agency = make_agency(session)
    editor, approver = make_user(session, agency), make_user(session, agency, Role.APPROVER)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    login_staff(client, approver)
    token = csrf_from(client, "/console/approvals")
    post.status = PostStatus.SUBMITTED
    post.platforms = "x,facebook"
    session.add(post)
    session.commit()
    client.post(f"/console/posts/{post.id}/approve", data={"csrf_token": token})
    page = client.get(f"/console/posts/{post.id}", headers=EN)
    assert f'action="/console/posts/{post.id}/withdraw"' in page.text
    client.post(f"/console/posts/{post.id}/withdraw", data={"csrf_token": token})
    session.expire_all()
    assert session.get_one(Post, post.id).status == PostStatus.WITHDRAWN
    item = session.exec(select(WorkItem)).one()
    assert item.status == WorkStatus.CANCELLED
    assert "Withdrawn" in client.get(f"/console/posts/{post.id}", headers=EN).text


def test_the_approver_sees_the_link_and_official_posts_before_approving(
    client: TestClient, session: Session
) -> None:
    agency = make_agency(session)
    editor, approver = make_user(session, agency), make_user(session, agency, Role.APPROVER)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.status = PostStatus.SUBMITTED
    post.platforms = "x,facebook"
    post.official_url_x = "https://x.com/kominfo/status/77"
    session.add(post)
    session.commit()
    login_staff(client, approver)
    for path in ("/console/approvals", f"/console/posts/{post.id}"):
        page = client.get(path, headers=EN).text
        assert 'href="https://www.kominfo.go.id/berita/umkm-digital"' in page
        assert 'href="https://x.com/kominfo/status/77"' in page
        assert "Official Facebook post" in page
        assert "Not given" in page

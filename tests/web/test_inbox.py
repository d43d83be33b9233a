"""The ASN inbox: own assignments only, share links, reporting and declining."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign, Post, PostStatus
from gaung.i18n import gettext, use_locale
from roster.models import Agency, Asn, SocialAccount
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from tests.web.conftest import csrf_from, login_asn


@pytest.fixture
def post(session: Session) -> Post:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    return make_post(session, campaign, author, status=PostStatus.DISPATCHED)


def _asn(session: Session, post: Post, followers: int = 1000) -> Asn:
    campaign = session.get(Campaign, post.campaign_id)
    assert campaign is not None
    agency = session.get(Agency, campaign.agency_id)
    assert agency is not None
    return make_asn(session, make_unit(session, agency), followers=followers)


def _indonesian(msgid: str, **params: str) -> str:
    """The Indonesian text of a message, checked to really be translated."""
    with use_locale("id"):
        text = gettext(msgid)
    assert text != msgid, f"no Indonesian translation for {msgid!r}"
    return text % params if params else text


def _handle(session: Session, asn: Asn, platform: str) -> str:
    query = select(SocialAccount.handle).where(
        SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
    )
    return session.exec(query).one()


def _stored(session: Session, assignment: Assignment) -> Assignment:
    session.expire_all()
    found = session.get(Assignment, assignment.id)
    assert found is not None
    return found


def test_asn_sees_only_their_own_assignments(
    client: TestClient, session: Session, post: Post
) -> None:
    me, other = _asn(session, post), _asn(session, post)
    mine = make_assignment(session, post, me, "x")
    theirs = make_assignment(session, post, other, "facebook")
    login_asn(client, me)

    page = client.get("/inbox")

    assert page.status_code == 200
    assert f'href="/inbox/{mine.id}"' in page.text
    assert f'href="/inbox/{theirs.id}"' not in page.text


def test_assignments_needing_action_are_listed_first(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    done = make_assignment(session, post, me, "x")
    done.status = AssignmentStatus.VERIFIED
    session.add(done)
    session.commit()
    todo = make_assignment(session, post, me, "facebook")  # created later, still pending
    older_todo = make_assignment(session, post, me, "instagram")
    older_todo.deadline = todo.deadline - timedelta(hours=5)
    session.add(older_todo)
    session.commit()
    login_asn(client, me)

    text = client.get("/inbox").text

    positions = [text.index(f'href="/inbox/{a.id}"') for a in (older_todo, todo, done)]
    assert positions == sorted(positions)
    assert "Terverifikasi" in text  # the status badge, in Indonesian by default


def test_inbox_requires_the_magic_link_sign_in(client: TestClient) -> None:
    response = client.get("/inbox", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/inbox/login"


def test_x_assignment_page_offers_text_intent_and_personal_link(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)

    page = client.get(f"/inbox/{assignment.id}")

    assert page.status_code == 200
    text = html.unescape(page.text)
    tracking = f"http://testserver/r/{assignment.code}"
    assert "https://twitter.com/intent/tweet?text=" in text
    assert tracking in text
    assert "readonly>Program Digitalisasi UMKM" in text
    assert f'action="/inbox/{assignment.id}/report"' in page.text


def test_facebook_page_says_to_copy_the_text_before_opening_the_sharer(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "facebook")
    login_asn(client, me)

    text = html.unescape(client.get(f"/inbox/{assignment.id}").text)

    assert "https://www.facebook.com/sharer/sharer.php?u=" in text
    assert "Salin teks terlebih dahulu" in text
    assert text.index("Salin teks terlebih dahulu") < text.index("sharer.php")


def test_instagram_page_offers_image_download_and_caption(
    client: TestClient, session: Session, post: Post
) -> None:
    post.image_path = "posts/umkm.png"
    session.add(post)
    session.commit()
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "instagram")
    login_asn(client, me)

    page = client.get(f"/inbox/{assignment.id}")

    assert 'href="/media/posts/umkm.png" download' in page.text
    assert "Salin keterangan" in page.text
    assert "intent/tweet" not in page.text


def test_another_asns_assignment_cannot_be_opened_reported_or_declined(
    client: TestClient, session: Session, post: Post
) -> None:
    me, other = _asn(session, post), _asn(session, post)
    make_assignment(session, post, me, "x")
    theirs = make_assignment(session, post, other, "x")
    login_asn(client, me)
    token = csrf_from(client, "/inbox")
    url = f"https://x.com/{_handle(session, me, 'x')}/status/1790000000000000001"

    opened = client.get(f"/inbox/{theirs.id}")
    reported = client.post(
        f"/inbox/{theirs.id}/report", data={"csrf_token": token, "repost_url": url}
    )
    declined = client.post(
        f"/inbox/{theirs.id}/decline", data={"csrf_token": token, "reason": "Tidak sempat"}
    )

    assert [opened.status_code, reported.status_code, declined.status_code] == [404, 404, 404]
    stored = _stored(session, theirs)
    assert stored.status == AssignmentStatus.PENDING
    assert stored.repost_url is None


def test_reporting_a_valid_link_shows_the_assignment_as_reported(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post, followers=4321)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")
    url = f"https://x.com/{_handle(session, me, 'x')}/status/1790000000000000001"

    response = client.post(
        f"/inbox/{assignment.id}/report", data={"csrf_token": token, "repost_url": url}
    )

    assert response.status_code == 200  # after the redirect back to the assignment
    assert str(response.url).endswith(f"/inbox/{assignment.id}#outcome")
    assert "Terima kasih" in response.text
    assert "Dilaporkan" in response.text
    assert f'href="{url}"' in response.text
    stored = _stored(session, assignment)
    assert (stored.status, stored.repost_url, stored.followers_at_report) == (
        AssignmentStatus.REPORTED,
        url,
        4321,
    )


def test_bad_link_shows_the_specific_error_in_indonesian_and_keeps_the_input(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")
    wrong = "https://www.facebook.com/someone/posts/123456"

    response = client.post(
        f"/inbox/{assignment.id}/report", data={"csrf_token": token, "repost_url": wrong}
    )

    assert response.status_code == 400
    expected = _indonesian("This is not a %(platform)s link.", platform="X")
    assert expected in html.unescape(response.text)
    assert f'value="{wrong}"' in response.text
    assert _stored(session, assignment).status == AssignmentStatus.PENDING


def test_someone_elses_handle_in_the_link_is_named_in_the_error(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/report",
        data={"csrf_token": token, "repost_url": "https://x.com/stranger/status/42"},
    )

    assert response.status_code == 400
    assert "@stranger" in response.text
    assert f"@{_handle(session, me, 'x')}" in response.text


def test_forms_without_the_csrf_token_are_refused(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    url = f"https://x.com/{_handle(session, me, 'x')}/status/1790000000000000001"

    reported = client.post(f"/inbox/{assignment.id}/report", data={"repost_url": url})
    declined = client.post(f"/inbox/{assignment.id}/decline", data={"reason": "Sakit"})
    forged = client.post(
        f"/inbox/{assignment.id}/report", data={"repost_url": url, "csrf_token": "forged"}
    )

    assert [reported.status_code, declined.status_code, forged.status_code] == [403, 403, 403]
    assert _stored(session, assignment).status == AssignmentStatus.PENDING


def test_declining_with_a_reason_records_it(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "facebook")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/decline",
        data={"csrf_token": token, "reason": "Akun sedang dinonaktifkan"},
    )

    assert response.status_code == 200
    assert "Akun sedang dinonaktifkan" in response.text
    assert f'action="/inbox/{assignment.id}/decline"' not in response.text
    stored = _stored(session, assignment)
    assert (stored.status, stored.decline_reason) == (
        AssignmentStatus.DECLINED,
        "Akun sedang dinonaktifkan",
    )


def test_declining_without_a_reason_asks_for_one(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/decline", data={"csrf_token": token, "reason": "   "}
    )

    assert response.status_code == 400
    assert _indonesian("Please give a reason for declining.") in html.unescape(response.text)
    assert _stored(session, assignment).status == AssignmentStatus.PENDING


def test_english_reader_gets_the_error_in_english(
    client: TestClient, session: Session, post: Post
) -> None:
    me = _asn(session, post)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/report",
        data={"csrf_token": token, "repost_url": "https://example.com/post/1"},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )

    assert response.status_code == 400
    assert "This is not a X link." in html.unescape(response.text)

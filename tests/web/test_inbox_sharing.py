"""The inbox shares the agency's official post first; outcomes land where the ASN acted.

Issue 13: repost and quote of the official X post before an own post, the official Facebook
post before the campaign link; after a report, decline or feedback the message is next to
the form used (an #outcome anchor in the redirect, data-focus for inbox.js); an ASN's own
decline is not Humas's "Ditolak"; "Tidak terverifikasi" says why.
"""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from assignments.evidence import Reason
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

OFFICIAL_X = "https://x.com/KemkomdigiRI/status/1790000000000000042"
OFFICIAL_FB = "https://www.facebook.com/kemkomdigi/posts/pfbid0abcdefghijkLMNOP"
_OUTCOME = re.compile(
    r'<p id="outcome" class="flash outcome" role="status" tabindex="-1" data-focus>'
)


@pytest.fixture
def post(session: Session) -> Post:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    return make_post(session, campaign, author, status=PostStatus.DISPATCHED)


@pytest.fixture
def me(session: Session, post: Post) -> Asn:
    campaign = session.get(Campaign, post.campaign_id)
    assert campaign is not None
    agency = session.get(Agency, campaign.agency_id)
    assert agency is not None
    return make_asn(session, make_unit(session, agency))


def _indonesian(msgid: str) -> str:
    with use_locale("id"):
        text = gettext(msgid)
    assert text != msgid, f"no Indonesian translation for {msgid!r}"
    return text


def _with_official(session: Session, post: Post, **urls: str) -> None:
    for platform, url in urls.items():
        setattr(post, f"official_url_{platform}", url)
    session.add(post)
    session.commit()


def _page(client: TestClient, assignment: Assignment) -> str:
    response = client.get(f"/inbox/{assignment.id}")
    assert response.status_code == 200
    return html.unescape(response.text)


def test_x_with_an_official_post_offers_repost_quote_then_own_post(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    _with_official(session, post, x=OFFICIAL_X)
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)

    text = _page(client, assignment)

    repost = text.index("https://x.com/intent/retweet?tweet_id=1790000000000000042")
    quote = text.index("https://x.com/intent/post?url=https%3A%2F%2Fx.com%2FKemkomdigiRI%2F")
    own = text.index("https://twitter.com/intent/tweet?text=")
    assert repost < quote < own
    assert "Setelah repost, Anda tidak perlu menempel tautan; kami memeriksanya otomatis" in text
    assert text.index(_indonesian("Repost on X")) < text.index(_indonesian("Quote on X"))
    assert text.index(_indonesian("Quote on X")) < text.index(_indonesian("Post your own on X"))


def test_x_without_an_official_post_offers_only_the_own_post(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)

    text = _page(client, assignment)

    assert "https://twitter.com/intent/tweet?text=" in text
    assert "intent/retweet" not in text
    assert "intent/post" not in text
    assert "memeriksanya otomatis" not in text
    assert _indonesian("Post on X") in text


def test_facebook_shares_the_official_post_before_the_campaign_link(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    _with_official(session, post, facebook=OFFICIAL_FB)
    assignment = make_assignment(session, post, me, "facebook")
    login_asn(client, me)

    text = _page(client, assignment)

    official = text.index("sharer.php?u=https%3A%2F%2Fwww.facebook.com%2Fkemkomdigi%2Fposts%2F")
    campaign = text.index(f"sharer.php?u=http%3A%2F%2Ftestserver%2Fr%2F{assignment.code}")
    assert official < campaign
    assert "intent/retweet" not in text


def _handle(session: Session, asn: Asn, platform: str) -> str:
    query = select(SocialAccount.handle).where(
        SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
    )
    return session.exec(query).one()


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def test_a_report_answers_next_to_the_report_form_with_anchor_and_focus(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")
    url = f"https://x.com/{_handle(session, me, 'x')}/status/1790000000000000001"

    response = client.post(
        f"/inbox/{assignment.id}/report",
        data={"csrf_token": token, "repost_url": url},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/inbox/{assignment.id}#outcome"

    page = client.get(response.headers["location"]).text
    report = _section(page, '<section id="report"', "</section>")
    assert _OUTCOME.search(report)
    assert "Terima kasih" in report
    assert len(_OUTCOME.findall(page)) == 1
    assert page.count("data-focus") == 1
    assert '<p class="flash" role="status">' not in page  # not at the top of the page


def test_a_decline_answers_where_the_decline_form_was(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/decline",
        data={"csrf_token": token, "reason": "Akun sedang dinonaktifkan"},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/inbox/{assignment.id}#outcome"

    page = html.unescape(client.get(response.headers["location"]).text)
    decline = _section(page, '<section id="decline"', "</section>")
    assert _OUTCOME.search(decline)
    assert _indonesian("You declined this assignment.") in decline
    assert "Akun sedang dinonaktifkan" in decline
    assert page.count(_indonesian("You declined this assignment.")) == 1


def test_feedback_answers_in_the_feedback_section(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/feedback",
        data={"csrf_token": token, "text": "Kapan pendaftarannya dibuka?", "link": ""},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/inbox/{assignment.id}#outcome"

    page = client.get(response.headers["location"]).text
    feedback = _section(page, '<section id="feedback"', "</section>")
    assert _OUTCOME.search(feedback)
    assert page.count("data-focus") == 1


def test_a_refused_report_focuses_the_error_at_the_form(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    assignment = make_assignment(session, post, me, "x")
    login_asn(client, me)
    token = csrf_from(client, f"/inbox/{assignment.id}")

    response = client.post(
        f"/inbox/{assignment.id}/report",
        data={"csrf_token": token, "repost_url": "https://x.com/stranger/status/42"},
    )

    assert response.status_code == 400
    assert 'id="repost-error" class="error" role="alert" tabindex="-1" data-focus' in response.text
    assert response.text.count("data-focus") == 1


def test_an_asns_own_decline_is_not_labelled_like_a_humas_rejection(
    client: TestClient, session: Session, post: Post, me: Asn
) -> None:
    assignment = make_assignment(session, post, me, "x")
    assignment.status = AssignmentStatus.DECLINED
    assignment.decline_reason = "Sakit"
    session.add(assignment)
    session.commit()
    login_asn(client, me)

    listed = html.unescape(client.get("/inbox").text)
    opened = _page(client, assignment)

    for text in (listed, opened):
        assert "Anda menolak" in text
        assert "Ditolak" not in text


@pytest.mark.parametrize(
    ("reason", "msgid"),
    [
        (Reason.DELETED, "Your repost was deleted, so it could not be verified."),
        (
            Reason.WRONG_AUTHOR,
            "The link is from another account, not the one you enrolled for this platform.",
        ),
        (Reason.NOT_A_REPOST, "The post does not repost, quote or share the campaign post."),
        (None, "We could not confirm your repost."),
    ],
)
def test_not_verified_says_why(
    client: TestClient,
    session: Session,
    post: Post,
    me: Asn,
    reason: Reason | None,
    msgid: str,
) -> None:
    assignment = make_assignment(session, post, me, "x")
    assignment.status = AssignmentStatus.REJECTED
    assignment.repost_url = "https://x.com/someone/status/1"
    assignment.rejection_reason = reason
    session.add(assignment)
    session.commit()
    login_asn(client, me)

    text = _page(client, assignment)

    assert "Tidak terverifikasi" in text
    assert _indonesian(msgid) in text

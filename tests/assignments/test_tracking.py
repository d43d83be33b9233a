"""Tracking links: where a code leads, and what a click records."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from assignments.models import Click
from assignments.tracking import record_click, resolve, source_from_referer
from content.models import PostStatus
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


@pytest.mark.parametrize(
    ("referer", "source"),
    [
        ("https://t.co/AbCdEf123", "x"),
        ("https://x.com/", "x"),
        ("https://mobile.twitter.com/kominfo/status/1", "x"),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fgaung", "facebook"),
        ("https://lm.facebook.com/", "facebook"),
        ("https://m.facebook.com/story.php", "facebook"),
        ("https://fb.com/", "facebook"),
        ("https://l.instagram.com/?u=x", "instagram"),
        ("https://www.instagram.com/", "instagram"),
        ("https://www.google.com/search?q=umkm", ""),
        ("https://notfacebook.com/", ""),
        ("https://facebook.com.evil.example/", ""),
        ("http://[broken", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_the_source_is_inferred_from_the_referer(referer: str | None, source: str) -> None:
    assert source_from_referer(referer) == source


def test_resolve_finds_the_assignment_and_the_post_link(session: Session) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    post = make_post(
        session, campaign, author, status=PostStatus.DISPATCHED, link="https://a.go.id/b"
    )
    assignment = make_assignment(session, post, make_asn(session, make_unit(session, agency)))

    found = resolve(session, assignment.code)

    assert found is not None
    assert found[0].id == assignment.id
    assert found[1] == "https://a.go.id/b"


def test_resolve_returns_none_for_unknown_codes_and_linkless_posts(session: Session) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency), author, link=None)
    assignment = make_assignment(session, post, make_asn(session, make_unit(session, agency)))

    assert resolve(session, "no-such-code") is None
    assert resolve(session, "") is None
    assert resolve(session, "x" * 500) is None
    assert resolve(session, assignment.code) is None


def test_a_click_records_its_source_and_campaign_and_no_ip(session: Session) -> None:
    agency = make_agency(session)
    author = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency), author)
    assignment = make_assignment(session, post, make_asn(session, make_unit(session, agency)))

    record_click(session, assignment, "https://t.co/xyz")
    record_click(session, assignment, None)

    clicks = session.exec(select(Click).order_by(col(Click.id))).all()
    assert [(c.assignment_id, c.campaign_id, c.source) for c in clicks] == [
        (assignment.id, post.campaign_id, "x"),
        (assignment.id, post.campaign_id, ""),
    ]
    assert set(Click.__table__.columns.keys()) == {  # type: ignore[attr-defined]
        "id",
        "assignment_id",
        "campaign_id",
        "at",
        "source",
        "clicker",  # a keyed, daily-salted hash: tests/web/test_tracking_visitors.py
    }

"""The ASN's actions on an assignment: report a repost link, decline, list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from assignments.models import Assignment, AssignmentStatus
from assignments.reporting import decline, get_for_asn, list_for_asn, report_repost
from content.models import Post, PostStatus
from gaung.errors import GaungError, NotFoundError
from roster.models import Asn, SocialAccount
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


@pytest.fixture
def post(session: Session) -> Post:
    agency = make_agency(session)
    author = make_user(session, agency)
    return make_post(session, make_campaign(session, agency), author, status=PostStatus.DISPATCHED)


def _asn(session: Session, post: Post, followers: int = 1000) -> Asn:
    unit = make_unit(session, make_agency(session))
    return make_asn(session, unit, followers=followers)


def _handle(session: Session, asn: Asn, platform: str = "x") -> str:
    query = select(SocialAccount.handle).where(
        SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
    )
    return session.exec(query).one()


def _x_link(handle: str, status_id: int = 1790000000000000001) -> str:
    return f"https://x.com/{handle}/status/{status_id}?s=20"


def test_report_records_the_link_and_the_followers_at_that_moment(
    session: Session, post: Post
) -> None:
    asn = _asn(session, post, followers=1234)
    assignment = make_assignment(session, post, asn, "x")
    url = "  " + _x_link(_handle(session, asn).upper()) + " "

    reported = report_repost(session, asn, assignment.id or 0, url)

    session.expire_all()
    stored = session.get(Assignment, assignment.id)
    assert stored is not None
    assert stored.status == AssignmentStatus.REPORTED
    assert stored.repost_url == url.strip()
    assert stored.repost_key == "x:1790000000000000001"
    assert stored.followers_at_report == 1234
    assert stored.reported_at is not None
    assert reported.id == stored.id


def test_an_asn_cannot_touch_another_asns_assignment(session: Session, post: Post) -> None:
    owner, other = _asn(session, post), _asn(session, post)
    assignment = make_assignment(session, post, owner, "x")
    assert assignment.id is not None

    with pytest.raises(NotFoundError):
        report_repost(session, other, assignment.id, _x_link(_handle(session, other)))
    with pytest.raises(NotFoundError):
        decline(session, other, assignment.id, "Tidak sempat")
    with pytest.raises(NotFoundError):
        get_for_asn(session, other, assignment.id)
    session.expire_all()
    untouched = session.get(Assignment, assignment.id)
    assert untouched is not None
    assert untouched.status == AssignmentStatus.PENDING
    assert untouched.repost_url is None


def test_a_foreign_assignment_looks_exactly_like_a_missing_one(
    session: Session, post: Post
) -> None:
    owner, other = _asn(session, post), _asn(session, post)
    assignment = make_assignment(session, post, owner, "x")
    assert assignment.id is not None
    with pytest.raises(NotFoundError) as foreign:
        get_for_asn(session, other, assignment.id)
    with pytest.raises(NotFoundError) as missing:
        get_for_asn(session, other, assignment.id + 1000)
    assert foreign.value.message == missing.value.message


def test_a_link_from_the_wrong_platform_is_refused(session: Session, post: Post) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "instagram")
    with pytest.raises(GaungError) as caught:
        report_repost(session, asn, assignment.id or 0, _x_link(_handle(session, asn)))
    assert caught.value.message == "This is not a %(platform)s link."
    assert caught.value.params == {"platform": "Instagram"}


def test_a_link_from_someone_elses_account_names_both_accounts(
    session: Session, post: Post
) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "x")
    with pytest.raises(GaungError) as caught:
        report_repost(session, asn, assignment.id or 0, _x_link("@someone_else".lstrip("@")))
    assert caught.value.message == (
        "This link belongs to @%(found)s, not your enrolled account @%(expected)s."
    )
    assert caught.value.params == {"found": "someone_else", "expected": _handle(session, asn)}
    assert caught.value.field == "repost_url"


def test_a_malformed_link_is_refused_and_nothing_is_saved(session: Session, post: Post) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "x")
    with pytest.raises(GaungError) as caught:
        report_repost(session, asn, assignment.id or 0, "sudah saya repost, pak")
    assert caught.value.message == "This is not a valid link."
    session.expire_all()
    stored = session.get(Assignment, assignment.id)
    assert stored is not None
    assert stored.status == AssignmentStatus.PENDING


def test_a_link_already_reported_for_another_assignment_is_refused(
    session: Session, post: Post
) -> None:
    first, second = _asn(session, post), _asn(session, post)
    mine = make_assignment(session, post, first, "x")
    theirs = make_assignment(session, post, second, "x")
    report_repost(session, first, mine.id or 0, _x_link(_handle(session, first), 42))

    # The handle-less form of the same status: only the key can catch it.
    with pytest.raises(GaungError) as caught:
        report_repost(session, second, theirs.id or 0, "https://x.com/i/web/status/42")
    assert caught.value.message == (
        "This repost link has already been reported for another assignment."
    )


def test_a_reported_link_can_be_corrected_before_verification(session: Session, post: Post) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "x")
    handle = _handle(session, asn)
    report_repost(session, asn, assignment.id or 0, _x_link(handle, 41))
    again = report_repost(session, asn, assignment.id or 0, _x_link(handle, 41))
    assert again.repost_key == "x:41"  # its own key is not "already reported"
    corrected = report_repost(session, asn, assignment.id or 0, _x_link(handle, 43))
    assert corrected.repost_key == "x:43"
    assert corrected.status == AssignmentStatus.REPORTED


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (AssignmentStatus.PENDING, True),
        (AssignmentStatus.REJECTED, True),
        (AssignmentStatus.VERIFIED, False),
        (AssignmentStatus.DECLINED, False),
        (AssignmentStatus.EXPIRED, False),
    ],
)
def test_reporting_is_open_until_verified_declined_or_expired(
    session: Session, post: Post, status: str, allowed: bool
) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "x")
    assignment.status = status
    assignment.deadline = assignment.created_at - timedelta(hours=1)  # late reports are fine
    session.add(assignment)
    session.commit()
    link = _x_link(_handle(session, asn))
    if allowed:
        assert report_repost(session, asn, assignment.id or 0, link).status == "reported"
    else:
        with pytest.raises(GaungError) as caught:
            report_repost(session, asn, assignment.id or 0, link)
        assert caught.value.message == "This assignment can no longer be reported."


def test_decline_needs_a_reason_of_reasonable_length(session: Session, post: Post) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "facebook")
    with pytest.raises(GaungError) as empty:
        decline(session, asn, assignment.id or 0, "   ")
    assert (empty.value.message, empty.value.field) == (
        "Please give a reason for declining.",
        "reason",
    )
    with pytest.raises(GaungError) as long:
        decline(session, asn, assignment.id or 0, "x" * 501)
    assert long.value.params == {"max": 500}

    declined = decline(session, asn, assignment.id or 0, " Akun sedang dinonaktifkan ")
    assert declined.status == AssignmentStatus.DECLINED
    assert declined.decline_reason == "Akun sedang dinonaktifkan"


def test_a_verified_assignment_cannot_be_declined(session: Session, post: Post) -> None:
    asn = _asn(session, post)
    assignment = make_assignment(session, post, asn, "x")
    assignment.status = AssignmentStatus.VERIFIED
    session.add(assignment)
    session.commit()
    with pytest.raises(GaungError) as caught:
        decline(session, asn, assignment.id or 0, "Berubah pikiran")
    assert caught.value.message == "This assignment can no longer be declined."


def test_the_inbox_lists_only_the_asns_own_assignments_newest_first(
    session: Session, post: Post
) -> None:
    asn, other = _asn(session, post), _asn(session, post)
    older = make_assignment(session, post, asn, "x")
    older.created_at = older.created_at - timedelta(days=1)
    session.add(older)
    session.commit()
    newer = make_assignment(session, post, asn, "facebook")
    make_assignment(session, post, other, "x")

    assert [a.id for a in list_for_asn(session, asn)] == [newer.id, older.id]

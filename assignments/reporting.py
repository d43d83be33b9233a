"""What an ASN does with an assignment: report the repost link, or decline.

Every look-up is scoped to the signed-in ASN, and a foreign assignment answers
exactly like a missing one, so nobody can probe other people's assignment ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, urlsplit

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from assignments.evidence import enqueue_link_check
from assignments.models import Assignment, AssignmentStatus
from content.models import Campaign
from gaung.db import utcnow
from gaung.errors import N_, GaungError, NotFoundError
from gaung.fields import handle_key
from gaung.settings import PLATFORM_NAMES
from gaung.text import clean_text
from kernel import webhooks
from kernel.webhooks import EventType
from roster.models import Asn, SocialAccount

MAX_URL_LENGTH = 500  # Assignment.repost_url column size
MAX_REASON_LENGTH = 500  # Assignment.decline_reason column size

# Hosts per platform, after lower-casing and dropping a leading "www.".
_HOSTS = {
    "x": {"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com"},
    "instagram": {"instagram.com", "m.instagram.com"},
    "facebook": {
        "facebook.com",
        "m.facebook.com",
        "web.facebook.com",
        "mbasic.facebook.com",
        "touch.facebook.com",
        "fb.com",
        "m.fb.com",
    },
}
_REPORTABLE = {AssignmentStatus.PENDING, AssignmentStatus.REPORTED, AssignmentStatus.REJECTED}
_DECLINABLE = {AssignmentStatus.PENDING, AssignmentStatus.REJECTED}

_X_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")
_X_ID = re.compile(r"[0-9]{1,25}")
_IG_HANDLE = re.compile(r"[A-Za-z0-9._]{1,30}")
_IG_CODE = re.compile(r"[A-Za-z0-9_-]{5,60}")
_IG_KINDS = {"p", "reel", "reels", "tv"}
_FB_HANDLE = re.compile(r"[A-Za-z0-9.]{1,80}")
_FB_ID = re.compile(r"(?:[0-9]{1,30}|pfbid[A-Za-z0-9]{10,80})")
_FB_TOKEN = re.compile(r"[A-Za-z0-9_-]{4,60}")


@dataclass(frozen=True)
class RepostRef:
    """A repost's canonical identity (``key``) and the account in its URL, if any."""

    key: str
    handle: str | None
    post_id: str | None


def parse_repost_url(platform: str, url: str) -> RepostRef:
    """Recognise a repost link for ``platform``; query strings and fragments are ignored.

    Raises GaungError(field="repost_url") with a message saying what is wrong.
    """
    if platform not in _HOSTS:
        raise ValueError(f"unknown platform {platform!r}")
    parts = _split(url)
    host = (parts.hostname or "").removeprefix("www.")
    if host not in _HOSTS[platform]:
        raise GaungError(
            N_("This is not a %(platform)s link."),
            field="repost_url",
            platform=PLATFORM_NAMES[platform],
        )
    segments = [s for s in parts.path.split("/") if s]
    parsers = {"x": _parse_x, "instagram": _parse_instagram, "facebook": _parse_facebook}
    ref = parsers[platform](segments, parse_qs(parts.query))
    if ref is None:
        raise GaungError(
            N_("This %(platform)s link does not point to a post."),
            field="repost_url",
            platform=PLATFORM_NAMES[platform],
        )
    return ref


def _split(url: str) -> SplitResult:
    """urlsplit with the errors a person can make turned into messages."""
    text = url.strip()
    if not text:
        raise GaungError(N_("Enter the link to your repost."), field="repost_url")
    if len(text) > MAX_URL_LENGTH:
        raise GaungError(N_("This link is too long."), field="repost_url")
    if "://" not in text and re.match(r"^[A-Za-z0-9.-]+\.[A-Za-z]{2,}(/|$)", text):
        # Phones often copy links without the scheme ("x.com/..."): accept them.
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - validates the port; raises ValueError when malformed
    except ValueError:
        raise GaungError(N_("This is not a valid link."), field="repost_url") from None
    if parts.scheme.lower() not in ("http", "https"):
        if parts.scheme and "://" in text:
            raise GaungError(
                N_("The link must start with https:// or http://."), field="repost_url"
            )
        raise GaungError(N_("This is not a valid link."), field="repost_url")
    if not parts.hostname or any(c.isspace() for c in text):
        raise GaungError(N_("This is not a valid link."), field="repost_url")
    return parts


def _parse_x(segments: list[str], _query: dict[str, list[str]]) -> RepostRef | None:
    # {handle}/status/{id}[/photo/1...] and the handle-less i/web/status/{id}.
    if len(segments) >= 4 and segments[:3] == ["i", "web", "status"]:
        handle, kind, post_id = None, "status", segments[3]
    elif len(segments) >= 3 and _X_HANDLE.fullmatch(segments[0]):
        handle, kind, post_id = segments[0].lower(), segments[1], segments[2]
    else:
        return None
    if kind not in ("status", "statuses") or not _X_ID.fullmatch(post_id):
        return None
    post_id = post_id.lstrip("0") or "0"
    return RepostRef(key=f"x:{post_id}", handle=handle, post_id=post_id)


def _parse_instagram(segments: list[str], _query: dict[str, list[str]]) -> RepostRef | None:
    # p|reel|tv/{shortcode} or {handle}/p|reel/{shortcode}; a reel and a post with
    # the same shortcode are the same media, so the key is the shortcode alone.
    handle: str | None = None
    if len(segments) >= 3 and segments[1] in _IG_KINDS and _IG_HANDLE.fullmatch(segments[0]):
        handle, segments = segments[0].lower(), segments[1:]
    if len(segments) < 2 or segments[0] not in _IG_KINDS:
        return None
    code = segments[1]
    if not _IG_CODE.fullmatch(code):
        return None
    return RepostRef(key=f"instagram:{code}", handle=handle, post_id=code)


def _parse_facebook(segments: list[str], query: dict[str, list[str]]) -> RepostRef | None:
    # A story's id is global, so /{handle}/posts/{id} and
    # permalink.php?story_fbid={id} get the same key.
    if len(segments) == 1 and segments[0] in ("permalink.php", "story.php"):
        story = (query.get("story_fbid") or [""])[0]
        if not _FB_ID.fullmatch(story):
            return None
        return RepostRef(key=f"facebook:{story}", handle=None, post_id=story)
    if len(segments) >= 3 and segments[0] == "share" and segments[1] in ("p", "r", "v"):
        token = segments[2]
        if not _FB_TOKEN.fullmatch(token):
            return None
        return RepostRef(key=f"facebook:share:{token}", handle=None, post_id=None)
    if len(segments) >= 3 and segments[1] in ("posts", "videos"):
        handle, post_id = segments[0], segments[2]
        if not _FB_HANDLE.fullmatch(handle) or not _FB_ID.fullmatch(post_id):
            return None
        return RepostRef(key=f"facebook:{post_id}", handle=handle.lower(), post_id=post_id)
    return None


def get_for_asn(session: Session, asn: Asn, assignment_id: int) -> Assignment:
    """The ASN's own assignment; anyone else's is reported as not found."""
    assignment = session.get(Assignment, assignment_id)
    if assignment is None or asn.id is None or assignment.asn_id != asn.id:
        raise NotFoundError(N_("Assignment not found."))
    return assignment


def list_for_asn(session: Session, asn: Asn) -> list[Assignment]:
    """The ASN's assignments, newest first."""
    query = (
        select(Assignment)
        .where(Assignment.asn_id == asn.id)
        .order_by(col(Assignment.created_at).desc(), col(Assignment.id).desc())
    )
    return list(session.exec(query))


def report_repost(session: Session, asn: Asn, assignment_id: int, url: str) -> Assignment:
    """Record the link to the ASN's repost; it waits for verification as REPORTED."""
    assignment = get_for_asn(session, asn, assignment_id)
    if assignment.status not in _REPORTABLE:
        raise GaungError(N_("This assignment can no longer be reported."), field="repost_url")
    ref = parse_repost_url(assignment.platform, url)
    account = _enrolled_account(session, asn, assignment.platform)
    _check_handle(ref, account)
    _check_unused(session, assignment, ref.key)
    assignment.repost_url = url.strip()
    assignment.repost_key = ref.key
    assignment.reported_at = utcnow()
    assignment.followers_at_report = account.followers
    assignment.status = AssignmentStatus.REPORTED
    session.add(assignment)
    try:
        # Same transaction: no report without its check. Enqueueing flushes the report, so a
        # concurrent duplicate link can surface here as well as at commit.
        enqueue_link_check(session, assignment)
        _emit_reported(session, assignment)
        session.commit()
    except IntegrityError:
        # Someone reported the same link between our check and our commit.
        session.rollback()
        raise _reused_link() from None
    session.refresh(assignment)
    return assignment


def _emit_reported(session: Session, assignment: Assignment) -> None:
    """The ``assignment.reported`` webhook event, in the report's transaction."""
    campaign = session.get_one(Campaign, assignment.campaign_id)
    webhooks.emit(
        session,
        campaign.agency_id,
        EventType.ASSIGNMENT_REPORTED,
        {
            "assignment_id": assignment.id,
            "post_id": assignment.post_id,
            "campaign_id": assignment.campaign_id,
            "unit_id": assignment.unit_id,
            "asn_id": assignment.asn_id,
            "platform": assignment.platform,
            "repost_url": assignment.repost_url,
            "reported_at": assignment.reported_at,
        },
    )


def _enrolled_account(session: Session, asn: Asn, platform: str) -> SocialAccount:
    query = select(SocialAccount).where(
        SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
    )
    account = session.exec(query).first()
    if account is None:
        raise GaungError(
            N_("You have no enrolled %(platform)s account."),
            field="repost_url",
            platform=PLATFORM_NAMES.get(platform, platform),
        )
    return account


def _check_handle(ref: RepostRef, account: SocialAccount) -> None:
    if ref.handle is None:
        return  # the link does not name its account; verification decides
    found, expected = handle_key(ref.handle), handle_key(account.handle)
    if found != expected:
        raise GaungError(
            N_("This link belongs to @%(found)s, not your enrolled account @%(expected)s."),
            field="repost_url",
            found=found,
            expected=expected,
        )


def _reused_link() -> GaungError:
    return GaungError(
        N_("This repost link has already been reported for another assignment."),
        field="repost_url",
    )


def _check_unused(session: Session, assignment: Assignment, key: str) -> None:
    query = select(Assignment.id).where(
        Assignment.platform == assignment.platform,
        Assignment.repost_key == key,
        Assignment.id != assignment.id,
    )
    if session.exec(query).first() is not None:
        raise _reused_link()


def decline(session: Session, asn: Asn, assignment_id: int, reason: str) -> Assignment:
    """The ASN says no, with a reason the Humas team can read."""
    assignment = get_for_asn(session, asn, assignment_id)
    reason = clean_text(reason, "reason")
    if not reason:
        raise GaungError(N_("Please give a reason for declining."), field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise GaungError(
            N_("The reason can be at most %(max)s characters."),
            field="reason",
            max=MAX_REASON_LENGTH,
        )
    if assignment.status not in _DECLINABLE:
        raise GaungError(N_("This assignment can no longer be declined."), field="reason")
    assignment.decline_reason = reason
    assignment.status = AssignmentStatus.DECLINED
    session.add(assignment)
    session.commit()
    session.refresh(assignment)
    return assignment

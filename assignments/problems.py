"""Why verification of an official post stopped, kept where Humas can read it.

The jobs in ``scheduler/`` record a problem when verifying or measuring an official post
cannot succeed by retrying (a link of the wrong shape, a refused token, a deleted post, the
attempts used up) and clear it when the same work succeeds again. One row per post,
platform and kind; the post page, the campaign dashboard and the channels page read them.
A problem is about the link it was seen with: once the post's link differs, it is not shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from content.models import Campaign, Post
from gaung import i18n
from gaung.db import utcnow
from gaung.errors import N_
from gaung.settings import PLATFORM_NAMES
from roster.agencies import zone_of
from roster.models import Agency

DETAIL_MAX = 300


class ProblemKind(StrEnum):
    BAD_URL = "bad_url"  # the official link cannot be read as a post of the platform
    AUTH = "auth"  # the platform refused the token (expired, revoked, no permission)
    GONE = "gone"  # the official post was deleted or hidden
    EXHAUSTED = "exhausted"  # every attempt of a job failed


# What went wrong and what to do, per kind (msgids; Indonesian in the catalogue).
MESSAGES = {
    ProblemKind.BAD_URL: N_(
        "The official %(platform)s link of this post is not a link to a post on %(platform)s,"
        " so its reposts cannot be verified. Ask an editor to correct the link of the"
        " official post."
    ),
    ProblemKind.AUTH: N_(
        "The %(platform)s token was refused (expired or without permission): verification"
        " and metrics on %(platform)s are paused. Ask an operator to renew the credentials"
        " under Channels → Credentials."
    ),
    ProblemKind.GONE: N_(
        "The official %(platform)s post can no longer be found (deleted or hidden), so its"
        " reposts cannot be verified or measured. Check the post on %(platform)s and ask an"
        " editor to correct the link."
    ),
    ProblemKind.EXHAUSTED: N_(
        "Verification on %(platform)s failed %(attempts)s times in a row and waits for the"
        " next round. Check the state of %(platform)s under Channels; if it persists, tell"
        " an operator."
    ),
}
# The kinds a successful run of each job proves wrong.
CLEARED_BY_SEARCH = (ProblemKind.BAD_URL, ProblemKind.AUTH, ProblemKind.EXHAUSTED)
CLEARED_BY_MEASURE = tuple(ProblemKind)


class VerificationProblem(SQLModel, table=True):
    """The latest time verifying or measuring one official post hit one kind of problem."""

    __tablename__ = "verification_problem"
    __table_args__ = (UniqueConstraint("post_id", "platform", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id")
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    platform: str = Field(max_length=20)
    kind: str = Field(max_length=20)
    official_url: str | None = Field(default=None, max_length=500)
    detail: str = Field(default="", max_length=DETAIL_MAX)  # the platform's words, for operators
    attempts: int = 1
    first_seen_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)


@dataclass(frozen=True)
class Problem:
    """A problem as a page shows it: the message is a msgid with its parameters."""

    post_id: int
    campaign_id: int
    platform: str
    kind: str
    message: str
    params: dict[str, object]
    detail: str
    since: datetime  # when it began
    where: ZoneInfo  # the agency's zone, in which people read it

    def since_text(self) -> str:
        """E.g. "6 Desember 2026 02.00 WIB"."""
        return i18n.format_datetime(self.since, "d MMMM y HH:mm", self.where)

    def render(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.message) % self.params


def record(
    session: Session,
    post: Post,
    platform: str,
    kind: ProblemKind,
    detail: str = "",
    *,
    attempts: int = 1,
) -> None:
    """Note the problem (once per post, platform and kind) in the caller's transaction."""
    assert post.id is not None
    values = {
        "official_url": post.official_url(platform),
        "detail": detail[:DETAIL_MAX],
        "attempts": attempts,
        "last_seen_at": utcnow(),
    }
    row = _find(session, post.id, platform, kind)
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    VerificationProblem(
                        post_id=post.id,
                        campaign_id=post.campaign_id,
                        platform=platform,
                        kind=kind,
                        **values,  # type: ignore[arg-type]
                    )
                )
            return
        except IntegrityError:  # another worker noted it meanwhile: update theirs
            row = _find(session, post.id, platform, kind)
            if row is None:
                return
    if row.official_url != values["official_url"]:
        row.first_seen_at = utcnow()
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)


def clear(session: Session, post_id: int, platform: str, kinds: tuple[ProblemKind, ...]) -> None:
    """The work succeeded again: these problems are over."""
    session.execute(
        delete(VerificationProblem).where(
            col(VerificationProblem.post_id) == post_id,
            col(VerificationProblem.platform) == platform,
            col(VerificationProblem.kind).in_([str(k) for k in kinds]),
        )
    )


def clear_refused_tokens(session: Session, platforms: list[str]) -> None:
    """New credentials were saved: refused-token problems wait for the next run to recur."""
    session.execute(
        delete(VerificationProblem).where(
            col(VerificationProblem.kind) == ProblemKind.AUTH,
            col(VerificationProblem.platform).in_(platforms),
        )
    )


def for_post(session: Session, post: Post) -> list[Problem]:
    return _current(
        session, select(VerificationProblem).where(VerificationProblem.post_id == post.id)
    )


def for_campaign(session: Session, campaign_id: int) -> list[Problem]:
    query = select(VerificationProblem).where(VerificationProblem.campaign_id == campaign_id)
    return _current(session, query)


def for_agency(session: Session, agency_id: int) -> list[Problem]:
    query = (
        select(VerificationProblem)
        .join(Campaign, col(Campaign.id) == col(VerificationProblem.campaign_id))
        .where(Campaign.agency_id == agency_id)
    )
    return _current(session, query)


def _find(session: Session, post_id: int, platform: str, kind: str) -> VerificationProblem | None:
    return session.exec(
        select(VerificationProblem).where(
            VerificationProblem.post_id == post_id,
            VerificationProblem.platform == platform,
            VerificationProblem.kind == kind,
        )
    ).first()


def _current(session: Session, query: SelectOfScalar[VerificationProblem]) -> list[Problem]:
    """Problems whose link is still the post's link, newest first."""
    rows = list(session.exec(query))
    campaigns = {r.campaign_id for r in rows}
    agencies = {
        campaign_id: agency
        for campaign_id, agency in session.exec(
            select(Campaign.id, Agency)
            .join(Agency, col(Agency.id) == col(Campaign.agency_id))
            .where(col(Campaign.id).in_(campaigns))
        )
    }
    posts = {
        p.id: p
        for p in session.exec(select(Post).where(col(Post.id).in_({r.post_id for r in rows})))
    }
    found = []
    for row in rows:
        post = posts.get(row.post_id)
        if post is None or post.official_url(row.platform) != row.official_url:
            continue  # the link was corrected since: the problem was about the old one
        name = PLATFORM_NAMES.get(row.platform, row.platform)
        found.append(
            Problem(
                post_id=row.post_id,
                campaign_id=row.campaign_id,
                platform=row.platform,
                kind=row.kind,
                message=MESSAGES[ProblemKind(row.kind)],
                params={"platform": name, "attempts": row.attempts},
                detail=row.detail,
                since=row.first_seen_at,
                where=zone_of(agencies.get(row.campaign_id)),
            )
        )
    return sorted(found, key=lambda p: p.since, reverse=True)

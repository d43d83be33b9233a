"""Personal tracking links (/r/{code}): find where to send the visitor, count the click.

No IP address or user agent is stored; only when, for which assignment, and
which platform the visitor came from.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session, select

from assignments.models import Assignment, Click
from content.models import Post

MAX_CODE_LENGTH = 32  # Assignment.code column size

# Referer host suffixes per platform (t.co is X's link shortener; l./lm. are
# Facebook's and Instagram's outbound-link redirectors, covered by the suffix).
_REFERER_DOMAINS = (
    ("x", ("t.co", "x.com", "twitter.com")),
    ("facebook", ("facebook.com", "fb.com")),
    ("instagram", ("instagram.com",)),
)


def resolve(session: Session, code: str) -> tuple[Assignment, str] | None:
    """The assignment behind a code and the post link to redirect to, else None."""
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    query = (
        select(Assignment, Post.link)
        .join(Post, Post.id == Assignment.post_id)  # type: ignore[arg-type]
        .where(Assignment.code == code)
    )
    row = session.exec(query).first()
    if row is None or not row[1]:
        return None
    return row[0], row[1]


def source_from_referer(referer: str | None) -> str:
    """ "x", "facebook", "instagram", or "" when the referer is absent or elsewhere."""
    if not referer:
        return ""
    try:
        host = (urlsplit(referer.strip()).hostname or "").lower()
    except ValueError:
        return ""
    for platform, domains in _REFERER_DOMAINS:
        if any(host == d or host.endswith("." + d) for d in domains):
            return platform
    return ""


def record_click(session: Session, assignment: Assignment, referer: str | None) -> Click:
    """Count one visit. The only place clicks are written, so it can be batched later."""
    assert assignment.id is not None
    click = Click(
        assignment_id=assignment.id,
        campaign_id=assignment.campaign_id,
        source=source_from_referer(referer),
    )
    session.add(click)
    session.commit()
    session.refresh(click)
    return click

"""The text of an assignment, rendered when read instead of stored in every row.

Every assignment of a post on a platform with the same variant has the same text but for
its tracking URL, so the text is the post's rendition for (platform, variant) with the
placeholder (content.rendering.TRACKING_PLACEHOLDER) and the personal URL put in. The
rendition is cached per (post, its last change, platform, variant): a page of assignments
renders each text once, and an edit to the post (which changes ``updated_at``) is never
served from the cache.

It is the same function the dispatcher used to store the text (scheduler.dispatch), so the
text read is the text sent; what could differ is only what the rendition reads at that
moment: the agency's disclosure tag and ``base_url`` as they are now.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from assignments.models import Assignment
from content import variants
from content.models import Campaign, Post
from content.rendering import (
    TRACKING_PLACEHOLDER,
    disclosure_tag_for,
    fill_tracking_url,
    platform_texts,
    render,
)
from gaung.settings import get_settings
from roster.models import Agency


def tracking_url(code: str) -> str:
    """The personal tracking URL of an assignment code (``/r/{code}``)."""
    return f"{get_settings().base_url.rstrip('/')}/r/{code}"


def renditions(session: Session, post: Post, platform: str) -> list[tuple[int, str]]:
    """The platform's approved renditions of the post as (position, text), the tracking URL
    the placeholder: what the dispatcher hands out round robin."""
    campaign = session.get_one(Campaign, post.campaign_id)
    agency = session.get_one(Agency, campaign.agency_id)
    own = variants.load(session, post.id)
    return [
        (
            position,
            render(
                post,
                platform,
                kind=campaign.kind,
                disclosure_tag=disclosure_tag_for(agency),
                tracking_url=TRACKING_PLACEHOLDER,
                text=text,
            ),
        )
        for position, text in platform_texts(post, platform, own)
    ]


_store: dict[tuple[int, datetime, str, int, str], str] = {}
_STORE_MAX = 4096


def rendition(session: Session, post: Post, platform: str, variant: int) -> str:
    """The post's text for (platform, variant) with the tracking placeholder, cached."""
    campaign = session.get_one(Campaign, post.campaign_id)
    agency = session.get_one(Agency, campaign.agency_id)
    key = (post.id or 0, post.updated_at, platform, variant, disclosure_tag_for(agency))
    found = _store.get(key)
    if found is None:
        texts = dict(renditions(session, post, platform))
        found = texts.get(variant, texts[0])
        if len(_store) >= _STORE_MAX:
            _store.clear()
        _store[key] = found
    return found


def assignment_text(session: Session, assignment: Assignment, post: Post | None = None) -> str:
    """What the ASN posts: the rendition of the assignment's variant, their tracking URL in."""
    post = post or session.get_one(Post, assignment.post_id)
    text = rendition(session, post, assignment.platform, assignment.variant)
    return fill_tracking_url(text, tracking_url(assignment.code))

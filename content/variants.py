"""A post's own texts per platform (content.models.PostVariant): reading and replacing them.

Position 0 is the platform's own text (instead of the master text), 1..5 alternative
captions. Every one is written by a person and approved with the post; nothing here
writes text. The rules for what may be stored are in content.workflow.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete
from sqlmodel import Session, col, select

from content.models import PostVariant

MAX_ALTERNATIVES = 5


def load(session: Session, post_id: int | None) -> dict[str, dict[int, str]]:
    """{platform: {position: text}} of a post; {} for none (or an unsaved post)."""
    found: dict[str, dict[int, str]] = {}
    if post_id is None:
        return found
    rows = session.exec(
        select(PostVariant)
        .where(PostVariant.post_id == post_id)
        .order_by(col(PostVariant.platform), col(PostVariant.position))
    )
    for row in rows:
        found.setdefault(row.platform, {})[row.position] = row.text
    return found


def replace(session: Session, post_id: int, texts: Mapping[str, Mapping[int, str]]) -> None:
    """Make the post's stored texts exactly ``texts`` (no commit)."""
    session.execute(delete(PostVariant).where(col(PostVariant.post_id) == post_id))
    session.add_all(
        PostVariant(post_id=post_id, platform=platform, position=position, text=text)
        for platform, by_position in texts.items()
        for position, text in by_position.items()
    )


def own_texts(texts: Mapping[str, Mapping[int, str]]) -> dict[str, str | None]:
    """{platform: own text or None} for the API and the form."""
    return {platform: by_position.get(0) for platform, by_position in texts.items()}


def alternatives(texts: Mapping[str, Mapping[int, str]]) -> dict[str, list[str]]:
    """{platform: [alternative 1, 2, ...]} for the API and the form."""
    return {
        platform: [text for position, text in sorted(by_position.items()) if position > 0]
        for platform, by_position in texts.items()
    }

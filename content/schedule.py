"""When a post goes out: its dispatch work item, queued in the approving transaction.

The ``dispatch`` job (scheduler.dispatch) runs it; this side only names and queues it, so
the workflow never imports the jobs that act on its decisions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session

from content.models import Post
from gaung.db import utcnow
from kernel import queue
from kernel.models import WorkItem, WorkStatus

DISPATCH = "dispatch"


def dispatch_key(post_id: int) -> str:
    """Idempotency key of a post's dispatch work item."""
    return f"dispatch:post:{post_id}"


def schedule_dispatch(session: Session, post: Post, run_at: datetime | None = None) -> WorkItem:
    """Queue the post's dispatch (once) for ``run_at``, default its scheduled time or now.

    Joins the caller's transaction, e.g. the one that approves the post.
    """
    assert post.id is not None
    return queue.enqueue(
        session,
        kind=DISPATCH,
        key=dispatch_key(post.id),
        payload={"post_id": post.id},
        run_at=run_at or post.scheduled_at or utcnow(),
    )


def cancel_dispatch(session: Session, post_id: int) -> bool:
    """Cancel the post's queued dispatch in the caller's transaction; True if one was queued.

    A dispatch already running is left alone: the dispatcher flips the post's status with a
    conditional UPDATE and skips a post that is no longer approved.
    """
    table = WorkItem.__table__  # type: ignore[attr-defined]
    result = session.connection().execute(
        update(table)
        .where(table.c.key == dispatch_key(post_id), table.c.status == WorkStatus.QUEUED)
        .values(status=WorkStatus.CANCELLED, finished_at=utcnow(), lease_until=None)
    )
    return bool(result.rowcount)

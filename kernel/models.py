"""The work queue: a row per side effect, claimed with a lease."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from gaung.db import utcnow


class WorkStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # no longer wanted (e.g. a withdrawn post's dispatch)


class WorkItem(SQLModel, table=True):
    __tablename__ = "work_item"
    __table_args__ = (Index("ix_work_item_due", "status", "run_at"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    # Idempotency key: enqueueing the same side effect twice is a no-op.
    key: str = Field(unique=True, max_length=200)
    payload: str = Field(default="{}", max_length=4000)  # JSON
    status: str = Field(default=WorkStatus.QUEUED, max_length=20)
    run_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    lease_until: datetime | None = None
    worker: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=4000)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

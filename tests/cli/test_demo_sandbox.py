"""`gaung demo` + `serve --sandbox`: the real verify jobs and the real messengers, over HTTP
and SMTP, against the local sandbox (its fake platforms and its mail catcher)."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.evidence import Check, Evidence, Outcome
from assignments.models import Assignment, AssignmentStatus
from assignments.reach import campaign_reach
from channels import sandbox
from channels.sandbox.server import SandboxServer, configure
from channels.sandbox.state import World
from cli.demo import seed
from content.models import Post, PostStatus
from gaung.db import session_scope
from gaung.settings import get_settings
from kernel.jobs import run_due
from kernel.outbox import OutboxMessage, OutboxStatus
from roster.models import Asn, AsnStatus
from scheduler.deliver import deliver_due


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _taken(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.fixture
def sandboxed(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxServer]:
    """Settings as `gaung serve --sandbox` makes them, and the sandbox following the test DB."""
    monkeypatch.setenv("GAUNG_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("GAUNG_SANDBOX__ENABLED", "true")
    port = _free_port()
    while _taken(port + 1):  # the mail catcher listens next door
        port = _free_port()
    monkeypatch.setenv("GAUNG_SANDBOX__PORT", str(port))
    for name in ("X__BEARER_TOKEN", "GRAPH__ACCESS_TOKEN", "GRAPH__IG_USER_ID", "SMTP__USERNAME"):
        monkeypatch.delenv(f"GAUNG_{name}", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    world = configure(World(), settings, db)
    server = SandboxServer(world, settings.sandbox.port, settings.sandbox.mail_port).start()
    try:
        yield server
    finally:
        server.stop()
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.mark.slow
def test_demo_reposts_are_verified_with_evidence_against_the_sandbox(
    db: Engine, session: Session, sandboxed: SandboxServer
) -> None:
    with session_scope() as demo:
        seed(demo)

    run_due(db, "test-worker", limit=1000)  # one pass: link checks and the first search rounds

    evidence = session.exec(select(Evidence)).all()
    seen = Counter((e.check, e.outcome) for e in evidence)
    statuses = Counter(session.exec(select(Assignment.platform, Assignment.status)).all())
    assert sandbox.sandboxed("x")
    assert seen[(Check.X_SEARCH, Outcome.VERIFIED)] > 0  # ASN who reposted without reporting
    assert seen[(Check.X_LOOKUP, Outcome.VERIFIED)] > 0  # reported links, fetched one by one
    assert statuses[("x", AssignmentStatus.VERIFIED)] > statuses[("x", AssignmentStatus.PENDING)]
    # Facebook profiles and handle-less Instagram links stay "reported, unverified".
    assert seen[(Check.FACEBOOK_GRAPH, Outcome.UNVERIFIABLE)] > 0
    assert statuses[("facebook", AssignmentStatus.VERIFIED)] == 0
    verified = session.exec(
        select(Evidence).where(Evidence.check == Check.X_SEARCH, Evidence.outcome == "verified")
    ).first()
    assert verified is not None
    assert verified.platform_post_id
    assert verified.url
    assert verified.url.startswith("https://x.com/")


@pytest.mark.slow
def test_every_demo_message_is_delivered_to_the_sandbox_and_e_mail_to_its_mailbox(
    db: Engine, session: Session, sandboxed: SandboxServer
) -> None:
    with session_scope() as demo:
        seed(demo)
    telegram = session.exec(select(Asn).where(Asn.messenger == "telegram")).all()
    assert telegram
    assert all(asn.telegram_chat_id for asn in telegram)  # linked, so notices can go out

    while deliver_due(db, "test-worker", limit=500):
        pass

    outcomes = Counter(session.exec(select(OutboxMessage.messenger, OutboxMessage.status)).all())
    assert outcomes, "the demo queued no message"
    assert {status for _messenger, status in outcomes} == {OutboxStatus.SENT}, outcomes
    assert outcomes[("email", OutboxStatus.SENT)] > 0
    assert outcomes[("telegram", OutboxStatus.SENT)] > 0
    assert outcomes[("whatsapp", OutboxStatus.SENT)] > 0
    mailbox = httpx.get(f"{sandboxed.url}/sandbox/mail")
    assert mailbox.status_code == 200
    first = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.messenger == "email")
        .order_by(col(OutboxMessage.id))
    ).first()
    assert first is not None
    assert first.recipient is not None
    assert first.recipient in mailbox.text
    assert "/sandbox/mail/1" in mailbox.text
    opened = httpx.get(f"{sandboxed.url}/sandbox/mail/1")
    assert "/inbox/login/" in opened.text  # the notice's sign-in link, clickable
    page = httpx.get(f"{sandboxed.url}/sandbox").text  # Telegram and WhatsApp sends
    # The sandbox's Telegram knows whose chat it is.
    assert any(f"<td>{asn.name} ({asn.telegram_chat_id})</td>" in page for asn in telegram)


@pytest.mark.slow
def test_demo_reports_come_minutes_to_hours_after_dispatch_and_some_decline(
    db: Engine, session: Session, sandboxed: SandboxServer
) -> None:
    with session_scope() as demo:
        seed(demo)

    dispatched = session.exec(select(Post).where(Post.status == PostStatus.DISPATCHED)).all()
    assert len(dispatched) == 3  # two of Kominfo's, and East Java's copy of the hoax one
    for post in dispatched:
        assert post.dispatched_at == post.scheduled_at  # went out at its time, hours ago
        reach = campaign_reach(session, post.campaign_id)
        median = reach.total.median_repost_seconds
        assert median is not None
        assert timedelta(minutes=10) < timedelta(seconds=median) < timedelta(hours=3)
        reports = session.exec(
            select(Assignment).where(
                Assignment.post_id == post.id,
                Assignment.reported_at.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
        assert all(a.reported_at is not None and a.reported_at > a.created_at for a in reports)
        assert min(a.created_at for a in reports) == post.dispatched_at
    declined = session.exec(
        select(Assignment).where(Assignment.status == AssignmentStatus.DECLINED)
    ).all()
    assert declined
    assert all(a.decline_reason for a in declined)
    suspended = session.exec(select(Asn).where(Asn.status == AsnStatus.SUSPENDED)).all()
    assert len(suspended) == 1

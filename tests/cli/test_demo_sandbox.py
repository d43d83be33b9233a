"""`gaung demo` + `serve --sandbox`: the real verify jobs, over HTTP, against the local sandbox."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments.evidence import Check, Evidence, Outcome
from assignments.models import Assignment, AssignmentStatus
from channels import sandbox
from channels.sandbox.server import SandboxServer, configure
from channels.sandbox.state import World
from cli.demo import seed
from gaung.db import session_scope
from gaung.settings import get_settings
from kernel.jobs import run_due


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sandboxed(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxServer]:
    """Settings as `gaung serve --sandbox` makes them, and the sandbox following the test DB."""
    monkeypatch.setenv("GAUNG_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("GAUNG_SANDBOX__ENABLED", "true")
    monkeypatch.setenv("GAUNG_SANDBOX__PORT", str(_free_port()))
    for name in ("X__BEARER_TOKEN", "GRAPH__ACCESS_TOKEN", "GRAPH__IG_USER_ID"):
        monkeypatch.delenv(f"GAUNG_{name}", raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    server = SandboxServer(configure(World(), settings, db), settings.sandbox.port).start()
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

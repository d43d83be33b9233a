"""`make demo PORT=…` as a newcomer runs it: `gaung demo --port P`, then `gaung serve --sandbox
--port P`, in real processes. Every printed link answers on P; the sandbox moves with it; a
second `gaung demo` keeps the data."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gaung.settings import PROJECT_ROOT

SANDBOX_OFFSET = 765  # cli.main: port 8000 → sandbox 8765
GAUNG = (sys.executable, "-c", "from cli.main import app; app()")  # the `gaung` script


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _demo_port() -> int:
    """A web port whose sandbox (port + 765) and mail catcher (+ 766) are free too."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + SANDBOX_OFFSET + 1 < 65536 and all(
            _free(p) for p in (port + SANDBOX_OFFSET, port + SANDBOX_OFFSET + 1)
        ):
            return port
    pytest.skip("no free port triple for the demo")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GAUNG_") or k in ("GAUNG_SECRET_KEY",)
    }
    env |= {
        "GAUNG_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "GAUNG_MEDIA_DIR": str(tmp_path / "media"),
        "GAUNG_SECRET_KEY_FILE": str(tmp_path / "secret_key"),
    }
    return env


def _gaung(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAUNG, *args],
        cwd=PROJECT_ROOT,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.mark.slow
def test_demo_on_another_port_prints_links_that_the_served_demo_answers(tmp_path: Path) -> None:
    port = _demo_port()
    env = _env(tmp_path)

    first = _gaung("demo", "--port", str(port), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    links = re.findall(r"https?://\S+", first.stdout)
    web = [link for link in links if "/sandbox" not in link]
    sandbox = [link for link in links if "/sandbox" in link]
    assert len(web) >= 5  # the console, three magic links, the enrolment invitation
    assert all(link.startswith(f"http://127.0.0.1:{port}/") for link in web), links
    assert sandbox
    assert all(link.startswith(f"http://127.0.0.1:{port + SANDBOX_OFFSET}/") for link in sandbox)

    server = subprocess.Popen(
        [*GAUNG, "serve", "--sandbox", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "gaung serve did not answer"
            time.sleep(0.3)
        magic = next(link for link in web if "/inbox/login/" in link)
        signed_in = httpx.get(magic, follow_redirects=True)
        assert signed_in.status_code == 200
        assert str(signed_in.url).startswith(f"http://127.0.0.1:{port}/inbox")
        enrol = next(link for link in web if "/enrol/" in link)
        assert httpx.get(enrol).status_code == 200
        mailbox_url = next(link for link in sandbox if link.endswith("/sandbox/mail"))
        deadline = time.monotonic() + 60
        while "/sandbox/mail/1'" not in (page := httpx.get(mailbox_url).text):
            assert time.monotonic() < deadline, "no e-mail reached the sandbox's mailbox"
            time.sleep(0.5)
        assert "@kominfo.go.id" in page
    finally:
        server.terminate()
        server.wait(timeout=30)

    database = tmp_path / "demo.db"
    asn, posts, sent = (
        _count(database, "asn"),
        _count(database, "post"),
        _count(database, "outbox_message"),
    )
    again = _gaung("demo", "--port", str(port), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "kept" in again.stdout
    assert again.stdout.count(f"http://127.0.0.1:{port}/inbox/login/") == 3
    assert (_count(database, "asn"), _count(database, "post")) == (asn, posts)
    assert _count(database, "outbox_message") == sent  # nothing dispatched a second time

    reset = _gaung("demo", "--port", str(port), "--reset", env=env)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "kept" not in reset.stdout

"""Every entry point ends with the same registries, filled by the composition root alone.

Each entry point runs in a fresh interpreter, so no module imported by another test can
have filled a registry first: ``gaung worker``, ``gaung serve`` (and the app factory every
uvicorn worker calls), ``gaung demo`` and these test fixtures must all agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gaung.settings import PROJECT_ROOT
from kernel import jobs
from wiring import describe

# Runs an entry point up to the moment it would start its long-running loop, then prints
# what is in the registries. Only the loop itself is replaced; the entry point's own setup
# (configure logging, wire, migrate) runs as an operator's command would run it.
_PROBE = """
import json, sys
from typer.testing import CliRunner
import uvicorn
import scheduler.clock
import wiring
from cli.main import app

class Stop(Exception):
    pass

def stop(*args, **kwargs):
    # CliRunner captures sys.stdout; the real one carries the answer out.
    print("REGISTRIES " + json.dumps(wiring.describe()), file=sys.__stdout__, flush=True)
    raise Stop

scheduler.clock.run_worker = stop
scheduler.clock.start_background = stop
uvicorn.run = stop
result = CliRunner().invoke(app, sys.argv[1:])
if not isinstance(result.exception, Stop):
    print("REGISTRIES " + json.dumps(wiring.describe()), file=sys.__stdout__, flush=True)
print(result.output, file=sys.stderr)
"""

_APP_FACTORY = """
import json
import wiring
from web.app import create_app
create_app()
print("REGISTRIES " + json.dumps(wiring.describe()))
"""


def _registries(code: str, *args: str, database: Path) -> dict[str, Any]:
    env = {**os.environ, "GAUNG_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("GAUNG_SCHEDULER__ENABLED", None)  # serve starts its clock, as in production
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("REGISTRIES ")]
    assert lines, f"no registries printed; stderr:\n{out.stderr[-3000:]}"
    found: dict[str, Any] = json.loads(lines[-1].removeprefix("REGISTRIES "))
    return found


@pytest.mark.parametrize(
    ("entry", "code", "args"),
    [
        ("gaung worker", _PROBE, ("worker",)),
        ("gaung serve", _PROBE, ("serve",)),
        ("gaung demo", _PROBE, ("demo", "--reset")),
        ("web.app:create_app", _APP_FACTORY, ()),
    ],
)
def test_every_entry_point_ends_with_the_same_registries(
    tmp_path: Path, entry: str, code: str, args: tuple[str, ...]
) -> None:
    # These fixtures wired the registries in tests/conftest.py, as the entry points do.
    expected = describe()
    assert _registries(code, *args, database=tmp_path / "gaung.db") == expected, entry


def test_the_registries_hold_every_job_hook_channel_and_eraser() -> None:
    wired = describe()
    assert set(wired["jobs"]) >= {"dispatch", "verify_post", "measure", "digest", "reminder"}
    assert set(wired["recurring"]) <= set(wired["jobs"])
    assert wired["dispatch_hooks"][0] == "scheduler.outbox.write_outbox"
    assert set(wired["messengers"]) == {"email", "telegram", "webhook", "webpush", "whatsapp"}
    assert "webpush" not in wired["person_messengers"]  # on top of a messenger, not instead
    assert wired["batch_senders"] == {"webpush": "scheduler.push.deliver_batch"}
    assert wired["queue_hooks"] == ["scheduler.push.route_keys"]
    assert wired["dispatch_hooks"][1] == "scheduler.push.route_post"
    assert set(wired["platforms"]) == {"x", "facebook", "instagram"}
    assert len(wired["erasers"]) == len(wired["exporters"]) == 4
    assert "channels.webpush.erase_personal_data" in wired["erasers"]
    assert "roster.recognition.erase_personal_data" in wired["erasers"]
    assert wired["model_events"] == {"User.before_update": True}


def test_wiring_twice_changes_nothing() -> None:
    from wiring import wire

    before = describe()
    handlers = dict(jobs.JOBS)
    assert wire() == before
    assert handlers == jobs.JOBS

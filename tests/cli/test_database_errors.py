"""An operator whose database is down reads one line saying so, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gaung.settings import PROJECT_ROOT

UNREACHABLE = "postgresql://gaung:s3cret@127.0.0.1:9/gaung"  # port 9 (discard): nothing listens


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--no-scheduler"]])
def test_an_unreachable_database_is_reported_in_one_line(command: list[str]) -> None:
    gaung = Path(sys.executable).with_name("gaung")
    env = {**os.environ, "GAUNG_DATABASE_URL": UNREACHABLE, "COLUMNS": "300"}
    done = subprocess.run(
        [str(gaung), *command],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: cannot use the database at postgresql+psycopg://gaung:***@")
    assert "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr + done.stdout

"""The README tells the truth about what is wired: every job kind has a line in its table."""

from __future__ import annotations

import re

from gaung.settings import PROJECT_ROOT
from kernel import jobs


def _jobs_table() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Jobs\n", 1)[1]
    return section.split("\n#", 1)[0]


def test_every_registered_job_kind_has_a_readme_line() -> None:
    documented = set()
    for line in _jobs_table().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            documented |= set(re.findall(r"`([^`]+)`", first_cell))
    missing = sorted(set(jobs.JOBS) - documented)
    assert not missing, f"job kinds without a line in README.md's Jobs table: {missing}"
    assert not documented - set(jobs.JOBS), "README lists job kinds that are not registered"

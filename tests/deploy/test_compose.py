"""The deployment examples: deploy/compose.yaml (no Docker engine here to run it, so it is
checked as YAML against what Gaung needs) and the systemd units; every command-line flag
they use must exist in the CLI."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from cli.main import app
from gaung.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
GAUNG_SERVICES = ("migrate", "web", "worker")
SECRETS = ("GAUNG_SECRET_KEY", "GAUNG_ENCRYPTION_KEYS", "POSTGRES_PASSWORD")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _options(command: str) -> set[str]:
    group: Any = typer.main.get_command(app)  # typer's group: click-like, not click's
    found = group.commands[command]
    return {opt for param in found.params for opt in (*param.opts, *param.secondary_opts)}


def _check_flags(argv: list[str]) -> None:
    """``gaung <command> --flags...``: the command and every flag exist."""
    assert Path(argv[0]).name == "gaung", argv
    options = _options(argv[1])
    unknown = [a for a in argv[2:] if a.startswith("--") and a not in options]
    assert unknown == [], f"{argv[1]} has no {unknown}"


def test_compose_runs_postgres_migrations_web_and_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "web", "worker"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in services["postgres"]
    assert services["migrate"]["command"] == ["gaung", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"
    web, worker = services["web"]["command"], services["worker"]["command"]
    assert web[:2] == ["gaung", "serve"]
    assert "--no-scheduler" in web  # the jobs run in the workers only
    assert worker == ["gaung", "worker"]
    for argv in (web, worker, services["migrate"]["command"]):
        _check_flags([str(a) for a in argv])
    assert services["web"]["healthcheck"]["test"][-1].count("/healthz") == 1


def test_every_gaung_service_reaches_the_compose_postgres(compose: dict[str, Any]) -> None:
    for name in GAUNG_SERVICES:
        service = compose["services"][name]
        url = service["environment"]["GAUNG_DATABASE_URL"]
        assert url.startswith("postgresql://gaung:")
        assert url.endswith("@postgres:5432/gaung")
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["environment"]["GAUNG_LOG_FORMAT"] == "json"
    assert compose["services"]["web"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]


def test_compose_holds_no_secret_only_references_to_the_environment(
    compose: dict[str, Any],
) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for name in SECRETS:
        for value in re.findall(rf"{name}: (\S+)", text):
            assert value.startswith("${"), f"{name} must come from .env"
            assert ":?" in value, f"{name} must be required"
    assert (
        "${POSTGRES_PASSWORD:?"
        in compose["services"]["migrate"]["environment"]["GAUNG_DATABASE_URL"]
    )


def test_the_web_port_is_published_on_loopback_only(compose: dict[str, Any]) -> None:
    """uvicorn trusts X-Forwarded-* from anyone here: only the host's proxy may connect."""
    assert compose["services"]["web"]["ports"] == ["127.0.0.1:8000:8000"]


def test_the_dockerfile_copies_directories_that_exist() -> None:
    copied = re.findall(r"^COPY (\S+) ", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    assert copied
    for source in copied:
        assert (PROJECT_ROOT / source).exists(), source


def _unit(name: str) -> configparser.RawConfigParser:
    unit = configparser.RawConfigParser(strict=False, interpolation=None)
    # Keep keys' case: configparser's documented override, which typeshed types as a method.
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / name)
    return unit


@pytest.mark.parametrize(
    ("name", "command"),
    [("gaung-web.service", "serve"), ("gaung-worker@.service", "worker")],
)
def test_the_systemd_units_run_existing_commands_and_stop_gracefully(
    name: str, command: str
) -> None:
    unit = _unit(name)
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[1] == command
    _check_flags(argv)
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= 30
    assert service["EnvironmentFile"] == "/etc/gaung/gaung.env"
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    if command == "serve":
        assert "--no-scheduler" in argv
        _check_flags(shlex.split(service["ExecStartPre"]))


def test_the_env_example_names_every_secret_and_holds_none() -> None:
    lines = (DEPLOY / "gaung.env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    for name in ("GAUNG_SECRET_KEY", "GAUNG_ENCRYPTION_KEYS", "POSTGRES_PASSWORD"):
        assert values[name] == "CHANGE-ME"
    assert "CHANGE-ME" in values["GAUNG_DATABASE_URL"]

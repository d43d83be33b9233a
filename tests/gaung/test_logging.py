"""Logging configured in one place: text on a terminal, JSON lines otherwise; and the
production server options of `gaung serve`."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest

from cli.main import uvicorn_options
from gaung import logging as gaung_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _emit(fmt: str, emit: object) -> str:
    config = gaung_logging.dict_config(fmt, "INFO")
    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    assert callable(emit)
    emit()
    return stream.getvalue()


def test_json_lines_carry_time_level_logger_and_message() -> None:
    out = _emit("json", lambda: logging.getLogger("scheduler.deliver").warning("%s lost", 3))
    record = json.loads(out.strip())
    assert record["level"] == "WARNING"
    assert record["logger"] == "scheduler.deliver"
    assert record["message"] == "3 lost"
    assert record["time"].endswith("+00:00")


def test_a_traceback_stays_inside_one_json_line() -> None:
    def fail() -> None:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("x").exception("job failed")

    lines = _emit("json", fail).strip().splitlines()
    assert len(lines) == 1
    assert "RuntimeError: boom" in json.loads(lines[0])["exc_info"]


def test_text_is_one_readable_line() -> None:
    out = _emit("text", lambda: logging.getLogger("gaung").info("started"))
    assert " INFO gaung [" in out
    assert out.rstrip().endswith("started")


def test_busy_scheduler_ticks_and_request_lines_are_left_out() -> None:
    def noisy() -> None:
        logging.getLogger("apscheduler.scheduler").warning(
            'Execution of job "x" skipped: maximum number of running instances reached (1)'
        )
        logging.getLogger("httpx").info("HTTP Request: POST https://example.test")
        logging.getLogger("apscheduler.scheduler").warning("something else")

    lines = _emit("json", noisy).strip().splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["something else"]


def test_auto_is_text_on_a_terminal_and_json_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    assert gaung_logging.resolve_format("auto") == "text"
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    assert gaung_logging.resolve_format("auto") == "json"
    with pytest.raises(ValueError, match="log_format"):
        gaung_logging.resolve_format("xml")


def test_serve_defaults_to_no_access_log_and_no_trusted_proxy_headers() -> None:
    options = uvicorn_options()
    assert options["access_log"] is False
    assert options["proxy_headers"] is False
    assert options["workers"] == 1
    assert options["log_config"]["version"] == 1
    trusted = uvicorn_options(proxy_headers=True, forwarded_allow_ips="10.0.0.5", workers=4)
    assert (trusted["proxy_headers"], trusted["forwarded_allow_ips"]) == (True, "10.0.0.5")
    assert trusted["workers"] == 4

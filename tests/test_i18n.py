"""Every UI string has an Indonesian translation, and formatting follows the locale."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import jinja2
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from gaung import i18n
from gaung.settings import PROJECT_ROOT


def _packages() -> list[str]:
    """Every package the project installs (pyproject), so a new one is never left out."""
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as handle:
        found = tomllib.load(handle)["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.rstrip("*") for pattern in found]


# Every layer (kernel, cli and wiring included), the pages and the messages' templates.
SOURCE_DIRS = [*_packages(), "templates"]


def _in_sources(dirpath: str) -> bool:
    relative = Path(dirpath).relative_to(PROJECT_ROOT)
    return not relative.parts or relative.parts[0] in SOURCE_DIRS


def _extracted_msgids() -> dict[str, str]:
    # Walk from the project root so babel.cfg's patterns (templates/**.html) match as written.
    with (PROJECT_ROOT / "babel.cfg").open() as cfg:
        # Babel leaves parse_mapping_cfg unannotated.
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
        str(PROJECT_ROOT),
        method_map,
        options_map,
        keywords={"_": None, "N_": None, "gettext": None},
        directory_filter=_in_sources,
    ):
        messages = message if isinstance(message, tuple) else (message,)
        for msgid in messages:
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def test_every_ui_string_is_translated_to_indonesian() -> None:
    # Read the catalog itself: "Status" or "NIP" are the same word in Indonesian, so
    # comparing gettext's answer with the msgid would flag them.
    with (PROJECT_ROOT / "locale/id/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    missing = {
        msgid: where
        for msgid, where in _extracted_msgids().items()
        if msgid not in catalog or not catalog[msgid].string
    }
    assert not missing, f"msgids without an Indonesian msgstr: {missing}"


def test_every_layer_and_the_templates_are_checked() -> None:
    assert {"gaung", "kernel", "roster", "content", "assignments", "channels"} <= set(SOURCE_DIRS)
    assert {"scheduler", "wiring", "web", "cli", "templates"} <= set(SOURCE_DIRS)
    where = set(_extracted_msgids().values())
    assert any(w.startswith("kernel/") for w in where)
    assert any(w.startswith("cli/") for w in where)
    assert any(w.startswith("templates/messages/") for w in where)


def test_dates_and_numbers_follow_the_locale() -> None:
    moment = datetime(2026, 8, 17, 3, 0, tzinfo=UTC)
    with i18n.use_locale("id"):
        assert i18n.format_date(moment) == "17 Agustus 2026"
        assert i18n.format_number(1234567) == "1.234.567"
    with i18n.use_locale("en"):
        assert i18n.format_date(moment) == "August 17, 2026"
        assert i18n.format_number(1234567) == "1,234,567"


def test_times_carry_the_readers_zone_and_no_seconds() -> None:
    moment = datetime(2026, 12, 7, 0, 0, 41, tzinfo=UTC)
    with i18n.use_locale("id"):
        assert i18n.format_datetime(moment) == "7 Des 2026 07.00 WIB"
        assert i18n.format_datetime(moment, tz="Asia/Makassar") == "7 Des 2026 08.00 WITA"
        assert i18n.format_datetime(moment, "long", "Asia/Jayapura") == "7 Desember 2026 09.00 WIT"
        assert i18n.format_datetime(moment, "full") == "Senin, 07 Desember 2026 07.00 WIB"
        assert i18n.format_datetime(moment, "HH:mm") == "07:00 WIB"
        assert i18n.format_datetime(moment.replace(tzinfo=None)) == "7 Des 2026 07.00 WIB"
        with i18n.use_zone("Asia/Makassar"):
            assert i18n.format_datetime(moment, "short") == "7/12/26 08.00 WITA"
        assert i18n.format_datetime(moment, "short") == "7/12/26 07.00 WIB"
    with i18n.use_locale("en"):
        shown = i18n.format_datetime(moment, tz="Asia/Jayapura").replace("\u202f", " ")
        assert shown == "Dec 7, 2026, 9:00 AM WIT"


def test_the_datetime_filter_takes_the_zone_from_the_template() -> None:
    env = jinja2.Environment(autoescape=True)
    i18n.install(env)
    template = env.from_string("{{ t|datetime }} / {{ t|datetime('short') }} / {{ t|date }}")
    moment = datetime(2026, 12, 7, 16, 30, 5, tzinfo=UTC)
    with i18n.use_locale("id"):
        assert (
            template.render(t=moment)
            == "7 Des 2026 23.30 WIB / 7/12/26 23.30 WIB / 7 Desember 2026"
        )
        assert template.render(t=moment, reader_zone="Asia/Jayapura") == (
            "8 Des 2026 01.30 WIT / 8/12/26 01.30 WIT / 8 Desember 2026"
        )


def test_unknown_locale_falls_back_to_indonesian() -> None:
    assert i18n.negotiate("fr-FR,de;q=0.8") == "id"
    assert i18n.negotiate("en-US,en;q=0.9") == "en"
    assert i18n.coerce_locale("xx-invalid!") is None

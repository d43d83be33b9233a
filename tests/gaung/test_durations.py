"""Durations in words and Rupiah, as the time-to-notify estimate shows them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gaung import i18n


@pytest.mark.parametrize(
    ("seconds", "indonesian", "english"),
    [
        (0, "0 detik", "0 seconds"),
        (0.2, "1 detik", "1 second"),  # work still to do never reads "0"
        (45, "45 detik", "45 seconds"),
        (400, "6 menit, 40 detik", "6 minutes, 40 seconds"),
        (3599.5, "1 jam", "1 hour"),  # rounded up into the next unit
        (3600, "1 jam", "1 hour"),
        (9 * 3600 + 15 * 60, "9 jam, 15 menit", "9 hours, 15 minutes"),
        (86400 + 5 * 60, "1 hari, 1 jam", "1 day, 1 hour"),  # two units, rounded up
        (27.8 * 3600, "1 hari, 4 jam", "1 day, 4 hours"),
    ],
)
def test_durations_read_in_words(seconds: float, indonesian: str, english: str) -> None:
    with i18n.use_locale("id"):
        assert i18n.format_duration(seconds) == indonesian
    with i18n.use_locale("en"):
        assert i18n.format_duration(seconds) == english


@given(st.floats(min_value=0, max_value=10**9, allow_nan=False))
def test_any_duration_is_one_or_two_units(seconds: float) -> None:
    with i18n.use_locale("en"):
        words = i18n.format_duration(seconds)
    units = re.findall(r"(second|minute|hour|day)s?\b", words)
    assert 1 <= len(units) <= 2
    assert len(set(units)) == len(units)


def test_rupiah_in_whole_rupiah() -> None:
    with i18n.use_locale("id"):
        assert i18n.format_money(356.65 * 1_000_000) == "Rp356.650.000"
        assert i18n.format_money(713.3) == "Rp713"

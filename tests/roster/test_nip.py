"""The NIP check: 18 digits whose parts (birth date, TMT, sex, sequence) make sense."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster.nip import NipError, check_nip, parse_nip

TODAY = date(2026, 11, 23)


@st.composite
def valid_nips(draw: st.DrawFn) -> tuple[str, date, tuple[int, int], int, int]:
    birth = draw(st.dates(min_value=date(1950, 1, 1), max_value=date(2007, 1, 1)))
    year = draw(st.integers(min_value=birth.year + 18, max_value=2026))
    month = draw(st.integers(min_value=1, max_value=12 if year < 2026 else 11))
    sex = draw(st.sampled_from([1, 2]))
    sequence = draw(st.integers(min_value=1, max_value=999))
    number = f"{birth:%Y%m%d}{year:04d}{month:02d}{sex}{sequence:03d}"
    return number, birth, (year, month), sex, sequence


@given(valid_nips())
def test_every_well_formed_nip_is_accepted_with_its_parts(
    case: tuple[str, date, tuple[int, int], int, int],
) -> None:
    number, birth, appointed, sex, sequence = case
    nip = parse_nip(number, today=TODAY)
    assert (nip.number, nip.birth_date, nip.appointed, nip.sex, nip.sequence) == (
        number,
        birth,
        appointed,
        sex,
        sequence,
    )


@given(valid_nips(), st.sampled_from([" ", ".", "-", "  "]))
def test_spaces_and_dots_people_type_are_dropped(
    case: tuple[str, date, tuple[int, int], int, int], sep: str
) -> None:
    number = case[0]
    written = sep.join([number[:8], number[8:14], number[14], number[15:]])
    assert parse_nip(f" {written} ", today=TODAY).number == number


@given(valid_nips(), st.integers(min_value=0, max_value=17), st.characters(categories=["L"]))
def test_a_letter_anywhere_is_refused(
    case: tuple[str, date, tuple[int, int], int, int], at: int, letter: str
) -> None:
    number = case[0]
    with pytest.raises(NipError, match="digits only"):
        parse_nip(number[:at] + letter + number[at + 1 :], today=TODAY)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30).filter(lambda s: len(s) != 18))
def test_a_wrong_length_says_how_many_digits_it_has(digits: str) -> None:
    with pytest.raises(NipError) as raised:
        parse_nip(digits, today=TODAY)
    assert raised.value.params == {"count": len(digits)}
    assert raised.value.field == "nip"


@pytest.mark.parametrize(
    ("number", "part"),
    [
        ("198013012006041001", "Digits 1-8"),  # month 13
        ("198002302006041001", "Digits 1-8"),  # 30 February
        ("203001012006041001", "Digits 1-8"),  # born in the future
        ("198001012006131001", "Digits 9-14"),  # TMT month 13
        ("198001012006001001", "Digits 9-14"),  # TMT month 00
        ("198001012030011001", "in the future"),
        ("198001011990011001", "too soon after the birth"),
        ("198001012006043001", "Digit 15"),
        ("198001012006040001", "Digit 15"),
        ("198001012006041000", "sequence"),
    ],
)
def test_each_broken_part_gets_its_own_message(number: str, part: str) -> None:
    with pytest.raises(NipError, match=part):
        parse_nip(number, today=TODAY)


def test_an_empty_nip_asks_for_one() -> None:
    with pytest.raises(NipError, match="Enter your NIP"):
        check_nip("   ")


def test_the_appointment_month_may_be_this_month() -> None:
    this_month = TODAY.replace(day=1) + timedelta(days=0)
    number = f"19800101{this_month:%Y%m}1001"
    assert parse_nip(number, today=TODAY).appointed == (TODAY.year, TODAY.month)

"""The NIP (Nomor Induk Pegawai), the 18-digit civil-servant number, and its structure.

Digits, left to right (BKN's numbering):

- 1-8: date of birth, ``yyyymmdd``;
- 9-14: TMT, the month of appointment as a candidate civil servant, ``yyyymm``;
- 15: sex, ``1`` man, ``2`` woman;
- 16-18: sequence number among people sharing all the above, ``001``-``999``.

People write it with spaces (``19800101 200604 1 001``) or dots; those are dropped.
Each broken part gets its own message, so the person knows which digits to look at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from gaung.db import utcnow
from gaung.errors import N_, GaungError

NIP_LENGTH = 18
EARLIEST_YEAR = 1900
# Nobody is appointed before this age (the law's minimum is 18; be lenient by a year).
MIN_AGE_AT_APPOINTMENT = 17
_SEPARATORS = re.compile(r"[\s.\-]+")
_DIGITS = re.compile(r"[0-9]+")


class NipError(GaungError):
    """The NIP is malformed; the message names the part that is wrong."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message, field="nip", **params)


@dataclass(frozen=True)
class Nip:
    number: str
    birth_date: date
    appointed: tuple[int, int]  # (year, month) of the TMT
    sex: int  # 1 man, 2 woman
    sequence: int


def normalise(value: str) -> str:
    return _SEPARATORS.sub("", value.strip())


def parse_nip(value: str, *, today: date | None = None) -> Nip:
    """The checked NIP, or NipError saying which part is wrong."""
    number = normalise(value)
    if not number:
        raise NipError(N_("Enter your NIP."))
    if not number.isascii() or not _DIGITS.fullmatch(number):
        raise NipError(N_("The NIP has digits only."))
    if len(number) != NIP_LENGTH:
        raise NipError(N_("The NIP has 18 digits; this one has %(count)s."), count=len(number))
    today = today or utcnow().date()
    birth = _birth_date(number[0:8], today)
    appointed = _appointment(number[8:14], birth, today)
    sex = int(number[14])
    if sex not in (1, 2):
        raise NipError(N_("Digit 15 of the NIP (sex) must be 1 or 2."))
    sequence = int(number[15:18])
    if sequence == 0:
        raise NipError(N_("The last three digits of the NIP (sequence) cannot be 000."))
    return Nip(number, birth, appointed, sex, sequence)


def _birth_date(digits: str, today: date) -> date:
    try:
        birth = date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise NipError(
            N_("Digits 1-8 of the NIP must be a date of birth (yyyymmdd); %(digits)s is not."),
            digits=digits,
        ) from None
    if birth.year < EARLIEST_YEAR or birth > today:
        raise NipError(
            N_("Digits 1-8 of the NIP must be a date of birth (yyyymmdd); %(digits)s is not."),
            digits=digits,
        )
    return birth


def _appointment(digits: str, birth: date, today: date) -> tuple[int, int]:
    year, month = int(digits[0:4]), int(digits[4:6])
    if not 1 <= month <= 12 or year < EARLIEST_YEAR:
        raise NipError(
            N_("Digits 9-14 of the NIP must be the appointment month (yyyymm); %(digits)s is not."),
            digits=digits,
        )
    if (year, month) > (today.year, today.month):
        raise NipError(N_("The appointment month in the NIP (digits 9-14) is in the future."))
    if year - birth.year < MIN_AGE_AT_APPOINTMENT:
        raise NipError(
            N_("The appointment month in the NIP (digits 9-14) is too soon after the birth date.")
        )
    return year, month


def check_nip(value: str) -> str:
    """The normalised 18 digits of a valid NIP; NipError otherwise."""
    return parse_nip(value).number

"""The one rule for each field people type about themselves: phone, e-mail, handle, NIP.

Every way a value comes in (the enrolment form, the roster CSV import, the inbox settings,
the staff sign-in, the public registry, migration 0011) goes through these functions, so a
value is stored in one form and compared in that form: ``0812-3456-7890`` typed in a CSV
and ``+62 812 3456 7890`` typed in a form are the same ``+6281234567890``.

A bad value is a GaungError naming its field (``phone``, ``email``, ``{platform}_handle``,
``nip``) with an English msgid, so every caller can show it in the reader's language.
Migration 0011 runs these functions over stored rows: a change to a rule here is a change
to what is stored, and may need a migration of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.settings import PLATFORM_NAMES

# --- phone -------------------------------------------------------------------------------

# Numbers written without a country code are Indonesian.
PHONE_REGION = "ID"
_PHONE_INVALID = N_("Enter a mobile number such as 0812 3456 7890 or +62 812 3456 7890.")


def normalise_phone(value: str) -> str:
    """E.164 (``+6281234567890``): WhatsApp and SMS gateways need the international form.

    Accepts how people write numbers: ``0812-3456-7890``, ``(0812) 3456 7890``,
    ``62812…``, ``+62 812…`` and ``0062…``. GaungError (field ``phone``) when the result
    is not a valid number.
    """
    text = value.strip()
    if text.startswith("00"):
        # The ITU international prefix; Indonesia's own (001, 007, …) is all phonenumbers
        # knows for region ID, and no Indonesian national number starts with 00.
        text = "+" + text[2:]
    # phonenumbers reads letters as keypad digits ("1-800-FLOWERS") and drops an "ext. 12":
    # a typo would become someone else's number, so a number with letters is refused.
    if any(char.isalpha() for char in text):
        raise GaungError(_PHONE_INVALID, field="phone")
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        raise GaungError(_PHONE_INVALID, field="phone") from None
    if not phonenumbers.is_valid_number(number):
        raise GaungError(_PHONE_INVALID, field="phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- e-mail ------------------------------------------------------------------------------


def email_key(value: str) -> str:
    """The form addresses are compared in (trimmed, lower-case), without checking syntax.

    For looking up what someone typed, e.g. at sign-in, where a malformed address should
    simply match nobody. For a valid address it equals ``normalise_email``'s result.
    """
    return value.strip().lower()


def normalise_email(value: str) -> str:
    """The address trimmed and lower-cased, as it is stored; GaungError (field ``email``).

    The whole address is lower-cased: mail systems treat the local part case-insensitively
    in practice, and one person must not enrol twice as Budi@ and budi@. The syntax is
    checked offline (no DNS look-up); SMTPUTF8 local parts are refused because the mail
    channel does not negotiate SMTPUTF8.
    """
    try:
        checked = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        raise GaungError(N_("This is not a valid e-mail address."), field="email") from None
    return email_key(checked.normalized)


# --- social media handle -----------------------------------------------------------------

_HANDLES = {
    "x": re.compile(r"[a-z0-9_]{1,15}"),
    "instagram": re.compile(r"[a-z0-9._]{1,30}"),
    # A Facebook username (5+ letters, digits, dots) or a numeric profile id.
    "facebook": re.compile(r"[a-z0-9.]{5,50}"),
}
_PROFILE_HOSTS = {
    "x": {"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com"},
    "instagram": {"instagram.com", "m.instagram.com"},
    "facebook": {"facebook.com", "m.facebook.com", "web.facebook.com", "fb.com"},
}


def handle_key(value: str) -> str:
    """The form handles are stored and compared in: lower-case, without "@".

    For looking up a handle from a URL or a platform's answer without checking it; a
    handle no platform allows simply matches nothing.
    """
    return value.strip().lstrip("@").lower()


def normalise_handle(platform: str, value: str) -> str:
    """A username from what people paste: ``@Name``, ``name`` or a profile link.

    Lower-case without "@", as SocialAccount.handle stores it. GaungError (field
    ``{platform}_handle``) when it is not a possible username on the platform.
    """
    text = value.strip()
    if "/" in text:
        text = _handle_from_link(platform, text)
    text = handle_key(text)
    pattern = _HANDLES.get(platform)
    if pattern is None or not pattern.fullmatch(text):
        raise GaungError(
            N_("This is not a valid %(platform)s username."),
            field=f"{platform}_handle",
            platform=PLATFORM_NAMES.get(platform, platform),
        )
    return text


def _handle_from_link(platform: str, link: str) -> str:
    try:
        parts = urlsplit(link if "://" in link else f"https://{link}")
    except ValueError:  # not a URL at all, e.g. "https://[x" (an unclosed IPv6 host)
        return link  # fails the username pattern, with the platform's message
    host = (parts.hostname or "").lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host not in _PROFILE_HOSTS.get(platform, set()) or not segments:
        return link  # fails the username pattern, with the platform's message
    if platform == "facebook" and segments[0] == "profile.php":
        return (parse_qs(parts.query).get("id") or [""])[0]
    return segments[0]


# --- NIP ---------------------------------------------------------------------------------
#
# The NIP (Nomor Induk Pegawai) is the 18-digit civil-servant number. Digits, left to right
# (BKN's numbering):
#
# - 1-8: date of birth, ``yyyymmdd``;
# - 9-14: TMT, the month of appointment as a candidate civil servant, ``yyyymm``;
# - 15: sex, ``1`` man, ``2`` woman;
# - 16-18: sequence number among people sharing all the above, ``001``-``999``.
#
# People write it with spaces (``19800101 200604 1 001``) or dots; those are dropped.
# Each broken part gets its own message, so the person knows which digits to look at.

NIP_LENGTH = 18
EARLIEST_YEAR = 1900
# Nobody is appointed before this age (the law's minimum is 18; be lenient by a year).
MIN_AGE_AT_APPOINTMENT = 17
_NIP_SEPARATORS = re.compile(r"[\s.\-]+")
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


def parse_nip(value: str, *, today: date | None = None) -> Nip:
    """The checked NIP, or NipError saying which part is wrong."""
    number = _NIP_SEPARATORS.sub("", value.strip())
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
        birth = None
    if birth is None or birth.year < EARLIEST_YEAR or birth > today:
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

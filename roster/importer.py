"""CSV roster import: validate every row first, then upsert everything in one transaction.

The file has a header row; columns (any order, case-insensitive):
nip, name, unit, email, phone, messenger, consent_at, consent_version,
{x,facebook,instagram}_{handle,user_id,followers}. Unknown columns are refused so a typo in a
header never drops data silently.

Files as Excel saves them open as they are: ``;`` or ``,`` separated (sniffed from the header
line), UTF-8 with or without a BOM, or Windows-1252 ("CSV" on Windows); a consent date may be
written day first (``17/08/2026``, Indonesian locale) or ISO (``2026-08-17``). A unit the
agency does not have yet is an error naming the row unless ``create_units`` is given.

An account may be given by its handle alone. ``resolve`` (supplied by a layer that may call
the platforms: the CLI, through ``scheduler.handles``) looks such handles up before anything
is written; a handle the platform says does not exist or is suspended is an error naming the
row. A handle that is not looked up (no ``resolve``, the platform not connected, or a
platform without a user lookup such as Facebook) is imported without its user id and
unverified, as self-enrolment leaves it: its ownership check learns the id later.

NIP, e-mail, phone and handles pass the same rules as the enrolment form (gaung.fields), so
a person is stored alike whichever way they came in: ``0812-3456-7890`` becomes
``+6281234567890``.

Nothing is written unless the whole file is valid: the operator fixes the file and imports
again. Importing the same file twice changes nothing. The import only adds and updates:
accounts or people missing from the file are left as they are.

Everything is read, compared and turned into rows before the first write; the write is a
few executemany statements and the commit (one transaction), so on SQLite, where a writer
holds the whole database's write lock until it commits, 100,000 rows keep other writers
waiting for well under a second (``bench/import_roster.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy import select as core_select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session, col, select

from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.fields import check_nip, normalise_email, normalise_handle, normalise_phone
from gaung.settings import PLATFORMS, get_settings
from kernel.limits import display_name
from kernel.outbox import PERSON_MESSENGERS, missing_address
from roster.enrolment import CONSENT_VERSION
from roster.models import Agency, Asn, AsnStatus, SocialAccount, Unit

BASE_COLUMNS = (
    "nip",
    "name",
    "unit",
    "email",
    "phone",
    "messenger",
    "consent_at",
    "consent_version",
)
PLATFORM_FIELDS = ("handle", "user_id", "followers")
COLUMNS = BASE_COLUMNS + tuple(f"{p}_{f}" for p in PLATFORMS for f in PLATFORM_FIELDS)
REQUIRED_COLUMNS = ("nip", "name", "unit", "consent_at")
MAX_FOLLOWERS = 2**31 - 1  # an INTEGER column on PostgreSQL
CONSENT_VERSION_MAX = 20  # asn.consent_version
_CHUNK = 500  # bound the number of bind parameters per IN (...) query

_NO_SPACE = re.compile(r"\S+")
_GROUPED = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+")

# The write phase uses the tables themselves (Core statements, executemany), not the ORM.
_UNIT: Table = Unit.__table__  # type: ignore[attr-defined]
_ASN: Table = Asn.__table__  # type: ignore[attr-defined]
_ACCOUNT: Table = SocialAccount.__table__  # type: ignore[attr-defined]

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FoundAccount:
    """What a platform's user lookup says about a handle."""

    user_id: str
    handle: str
    followers: int | None


# platform, handles (normalised) -> per handle a FoundAccount, or an English msgid saying why
# it cannot be enrolled (does not exist, suspended). A handle left out was not looked up.
Resolver = Callable[[str, Sequence[str]], Mapping[str, "FoundAccount | str"]]
# What a Resolver answers for a handle it cannot resolve (%(platform)s is filled in here).
HANDLE_NOT_FOUND = N_("%(platform)s has no account with this handle.")
HANDLE_SUSPENDED = N_("This %(platform)s account is suspended.")


@dataclass(frozen=True)
class RowError:
    """One problem in the file. ``message`` is an English msgid with %(name)s params."""

    line: int
    field: str
    message: str
    params: Mapping[str, Any] = dataclass_field(default_factory=dict)

    def render(self, gettext: Callable[[str], str] = lambda m: m) -> str:
        text = gettext(self.message)
        return text % dict(self.params) if self.params else text

    def __str__(self) -> str:
        return f"line {self.line}, field {self.field}: {self.render()}"


class RosterImportError(GaungError):
    """The file has errors; nothing was imported. ``errors`` lists every one of them."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            N_("The roster has %(count)s error(s); nothing was imported."), count=len(errors)
        )
        self.errors = errors


@dataclass
class ImportResult:
    """Counts of people (ASN) and of units made on demand."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    units_created: int = 0
    # Accounts given by handle alone that no platform lookup resolved: imported without their
    # user id, not verified (as self-enrolment leaves them).
    unresolved: int = 0


@dataclass(frozen=True)
class AccountRow:
    platform: str
    handle: str
    user_id: str | None  # None: a handle alone, not (yet) looked up
    followers: int | None  # None: no count given or looked up; a stored count is kept


@dataclass(frozen=True)
class PersonRow:
    line: int
    nip: str
    name: str
    unit: str
    email: str | None
    phone: str | None
    messenger: str
    consent_at: datetime
    consent_version: str
    accounts: tuple[AccountRow, ...]


# --- the template ----------------------------------------------------------------------------

TEMPLATE_NAME = "gaung-roster-template.csv"


def template_csv() -> bytes:
    """The header row, ``;`` separated, UTF-8 with a BOM and CRLF: Excel in Indonesian
    locale opens it in columns and saves it back in the same shape, which imports as is."""
    return ("\ufeff" + ";".join(COLUMNS) + "\r\n").encode("utf-8")


# --- reading ---------------------------------------------------------------------------------


_UNDECODABLE = N_(
    "The file is not text Gaung can read (UTF-8 or Windows-1252). In Excel, save it as "
    '"CSV UTF-8 (Comma delimited)" and upload it again.'
)


def _decode(data: str | bytes) -> str:
    """UTF-8 (a BOM is dropped), else Windows-1252: what Excel writes as "CSV" on Windows."""
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise RosterImportError([RowError(1, "file", _UNDECODABLE)]) from exc
    # NUL never occurs in a text CSV: UTF-16 ("Unicode Text") or a spreadsheet file.
    if "\x00" in text:
        raise RosterImportError([RowError(1, "file", _UNDECODABLE)])
    return text


def _delimiter(text: str) -> str:
    """``;`` when the header line has more semicolons than commas (Excel in Indonesian or
    another locale whose decimal mark is the comma), else ``,``."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if header.count(";") > header.count(",") else ","


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) per non-blank record; quoted cells may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        if any(cell.strip() for cell in cells):
            yield start, cells


def _read_header(cells: list[str], line: int, errors: list[RowError]) -> list[str]:
    header = [cell.strip().lower().lstrip("\ufeff") for cell in cells]
    for name in header:
        if name not in COLUMNS:
            errors.append(RowError(line, name or "?", N_("Unknown column.")))
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(line, name, N_("This column appears twice.")))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in header:
            errors.append(RowError(line, name, N_("This required column is missing.")))
    return header


# --- validating one row ----------------------------------------------------------------------


class _Row:
    """Cell access for one record that collects errors instead of raising."""

    def __init__(self, line: int, cells: Mapping[str, str], errors: list[RowError]) -> None:
        self.line = line
        self.cells = cells
        self.errors = errors

    def get(self, name: str) -> str:
        return self.cells.get(name, "").strip()

    def error(self, name: str, message: str, **params: Any) -> None:
        self.errors.append(RowError(self.line, name, message, params))

    def checked(self, name: str, rule: Callable[[str], str]) -> str | None:
        """The cell through one of gaung.fields' rules; None (and its error) when refused."""
        try:
            return rule(self.get(name))
        except GaungError as exc:
            self.error(exc.field or name, exc.message, **exc.params)
            return None


# Day first, as Excel writes dates in Indonesian locale: 17/08/2026, 17-08-2026, 17/08/2026
# 09.30 (Windows' Indonesian time separator is a dot) or 17/08/2026 09:30:15.
_DAY_FIRST = re.compile(
    r"(?P<d>\d{1,2})[/-](?P<m>\d{1,2})[/-](?P<y>\d{4})"
    r"(?:[ T]+(?P<H>\d{1,2})[.:](?P<M>\d{2})(?:[.:](?P<S>\d{2}))?)?",
    re.ASCII,
)


def _parse_day_first(value: str) -> datetime | None:
    match = _DAY_FIRST.fullmatch(value)
    if match is None:
        raise ValueError(value)
    parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
    return datetime(
        parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0), parts.get("S", 0)
    )


def _parse_consent(value: str) -> datetime | None:
    """A day-first or ISO date or date-time; without an offset it is local time in
    settings.timezone."""
    try:
        if _DAY_FIRST.match(value):
            moment = _parse_day_first(value)
        elif len(value) <= 10:
            moment = datetime.combine(date.fromisoformat(value), time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    assert moment is not None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return moment.astimezone(UTC)


def _text(row: _Row, name: str, *, required: bool, max_length: int) -> str | None:
    value = row.get(name)
    if not value:
        if required:
            row.error(name, N_("This value is required."))
        return None
    if len(value) > max_length:
        row.error(name, N_("At most %(limit)s characters."), limit=max_length)
        return None
    return value


def _optional(row: _Row, name: str, rule: Callable[[str], str]) -> str | None:
    """An empty cell is None; anything else must pass ``rule``."""
    return row.checked(name, rule) if row.get(name) else None


def _messenger(row: _Row, email: str | None, phone: str | None) -> str:
    value = row.get("messenger").lower() or "email"
    if value not in PERSON_MESSENGERS:
        row.error("messenger", N_("Use one of: %(choices)s."), choices=", ".join(PERSON_MESSENGERS))
        return value
    missing = missing_address(
        value, email=email or row.get("email"), phone=phone or row.get("phone")
    )
    if missing is not None and missing.field:
        row.error(missing.field, missing.message)
    return value


def _consent(row: _Row) -> datetime | None:
    value = row.get("consent_at")
    if not value:
        row.error("consent_at", N_("Consent is required: no consent, no enrolment."))
        return None
    moment = _parse_consent(value)
    if moment is None:
        row.error("consent_at", N_("Use a date such as 17/08/2026 or 2026-08-17."))
        return None
    if moment > utcnow():
        row.error("consent_at", N_("The consent date is in the future."))
        return None
    return moment


def _consent_version(row: _Row) -> str | None:
    """The version of the consent text the person agreed to; the current one when empty."""
    value = row.get("consent_version")
    if not value:
        return CONSENT_VERSION
    if not _NO_SPACE.fullmatch(value) or len(value) > CONSENT_VERSION_MAX:
        row.error(
            "consent_version",
            N_("A consent version has no spaces and at most %(limit)s characters."),
            limit=CONSENT_VERSION_MAX,
        )
        return None
    return value


_INVALID = -1  # a followers cell that was refused (its error is recorded)


def _followers(row: _Row, name: str, *, empty: int | None) -> int | None:
    """The count in the cell; ``empty`` when the cell is empty; _INVALID when refused."""
    value = row.get(name)
    if _GROUPED.fullmatch(value):  # 1.200: Excel's thousands separator in Indonesian locale
        value = value.replace(".", "")
    if not value:
        return empty
    if not value.isascii() or not value.isdigit():
        row.error(name, N_("Followers must be a whole number of zero or more."))
        return _INVALID
    number = int(value)
    if number > MAX_FOLLOWERS:
        row.error(name, N_("Followers must be at most %(limit)s."), limit=MAX_FOLLOWERS)
        return _INVALID
    return number


def _account(row: _Row, platform: str) -> AccountRow | None:
    handle_col, id_col, followers_col = (f"{platform}_{f}" for f in PLATFORM_FIELDS)
    typed = row.get(handle_col)
    handle = _optional(row, handle_col, lambda value: normalise_handle(platform, value))
    user_id = row.get(id_col) or None
    # With its user id an account's empty followers cell is 0 (as always); a handle alone
    # has no count until it is looked up.
    followers = _followers(row, followers_col, empty=0 if user_id else None)
    if not typed and not user_id:
        if row.get(followers_col):
            row.error(followers_col, N_("Followers are given but there is no account."))
        return None
    if not typed:
        row.error(handle_col, N_("An account id needs a handle."))
    user_id_ok = True
    if user_id is not None and (not _NO_SPACE.fullmatch(user_id) or len(user_id) > 64):
        row.error(id_col, N_("A user id has no spaces and at most 64 characters."))
        user_id_ok = False
    if handle is None or followers == _INVALID or not user_id_ok:
        return None
    return AccountRow(platform, handle, user_id, followers)


def _person(line: int, cells: Mapping[str, str], errors: list[RowError]) -> PersonRow | None:
    row = _Row(line, cells, errors)
    before = len(errors)
    nip = row.checked("nip", check_nip)
    name = _text(row, "name", required=True, max_length=200)
    unit = _text(row, "unit", required=True, max_length=200)
    email = _optional(row, "email", normalise_email)
    phone = _optional(row, "phone", normalise_phone)
    messenger = _messenger(row, email, phone)
    consent_at = _consent(row)
    version = _consent_version(row)
    accounts = tuple(a for p in PLATFORMS if (a := _account(row, p)) is not None)
    if (
        len(errors) > before
        or nip is None
        or name is None
        or unit is None
        or consent_at is None
        or version is None
    ):
        return None
    return PersonRow(line, nip, name, unit, email, phone, messenger, consent_at, version, accounts)


# --- validating the whole file ---------------------------------------------------------------


def _parse(text: str, errors: list[RowError], progress: ProgressCallback | None) -> list[PersonRow]:
    try:
        records = list(_records(text))
    except csv.Error as exc:
        errors.append(
            RowError(1, "file", N_("The file is not valid CSV: %(reason)s"), {"reason": str(exc)})
        )
        return []
    if not records:
        errors.append(RowError(1, "file", N_("The file is empty.")))
        return []
    header_line, header_cells = records[0]
    header = _read_header(header_cells, header_line, errors)
    if errors:
        return []
    people: list[PersonRow] = []
    for done, (line, cells) in enumerate(records[1:], start=1):
        if len(cells) > len(header):
            errors.append(RowError(line, "row", N_("This row has more cells than the header.")))
            continue
        person = _person(line, dict(zip(header, cells, strict=False)), errors)
        if person is not None:
            people.append(person)
        if progress is not None:
            progress(done, len(records) - 1)
    return people


def _check_duplicates(people: list[PersonRow], errors: list[RowError]) -> None:
    nips: dict[str, int] = {}
    emails: dict[str, int] = {}
    accounts: dict[tuple[str, str, str], int] = {}
    for person in people:
        if person.nip in nips:
            errors.append(
                RowError(
                    person.line,
                    "nip",
                    N_("This NIP is already on line %(other)s."),
                    {"other": nips[person.nip]},
                )
            )
        nips.setdefault(person.nip, person.line)
        if person.email is not None:
            if person.email in emails:
                errors.append(
                    RowError(
                        person.line,
                        "email",
                        N_("This e-mail address is already on line %(other)s."),
                        {"other": emails[person.email]},
                    )
                )
            emails.setdefault(person.email, person.line)
        for account in person.accounts:
            keys = [(account.platform, "handle", account.handle)]
            if account.user_id is not None:
                keys.append((account.platform, "user_id", account.user_id))
            for key in keys:
                if key in accounts:
                    errors.append(
                        RowError(
                            person.line,
                            f"{account.platform}_{key[1]}",
                            N_("This account is already on line %(other)s."),
                            {"other": accounts[key]},
                        )
                    )
                accounts.setdefault(key, person.line)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


@dataclass(frozen=True)
class _StoredPerson:
    """The stored columns of one ASN the import reads or may change (no ORM object)."""

    id: int
    agency_id: int
    unit_id: int
    name: str
    email: str | None
    phone: str | None
    messenger: str
    consent_at: datetime | None
    consent_version: str | None
    status: str


@dataclass(frozen=True)
class _StoredAccount:
    id: int
    platform_user_id: str | None
    handle: str
    followers: int


_PERSON_COLUMNS = [
    _ASN.c[name]
    for name in (
        "id",
        "nip",
        "agency_id",
        "unit_id",
        "name",
        "email",
        "phone",
        "messenger",
        "consent_at",
        "consent_version",
        "status",
    )
]


def _existing_people(session: Session, people: list[PersonRow]) -> dict[str, _StoredPerson]:
    found: dict[str, _StoredPerson] = {}
    for chunk in _chunks({p.nip for p in people}):
        query = core_select(*_PERSON_COLUMNS).where(_ASN.c.nip.in_(chunk))
        for id_, nip, *rest in session.execute(query):
            found[nip] = _StoredPerson(id_, *rest)
    return found


def _check_database(
    session: Session, agency: Agency, people: list[PersonRow], errors: list[RowError]
) -> dict[str, _StoredPerson]:
    """Refuse what would take someone else's NIP, e-mail or platform account."""
    existing = _existing_people(session, people)
    for person in people:
        asn = existing.get(person.nip)
        if asn is not None and asn.agency_id != agency.id:
            errors.append(
                RowError(person.line, "nip", N_("This NIP is enrolled in another agency."))
            )
    email_owner: dict[str, str | None] = {}
    for chunk in _chunks({p.email for p in people if p.email}):
        rows = session.exec(select(Asn.email, Asn.nip).where(col(Asn.email).in_(chunk)))
        email_owner.update({email: nip for email, nip in rows if email is not None})
    account_owner: dict[tuple[str, str], str | None] = {}
    for platform in PLATFORMS:
        ids = {a.user_id for p in people for a in p.accounts if a.platform == platform}
        for chunk in _chunks(ids):
            query = (
                select(SocialAccount.platform_user_id, Asn.nip)
                .join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
                .where(SocialAccount.platform == platform)
                .where(col(SocialAccount.platform_user_id).in_(chunk))
            )
            rows = session.exec(query)
            account_owner.update({(platform, uid): nip for uid, nip in rows if uid is not None})
    handle_owner: dict[tuple[str, str], str | None] = {}
    for platform in PLATFORMS:
        handles = {a.handle for p in people for a in p.accounts if a.platform == platform}
        for chunk in _chunks(handles):
            query = (
                select(SocialAccount.handle, Asn.nip)
                .join(Asn, col(Asn.id) == col(SocialAccount.asn_id))
                .where(SocialAccount.platform == platform)
                .where(col(SocialAccount.handle).in_(chunk))
            )
            handle_owner.update({(platform, h): nip for h, nip in session.exec(query)})
    for person in people:
        if person.email and person.email in email_owner and email_owner[person.email] != person.nip:
            errors.append(
                RowError(
                    person.line,
                    "email",
                    N_("This e-mail address belongs to another enrolled person."),
                )
            )
        for account in person.accounts:
            taken = [
                (column, key)
                for column, key, owners in (
                    ("user_id", (account.platform, account.user_id or ""), account_owner),
                    ("handle", (account.platform, account.handle), handle_owner),
                )
                if key in owners and owners[key] != person.nip
            ]
            for column, _key in taken[:1]:
                errors.append(
                    RowError(
                        person.line,
                        f"{account.platform}_{column}",
                        N_("This %(platform)s account is already enrolled by another person."),
                        {"platform": account.platform},
                    )
                )
    return existing


def _match_units(
    session: Session,
    agency: Agency,
    people: list[PersonRow],
    errors: list[RowError],
    *,
    create_units: bool,
) -> list[PersonRow]:
    """Each row's unit as the agency spells it (case and spacing aside); an unknown unit is
    an error naming the row unless ``create_units``."""
    query = core_select(_UNIT.c.name).where(_UNIT.c.agency_id == agency.id)
    stored = {_unit_key(name): name for (name,) in session.execute(query)}
    matched: list[PersonRow] = []
    for person in people:
        name = stored.get(_unit_key(person.unit))
        if name is None and create_units:
            stored[_unit_key(person.unit)] = person.unit  # one new unit however it is spelt
        elif name is None:
            errors.append(
                RowError(
                    person.line,
                    "unit",
                    N_(
                        "The agency has no unit %(unit)s. Check its spelling, or allow the "
                        "import to create new units."
                    ),
                    {"unit": person.unit},
                )
            )
        matched.append(replace(person, unit=name) if name and name != person.unit else person)
    return matched


def _unit_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _resolve(people: list[PersonRow], resolve: Resolver, errors: list[RowError]) -> list[PersonRow]:
    """Look up the accounts given by handle alone, one ``resolve`` call per platform."""
    wanted: dict[str, dict[str, None]] = {}
    for person in people:
        for account in person.accounts:
            if account.user_id is None:
                wanted.setdefault(account.platform, {})[account.handle] = None
    answers = {platform: resolve(platform, list(handles)) for platform, handles in wanted.items()}
    resolved: list[PersonRow] = []
    for person in people:
        accounts: list[AccountRow] = []
        for account in person.accounts:
            answer = answers.get(account.platform, {}).get(account.handle)
            if account.user_id is not None or answer is None:
                accounts.append(account)
            elif isinstance(answer, str):
                errors.append(
                    RowError(
                        person.line,
                        f"{account.platform}_handle",
                        answer,
                        {"platform": display_name(account.platform)},
                    )
                )
            else:
                followers = account.followers if account.followers is not None else answer.followers
                accounts.append(replace(account, user_id=answer.user_id, followers=followers))
        resolved.append(replace(person, accounts=tuple(accounts)))
    return resolved


# --- planning: every read and every comparison, before the first write --------------------
#
# On SQLite the first INSERT or UPDATE takes the database's one write lock and the commit
# releases it: every other writer (the web app, the scheduler) waits in between, for at most
# its busy timeout. So the import reads everything it needs and builds every row of every
# statement first; the write phase is then a handful of driver-level executemany calls.
# Ids that do not exist yet while planning (a new unit's, a new person's) are looked up by
# the statement itself through a unique key: ``(SELECT id FROM unit WHERE agency_id = ? AND
# name = ?)`` and ``(SELECT id FROM asn WHERE nip = ?)``.

Params = dict[str, Any]
# Columns whose value is a look-up by a unique key, with the key's columns.
_LOOKUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unit_id": ("unit", ("agency_id", "name")),
    "asn_id": ("asn", ("nip",)),
}


@dataclass(frozen=True)
class _Statement:
    """One executemany: a table, the columns it sets, and one tuple per row.

    An INSERT when ``by_id`` is False; otherwise an UPDATE of those columns whose row id
    is each tuple's last value. A column in _LOOKUPS takes its key's values in its place.
    """

    table: Table
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    by_id: bool = False

    def sql(self, mark: str) -> str:
        values = [self._value(column, mark) for column in self.columns]
        # Only table and column names from the models are interpolated; data are parameters.
        if self.by_id:
            sets = ", ".join(f"{c} = {v}" for c, v in zip(self.columns, values, strict=True))
            return f"UPDATE {self.table.name} SET {sets} WHERE id = {mark}"  # noqa: S608
        names = ", ".join(self.columns)
        return f"INSERT INTO {self.table.name} ({names}) VALUES ({', '.join(values)})"  # noqa: S608

    @staticmethod
    def _value(column: str, mark: str) -> str:
        if column not in _LOOKUPS:
            return mark
        table, keys = _LOOKUPS[column]
        where = " AND ".join(f"{key} = {mark}" for key in keys)
        return f"(SELECT id FROM {table} WHERE {where})"  # noqa: S608


class _Binder:
    """Values as the driver takes them (what SQLAlchemy's column types would do per row)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[str, str], Callable[[Any], Any] | None] = {}

    def __call__(self, table: Table, column: str, value: Any) -> Any:
        key = (table.name, column)
        if key not in self._cache:
            kind = table.c[column].type
            self._cache[key] = kind.dialect_impl(self.dialect).bind_processor(self.dialect)
        processor = self._cache[key]
        return value if processor is None or value is None else processor(value)

    def defaults(self, table: Table, given: Iterable[str]) -> Params:
        """The scalar Python-side defaults of the columns not given (an INSERT in SQL
        skips them, unlike SQLAlchemy's)."""
        values: Params = {}
        for column in table.c:
            if column.name in given or column.default is None or column.primary_key:
                continue
            default = column.default
            if not isinstance(default, ScalarElementColumnDefault):
                raise TypeError(f"{table.name}.{column.name} needs a value from the import")
            values[column.name] = self(table, column.name, default.arg)
        return values


class _Rows:
    """Rows of one statement kind, grouped by the columns they set."""

    def __init__(self, table: Table, binder: _Binder, *, by_id: bool) -> None:
        self.table, self.binder, self.by_id = table, binder, by_id
        self.groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}

    def add(self, values: Params, row_id: int | None = None) -> None:
        """``values`` by column; a _LOOKUPS column is given as a tuple of its key's values."""
        row: list[Any] = []
        for column, value in values.items():
            if column in _LOOKUPS:
                row.extend(value)
            else:
                row.append(self.binder(self.table, column, value))
        if self.by_id:
            row.append(row_id)
        self.groups.setdefault(tuple(values), []).append(tuple(row))

    def statements(self) -> list[_Statement]:
        return [
            _Statement(self.table, columns, rows, self.by_id)
            for columns, rows in self.groups.items()
        ]


def _stored_accounts(session: Session, asn_ids: list[int]) -> dict[tuple[int, str], _StoredAccount]:
    found: dict[tuple[int, str], _StoredAccount] = {}
    c = _ACCOUNT.c
    columns = (c.asn_id, c.platform, c.id, c.platform_user_id, c.handle, c.followers)
    for chunk in _chunks(asn_ids):
        query = core_select(*columns).where(c.asn_id.in_(chunk))
        for asn_id, platform, id_, user_id, handle, followers in session.execute(query):
            found[(asn_id, platform)] = _StoredAccount(id_, user_id, handle, followers)
    return found


def _person_changes(
    stored: _StoredPerson, person: PersonRow, unit_id: int | None, unit_key: tuple[int, str]
) -> Params:
    """The columns of a stored ASN that the row changes, with their new values."""
    wanted: Params = {
        "name": person.name,
        "email": person.email,
        "phone": person.phone,
        "messenger": person.messenger,
        "consent_at": person.consent_at,
        "consent_version": person.consent_version,
    }
    # Consent activates a pending person; a suspended one stays suspended.
    if stored.status == AsnStatus.PENDING:
        wanted["status"] = AsnStatus.ACTIVE.value
    changes = {name: value for name, value in wanted.items() if getattr(stored, name) != value}
    if stored.unit_id != unit_id:
        changes["unit_id"] = unit_key
    return changes


_NEW_PERSON_COLUMNS = (
    "agency_id",
    "unit_id",
    "nip",
    "name",
    "email",
    "phone",
    "messenger",
    "consent_at",
    "consent_version",
    "status",
    "created_at",
)
_NEW_ACCOUNT_COLUMNS = (
    "asn_id",
    "platform",
    "platform_user_id",
    "handle",
    "followers",
    "followers_at",
    "ownership_verified_at",
    "created_at",
)


def _person_values(
    person: PersonRow, agency_id: int, unit_key: tuple[int, str], now: datetime
) -> Params:
    """A new ASN, in _NEW_PERSON_COLUMNS order; consent makes them active at once."""
    return {
        "agency_id": agency_id,
        "unit_id": unit_key,
        "nip": person.nip,
        "name": person.name,
        "email": person.email,
        "phone": person.phone,
        "messenger": person.messenger,
        "consent_at": person.consent_at,
        "consent_version": person.consent_version,
        "status": AsnStatus.ACTIVE.value,
        "created_at": now,
    }


def _account_values(row: AccountRow, nip: str, now: datetime) -> Params:
    """A new account, in _NEW_ACCOUNT_COLUMNS order; its person is looked up by NIP.

    Without a count (a handle alone, not looked up) it has no count yet, not zero followers.
    """
    return {
        "asn_id": (nip,),
        "platform": row.platform,
        "platform_user_id": row.user_id,
        "handle": row.handle,
        "followers": row.followers or 0,
        "followers_at": now if row.followers is not None else None,
        "ownership_verified_at": None,
        "created_at": now,
    }


def _account_changes(stored: _StoredAccount, row: AccountRow, now: datetime) -> Params:
    """The columns of a stored account that the row changes, with their new values."""
    changes: Params = {}
    # A handle alone keeps the stored user id while the handle is the same (an ownership
    # check may have learnt it); another handle is another account.
    same_handle = stored.handle == row.handle
    if (row.user_id is not None or not same_handle) and stored.platform_user_id != row.user_id:
        # A different account: its ownership has not been verified yet.
        changes["platform_user_id"] = row.user_id
        changes["ownership_verified_at"] = None
    if stored.handle != row.handle:
        changes["handle"] = row.handle
    if row.followers is not None and stored.followers != row.followers:
        changes["followers"] = row.followers
        changes["followers_at"] = now
    return changes


def _plan(
    session: Session, agency: Agency, people: list[PersonRow], existing: dict[str, _StoredPerson]
) -> tuple[list[_Statement], ImportResult]:
    """Read what is stored and build every statement of the write phase; writes nothing."""
    agency_id = agency.id
    assert agency_id is not None
    binder = _Binder(session.get_bind().dialect)
    now = utcnow()
    result = ImportResult()
    query = core_select(_UNIT.c.name, _UNIT.c.id).where(_UNIT.c.agency_id == agency_id)
    units: dict[str, int] = {name: uid for name, uid in session.execute(query)}
    new_units = sorted({p.unit for p in people} - units.keys())
    result.units_created = len(new_units)
    unit_inserts = _Rows(_UNIT, binder, by_id=False)
    for name in new_units:
        unit_inserts.add({"agency_id": agency_id, "name": name})

    person_inserts = _Rows(_ASN, binder, by_id=False)
    person_updates = _Rows(_ASN, binder, by_id=True)
    account_inserts = _Rows(_ACCOUNT, binder, by_id=False)
    account_updates = _Rows(_ACCOUNT, binder, by_id=True)
    person_defaults = binder.defaults(_ASN, _NEW_PERSON_COLUMNS)
    account_defaults = binder.defaults(_ACCOUNT, _NEW_ACCOUNT_COLUMNS)
    accounts = _stored_accounts(session, [stored.id for stored in existing.values()])
    for person in people:
        unit_key = (agency_id, person.unit)
        stored = existing.get(person.nip)
        if stored is None:
            values = _person_values(person, agency_id, unit_key, now)
            person_inserts.add({**values, **person_defaults})
            for row in person.accounts:
                account_inserts.add({**_account_values(row, person.nip, now), **account_defaults})
                result.unresolved += row.user_id is None
            result.created += 1
            continue
        changes = _person_changes(stored, person, units.get(person.unit), unit_key)
        if changes:
            person_updates.add(changes, stored.id)
        changed = bool(changes)
        for row in person.accounts:
            current = accounts.get((stored.id, row.platform))
            if current is None:
                account_inserts.add({**_account_values(row, person.nip, now), **account_defaults})
                result.unresolved += row.user_id is None
                changed = True
            elif account_changes := _account_changes(current, row, now):
                account_updates.add(account_changes, current.id)
                result.unresolved += "platform_user_id" in account_changes and not row.user_id
                changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    # Units before the people in them, people before their accounts.
    order = (unit_inserts, person_inserts, person_updates, account_inserts, account_updates)
    return [statement for rows in order for statement in rows.statements()], result


# --- writing: from the first write to the commit -------------------------------------------


class _RosterChangedError(Exception):
    """A row planned for an UPDATE was gone by the time of the write."""


def _write(session: Session, statements: list[_Statement]) -> None:
    """Run the planned statements: one driver-level executemany each, nothing per row."""
    conn = session.connection()
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    for statement in statements:
        done = conn.exec_driver_sql(statement.sql(mark), statement.rows)
        # Both drivers count the rows of a whole executemany. An INSERT that cannot find its
        # unit or person raises IntegrityError (NOT NULL) instead.
        if statement.by_id and done.rowcount != len(statement.rows):
            raise _RosterChangedError


def import_roster(
    session: Session,
    agency: Agency,
    data: str | bytes,
    *,
    create_units: bool = False,
    resolve: Resolver | None = None,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate the whole CSV, then upsert it in one transaction and commit.

    Raises RosterImportError listing every problem (with its line and column) and
    writes nothing when any row is invalid. ``progress(done, total)`` is called per row.
    A unit the agency does not have is an error unless ``create_units``. ``resolve`` looks
    up the accounts given by handle alone (only once every row is valid, so a broken file
    spends no API calls); without it they are imported unresolved.

    Every read and every comparison happens before the first write (``_plan``); the
    write itself is a few set-based statements (``_write``) and the commit, so on SQLite
    other writers wait for the write lock a fraction of a second, not for the import.
    """
    errors: list[RowError] = []
    people = _parse(_decode(data), errors, progress)
    if people:
        people = _match_units(session, agency, people, errors, create_units=create_units)
    if resolve is not None and people and not errors:
        people = _resolve(people, resolve, errors)
    _check_duplicates(people, errors)
    existing = _check_database(session, agency, people, errors) if people else {}
    if errors:
        raise RosterImportError(sorted(errors, key=lambda e: e.line))
    try:
        statements, result = _plan(session, agency, people, existing)
        _write(session, statements)
        session.commit()
    except (IntegrityError, _RosterChangedError) as exc:
        # Someone enrolled the same NIP, e-mail or account while we were importing, or
        # removed someone the file updates.
        session.rollback()
        raise RosterImportError(
            [
                RowError(
                    1,
                    "file",
                    N_("The roster changed while importing; please import the file again."),
                )
            ]
        ) from exc
    except BaseException:
        session.rollback()
        raise
    return result

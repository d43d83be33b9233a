"""CSV roster import: validate every row first, then upsert everything in one transaction.

The file has a header row; columns (any order, case-insensitive):
nip, name, unit, email, phone, messenger, {x,facebook,instagram}_{handle,user_id,followers},
consent_at. Unknown columns are refused so a typo in a header never drops data silently.

NIP, e-mail, phone and handles pass the same rules as the enrolment form (gaung.fields), so
a person is stored alike whichever way they came in: ``0812-3456-7890`` becomes
``+6281234567890``.

Nothing is written unless the whole file is valid: the operator fixes the file and imports
again. Importing the same file twice changes nothing. The import only adds and updates:
accounts or people missing from the file are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gaung.db import utcnow
from gaung.errors import N_, GaungError
from gaung.fields import check_nip, normalise_email, normalise_handle, normalise_phone
from gaung.settings import PLATFORMS, get_settings
from kernel.outbox import PERSON_MESSENGERS, missing_address
from roster.models import Agency, Asn, AsnStatus, SocialAccount, Unit

BASE_COLUMNS = ("nip", "name", "unit", "email", "phone", "messenger", "consent_at")
PLATFORM_FIELDS = ("handle", "user_id", "followers")
COLUMNS = BASE_COLUMNS + tuple(f"{p}_{f}" for p in PLATFORMS for f in PLATFORM_FIELDS)
REQUIRED_COLUMNS = ("nip", "name", "unit", "consent_at")
MAX_FOLLOWERS = 2**31 - 1  # an INTEGER column on PostgreSQL
_CHUNK = 500  # bound the number of bind parameters per IN (...) query

_NO_SPACE = re.compile(r"\S+")

ProgressCallback = Callable[[int, int], None]


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


@dataclass(frozen=True)
class AccountRow:
    platform: str
    handle: str
    user_id: str
    followers: int


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
    accounts: tuple[AccountRow, ...]


# --- reading ---------------------------------------------------------------------------------


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterImportError(
            [RowError(1, "file", N_("The file is not UTF-8 encoded text."))]
        ) from exc


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) per non-blank record; quoted cells may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
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


def _parse_consent(value: str) -> datetime | None:
    """An ISO date or date-time; without an offset it is local time in settings.timezone."""
    try:
        if len(value) <= 10:
            moment = datetime.combine(date.fromisoformat(value), time())
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        return None
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
        row.error("consent_at", N_("Use an ISO date or date-time, e.g. 2026-08-17."))
        return None
    if moment > utcnow():
        row.error("consent_at", N_("The consent date is in the future."))
        return None
    return moment


def _followers(row: _Row, name: str) -> int | None:
    value = row.get(name)
    if not value:
        return 0
    if not value.isascii() or not value.isdigit():
        row.error(name, N_("Followers must be a whole number of zero or more."))
        return None
    number = int(value)
    if number > MAX_FOLLOWERS:
        row.error(name, N_("Followers must be at most %(limit)s."), limit=MAX_FOLLOWERS)
        return None
    return number


def _account(row: _Row, platform: str) -> AccountRow | None:
    handle_col, id_col, followers_col = (f"{platform}_{f}" for f in PLATFORM_FIELDS)
    typed = row.get(handle_col)
    handle = _optional(row, handle_col, lambda value: normalise_handle(platform, value))
    user_id = row.get(id_col)
    followers = _followers(row, followers_col)
    if not typed and not user_id:
        if row.get(followers_col):
            row.error(followers_col, N_("Followers are given but there is no account."))
        return None
    if not typed:
        row.error(handle_col, N_("An account id needs a handle."))
    user_id_ok = False
    if not user_id:
        row.error(id_col, N_("A handle needs the account's user id."))
    elif not _NO_SPACE.fullmatch(user_id) or len(user_id) > 64:
        row.error(id_col, N_("A user id has no spaces and at most 64 characters."))
    else:
        user_id_ok = True
    if handle is None or followers is None or not user_id_ok:
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
    accounts = tuple(a for p in PLATFORMS if (a := _account(row, p)) is not None)
    if len(errors) > before or nip is None or name is None or unit is None or consent_at is None:
        return None
    return PersonRow(line, nip, name, unit, email, phone, messenger, consent_at, accounts)


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
    accounts: dict[tuple[str, str], int] = {}
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
            key = (account.platform, account.user_id)
            if key in accounts:
                errors.append(
                    RowError(
                        person.line,
                        f"{account.platform}_user_id",
                        N_("This account is already on line %(other)s."),
                        {"other": accounts[key]},
                    )
                )
            accounts.setdefault(key, person.line)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _existing_people(session: Session, people: list[PersonRow]) -> dict[str, Asn]:
    found: dict[str, Asn] = {}
    for chunk in _chunks({p.nip for p in people}):
        for asn in session.exec(select(Asn).where(col(Asn.nip).in_(chunk))):
            assert asn.nip is not None
            found[asn.nip] = asn
    return found


def _check_database(
    session: Session, agency: Agency, people: list[PersonRow], errors: list[RowError]
) -> dict[str, Asn]:
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
            key = (account.platform, account.user_id)
            if key in account_owner and account_owner[key] != person.nip:
                errors.append(
                    RowError(
                        person.line,
                        f"{account.platform}_user_id",
                        N_("This %(platform)s account is already enrolled by another person."),
                        {"platform": account.platform},
                    )
                )
    return existing


# --- writing ---------------------------------------------------------------------------------


def _units(
    session: Session, agency: Agency, people: list[PersonRow], result: ImportResult
) -> dict[str, int]:
    assert agency.id is not None
    query = select(Unit).where(Unit.agency_id == agency.id)
    units = {u.name: u.id for u in session.exec(query)}
    for name in sorted({p.unit for p in people} - units.keys()):
        unit = Unit(agency_id=agency.id, name=name)
        session.add(unit)
        session.flush()
        units[name] = unit.id
        result.units_created += 1
    return {name: uid for name, uid in units.items() if uid is not None}


def _apply_person(asn: Asn, person: PersonRow, unit_id: int) -> bool:
    """Copy the row onto the ASN; True when something changed."""
    wanted: dict[str, Any] = {
        "unit_id": unit_id,
        "name": person.name,
        "email": person.email,
        "phone": person.phone,
        "messenger": person.messenger,
        "consent_at": person.consent_at,
    }
    # Consent activates a pending person; a suspended one stays suspended.
    if asn.status == AsnStatus.PENDING:
        wanted["status"] = AsnStatus.ACTIVE
    changed = False
    for name, value in wanted.items():
        if getattr(asn, name) != value:
            setattr(asn, name, value)
            changed = True
    return changed


def _apply_account(
    current: SocialAccount | None, asn_id: int, row: AccountRow
) -> SocialAccount | None:
    """The account to save (new or changed), or None when it is already up to date."""
    now = utcnow()
    if current is None:
        return SocialAccount(
            asn_id=asn_id,
            platform=row.platform,
            platform_user_id=row.user_id,
            handle=row.handle,
            followers=row.followers,
            followers_at=now,
        )
    if (current.platform_user_id, current.handle, current.followers) == (
        row.user_id,
        row.handle,
        row.followers,
    ):
        return None
    if current.platform_user_id != row.user_id:
        # A different account: its ownership has not been verified yet.
        current.ownership_verified_at = None
    if current.followers != row.followers:
        current.followers_at = now
    current.platform_user_id, current.handle, current.followers = (
        row.user_id,
        row.handle,
        row.followers,
    )
    return current


def _accounts_by_asn(session: Session, asn_ids: list[int]) -> dict[tuple[int, str], SocialAccount]:
    found: dict[tuple[int, str], SocialAccount] = {}
    for chunk in _chunks(asn_ids):
        query = select(SocialAccount).where(col(SocialAccount.asn_id).in_(chunk))
        for account in session.exec(query):
            found[(account.asn_id, account.platform)] = account
    return found


def _write(
    session: Session, agency: Agency, people: list[PersonRow], existing: dict[str, Asn]
) -> ImportResult:
    assert agency.id is not None
    result = ImportResult()
    units = _units(session, agency, people, result)
    accounts = _accounts_by_asn(session, [a.id for a in existing.values() if a.id is not None])
    for person in people:
        asn = existing.get(person.nip)
        created = asn is None
        if asn is None:
            asn = Asn(
                agency_id=agency.id,
                unit_id=units[person.unit],
                nip=person.nip,
                name=person.name,
                status=AsnStatus.ACTIVE,
            )
        changed = _apply_person(asn, person, units[person.unit])
        session.add(asn)
        session.flush()
        assert asn.id is not None
        for row in person.accounts:
            saved = _apply_account(accounts.get((asn.id, row.platform)), asn.id, row)
            if saved is not None:
                session.add(saved)
                changed = True
        if created:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
    return result


def import_roster(
    session: Session,
    agency: Agency,
    data: str | bytes,
    *,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate the whole CSV, then upsert it in one transaction and commit.

    Raises RosterImportError listing every problem (with its line and column) and
    writes nothing when any row is invalid. ``progress(done, total)`` is called per row.
    """
    errors: list[RowError] = []
    people = _parse(_decode(data), errors, progress)
    _check_duplicates(people, errors)
    existing = _check_database(session, agency, people, errors) if people else {}
    if errors:
        raise RosterImportError(sorted(errors, key=lambda e: e.line))
    try:
        result = _write(session, agency, people, existing)
        session.commit()
    except IntegrityError as exc:
        # Someone enrolled the same NIP, e-mail or account while we were importing.
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

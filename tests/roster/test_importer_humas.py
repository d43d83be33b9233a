"""The roster import with real Humas files: Excel in Indonesian locale, handles without ids,
units that must exist, the consent version (issue 13, item 9)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, func, select

from channels import platforms
from roster.enrolment import CONSENT_VERSION
from roster.importer import (
    COLUMNS,
    RosterImportError,
    import_roster,
    template_csv,
)
from roster.models import Agency, Asn, SocialAccount, Unit
from scheduler.handles import PlatformResolver
from tests.channels.fakes_x import FakeX, connect, not_found, problem, user
from tests.factories import make_agency, make_asn, make_unit

USERS_BY = "/2/users/by"


def _rows(*rows: dict[str, str], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(COLUMNS), delimiter=delimiter, lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _row(n: int, **overrides: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        nip=f"{199001012015031000 + n}",
        name=f"Siti Rahmawati {n}",
        unit="Biro Humas",
        email=f"siti{n}@kominfo.go.id",
        x_handle=f"siti_{n}",
        x_user_id=f"10{n}",
        x_followers="1200",
        consent_at="15/01/2026",
    )
    row.update(overrides)
    return row


@pytest.fixture
def agency(session: Session) -> Agency:
    agency = make_agency(session)
    make_unit(session, agency, "Biro Humas")
    return agency


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _errors(
    session: Session, agency: Agency, data: str | bytes, **options: Any
) -> set[tuple[int, str, str]]:
    """The (line, field, message) of every error; the import must fail."""
    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data, **options)
    return {(e.line, e.field, e.render()) for e in caught.value.errors}


# --- Excel in Indonesian locale --------------------------------------------------------------


def test_an_excel_file_in_indonesian_locale_imports(session: Session, agency: Agency) -> None:
    # Excel on Windows "CSV": Windows-1252, ";" separated, day-first dates, 1.200 followers.
    data = _rows(
        _row(1, name="Désy Ñoviani", x_followers="1.200", consent_at="15/01/2026 09.30"),
        _row(2, name="Budi; Santoso", consent_at="5/2/2026"),
        delimiter=";",
    ).encode("cp1252")

    result = import_roster(session, agency, data)

    assert result.created == 2
    first = session.exec(select(Asn).where(Asn.nip == "199001012015031001")).one()
    assert first.name == "Désy Ñoviani"
    assert first.consent_at is not None
    # Day first, Jakarta time (UTC+7).
    assert first.consent_at.astimezone(UTC) == datetime(2026, 1, 15, 2, 30, tzinfo=UTC)
    second = session.exec(select(Asn).where(Asn.nip == "199001012015031002")).one()
    assert second.name == "Budi; Santoso"
    assert second.consent_at is not None
    assert second.consent_at.astimezone(UTC) == datetime(2026, 2, 4, 17, 0, tzinfo=UTC)
    x = session.exec(select(SocialAccount).where(SocialAccount.asn_id == first.id)).one()
    assert x.followers == 1200


def test_utf8_with_a_bom_and_semicolons_imports(session: Session, agency: Agency) -> None:
    data = ("\ufeff" + _rows(_row(1, name="Ni Luh Putu Ayu, S.Sos."), delimiter=";")).encode()

    assert import_roster(session, agency, data).created == 1
    assert session.exec(select(Asn.name)).one() == "Ni Luh Putu Ayu, S.Sos."


@pytest.mark.parametrize(
    "data",
    [
        _rows(_row(1)).encode() + b"\x81\x8d\x90",  # neither UTF-8 nor Windows-1252
        _rows(_row(1)).encode("utf-16"),  # Excel's "Unicode Text"
    ],
    ids=["undecodable", "utf-16"],
)
def test_an_undecodable_file_is_refused_clearly(
    session: Session, agency: Agency, data: bytes
) -> None:
    (error,) = _errors(session, agency, data)
    assert error[:2] == (1, "file")
    assert "UTF-8 or Windows-1252" in error[2]


@pytest.mark.parametrize("value", ["31/02/2026", "2026/01/15", "15/01/26", "01/15/2026"])
def test_a_date_that_is_not_day_first_or_iso_names_its_row(
    session: Session, agency: Agency, value: str
) -> None:
    errors = _errors(session, agency, _rows(_row(1), _row(2, consent_at=value)))
    assert {(line, field) for line, field, _ in errors} == {(3, "consent_at")}


def test_the_template_opens_in_columns_in_excel_and_imports_once_filled(
    session: Session, agency: Agency
) -> None:
    template = template_csv()
    assert template.startswith(b"\xef\xbb\xbf")
    assert template.decode("utf-8-sig").rstrip("\r\n").split(";") == list(COLUMNS)
    filled = template + _rows(_row(1), delimiter=";").split("\r\n", 1)[1].encode("utf-8")

    assert import_roster(session, agency, filled).created == 1


# --- units -----------------------------------------------------------------------------------


def test_an_unknown_unit_is_an_error_naming_the_row_and_nothing_is_written(
    session: Session, agency: Agency
) -> None:
    data = _rows(_row(1), _row(2, unit="Biro Hukum"))

    errors = _errors(session, agency, data)

    assert _count(session, Asn) == 0
    assert errors == {
        (
            3,
            "unit",
            "The agency has no unit Biro Hukum. Check its spelling, or allow the import to "
            "create new units.",
        )
    }
    assert _count(session, Unit) == 1


def test_create_units_creates_them_once_however_they_are_spelt(
    session: Session, agency: Agency
) -> None:
    data = _rows(
        _row(1, unit="Biro Hukum"), _row(2, unit="biro  hukum"), _row(3, unit="BIRO HUMAS")
    )

    result = import_roster(session, agency, data, create_units=True)

    assert result.units_created == 1
    names = session.exec(select(Unit.name).where(Unit.agency_id == agency.id)).all()
    assert sorted(names) == ["Biro Hukum", "Biro Humas"]
    units = {u.id: u.name for u in session.exec(select(Unit))}
    assert sorted(units[a.unit_id] for a in session.exec(select(Asn))) == [
        "Biro Hukum",
        "Biro Hukum",
        "Biro Humas",
    ]


# --- consent version -------------------------------------------------------------------------


def test_consent_version_is_the_column_or_the_current_one(session: Session, agency: Agency) -> None:
    data = _rows(_row(1), _row(2, consent_version="2025-03"))

    import_roster(session, agency, data)

    versions = dict(session.exec(select(Asn.nip, Asn.consent_version)).all())
    assert versions == {"199001012015031001": CONSENT_VERSION, "199001012015031002": "2025-03"}
    again = import_roster(session, agency, _rows(_row(1, consent_version="2025-03"), _row(2)))
    assert (again.updated, again.unchanged) == (2, 0)
    assert set(session.exec(select(Asn.consent_version)).all()) == {CONSENT_VERSION, "2025-03"}


def test_a_bad_consent_version_names_its_row(session: Session, agency: Agency) -> None:
    errors = _errors(session, agency, _rows(_row(1, consent_version="versi " + "x" * 30)))
    assert {(line, field) for line, field, _ in errors} == {(2, "consent_version")}


# --- handles without ids ---------------------------------------------------------------------


def test_a_handle_alone_is_imported_unresolved_without_a_lookup(
    session: Session, agency: Agency
) -> None:
    data = _rows(_row(1, x_handle="@Siti_1", x_user_id="", x_followers=""))

    result = import_roster(session, agency, data)

    assert result.unresolved == 1
    account = session.exec(select(SocialAccount)).one()
    assert (account.handle, account.platform_user_id) == ("siti_1", None)
    assert (account.followers, account.followers_at, account.ownership_verified_at) == (
        0,
        None,
        None,
    )
    # The ownership check learns the id later; importing the same file again keeps it.
    account.platform_user_id = "4242"
    session.add(account)
    session.commit()
    again = import_roster(session, agency, data)
    assert (again.unchanged, again.unresolved) == (1, 0)
    session.refresh(account)
    assert account.platform_user_id == "4242"


def test_a_handle_enrolled_by_another_person_is_refused(session: Session, agency: Agency) -> None:
    unit = session.exec(select(Unit).where(Unit.agency_id == agency.id)).one()
    other = make_asn(session, unit, platforms=())
    session.add(SocialAccount(asn_id=other.id or 0, platform="x", handle="siti_1"))
    session.commit()
    before = _count(session, Asn)

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, _rows(_row(1, x_user_id="")))

    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "x_handle")]
    assert _count(session, Asn) == before


@pytest.fixture
def resolver(fake_x: FakeX, monkeypatch: pytest.MonkeyPatch) -> PlatformResolver:
    monkeypatch.setitem(platforms.PLATFORMS, "x", lambda: connect(fake_x))
    return PlatformResolver()


def _users_by(
    *found: dict[str, Any], missing: tuple[str, ...] = (), suspended: tuple[str, ...] = ()
) -> dict[str, Any]:
    """X's answer to GET /2/users/by?usernames=… (found users, errors for the others)."""
    body: dict[str, Any] = {}
    if found:
        body["data"] = list(found)
    errors = [not_found(name, "user", "usernames") for name in missing]
    for name in suspended:
        error = not_found(name, "user", "usernames")
        error |= {"title": "Forbidden", "detail": f"User has been suspended: [{name}]."}
        errors.append(error)
    if errors:
        body["errors"] = errors
    return body


def test_handles_are_looked_up_on_x_in_one_call_per_hundred(
    session: Session, agency: Agency, fake_x: FakeX, resolver: PlatformResolver
) -> None:
    rows = [_row(n, x_handle=f"Siti_{n}", x_user_id="", x_followers="") for n in range(1, 151)]
    fake_x.add(USERS_BY, _users_by(*(user(f"50{n}", f"Siti_{n}", 3000 + n) for n in range(1, 101))))
    fake_x.add(
        USERS_BY, _users_by(*(user(f"50{n}", f"Siti_{n}", 3000 + n) for n in range(101, 151)))
    )

    result = import_roster(session, agency, _rows(*rows), resolve=resolver)

    assert (result.created, result.unresolved) == (150, 0)
    assert fake_x.paths() == [USERS_BY, USERS_BY]
    assert len(fake_x.params(0)["usernames"].split(",")) == 100
    assert resolver.calls == {"x": 2}
    account = session.exec(select(SocialAccount).where(SocialAccount.handle == "siti_7")).one()
    assert (account.platform_user_id, account.followers) == ("507", 3007)
    assert account.followers_at is not None


def test_a_handle_x_does_not_know_or_has_suspended_fails_the_file_naming_its_row(
    session: Session, agency: Agency, fake_x: FakeX, resolver: PlatformResolver
) -> None:
    rows = [_row(n, x_user_id="", x_followers="") for n in (1, 2, 3)]
    fake_x.add(
        USERS_BY, _users_by(user("501", "siti_1"), missing=("siti_2",), suspended=("siti_3",))
    )

    errors = _errors(session, agency, _rows(*rows), resolve=resolver)

    assert errors == {
        (3, "x_handle", "X has no account with this handle."),
        (4, "x_handle", "This X account is suspended."),
    }
    assert _count(session, SocialAccount) == 0


def test_a_file_with_errors_spends_no_lookups(
    session: Session, agency: Agency, fake_x: FakeX, resolver: PlatformResolver
) -> None:
    rows = [_row(1, x_user_id=""), _row(2, nip="123")]

    _errors(session, agency, _rows(*rows), resolve=resolver)

    assert fake_x.requests == []


def test_a_rate_limited_lookup_writes_nothing_and_says_so(
    session: Session, agency: Agency, fake_x: FakeX, resolver: PlatformResolver
) -> None:
    fake_x.add(USERS_BY, problem(429, "Too Many Requests", "Too Many Requests"), status=429)

    errors = _errors(session, agency, _rows(_row(1, x_user_id="")), resolve=resolver)

    ((line, field, message),) = errors
    assert (line, field) == (1, "file")
    assert message.startswith("The handles could not be looked up on X")


def test_a_platform_not_connected_or_facebook_is_not_called(
    session: Session, agency: Agency, fake_x: FakeX, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(platforms.PLATFORMS, "x", lambda: connect(fake_x, bearer_token=""))
    row = _row(1, x_user_id="", x_followers="", facebook_handle="siti.fb")

    result = import_roster(session, agency, _rows(row), resolve=PlatformResolver())

    assert result.unresolved == 2
    assert fake_x.requests == []
    handles = session.exec(select(SocialAccount.handle, SocialAccount.platform_user_id)).all()
    assert sorted(handles) == [("siti.fb", None), ("siti_1", None)]

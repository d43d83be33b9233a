"""CSV roster import: all-or-nothing validation, upserts, idempotent re-imports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlmodel import Session, func, select

from roster import importer
from roster.importer import COLUMNS, RosterImportError, RowError
from roster.models import Agency, Asn, AsnStatus, SocialAccount, Unit
from tests.factories import make_agency, make_asn, make_unit

# These tests let the import create the units it names (``--create-units``); unknown units
# without it: tests/roster/test_importer_humas.py.
import_roster = partial(importer.import_roster, create_units=True)
HEADER = ",".join(COLUMNS)
FIELDS = list(COLUMNS)


def _csv(*rows: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _row(n: int, **overrides: str) -> dict[str, str]:
    row = {
        "nip": f"{199001012015031000 + n}",
        "name": f"Siti Rahmawati {n}",
        "unit": "Biro Humas",
        "email": f"siti{n}@kominfo.go.id",
        "phone": "",
        "messenger": "email",
        "x_handle": f"@Siti_{n}",
        "x_user_id": f"10{n}",
        "x_followers": "1200",
        "facebook_handle": "",
        "facebook_user_id": "",
        "facebook_followers": "",
        "instagram_handle": f"siti.ig{n}",
        "instagram_user_id": f"77{n}",
        "instagram_followers": "640",
        "consent_at": "2026-01-15",
    }
    row.update(overrides)
    return row


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_valid_file_creates_people_units_and_accounts(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(_row(1), _row(2, unit="Direktorat Informasi"))

    result = import_roster(session, agency, data)

    assert (result.created, result.updated, result.unchanged, result.units_created) == (2, 0, 0, 2)
    asn = session.exec(select(Asn).where(Asn.nip == "199001012015031001")).one()
    assert asn.status == AsnStatus.ACTIVE
    assert asn.consent_at is not None
    # A bare date is midnight in Jakarta (UTC+7).
    assert asn.consent_at.astimezone(UTC) == datetime(2026, 1, 14, 17, 0, tzinfo=UTC)
    accounts = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).all()
    assert {(a.platform, a.handle, a.followers) for a in accounts} == {
        ("x", "siti_1", 1200),
        ("instagram", "siti.ig1", 640),
    }
    units = session.exec(select(Unit.name).where(Unit.agency_id == agency.id)).all()
    assert sorted(units) == ["Biro Humas", "Direktorat Informasi"]


def test_reimporting_the_same_file_changes_nothing(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(_row(1), _row(2))
    import_roster(session, agency, data)

    again = import_roster(session, agency, data.encode())

    assert (again.created, again.updated, again.unchanged, again.units_created) == (0, 0, 2, 0)
    assert _count(session, Asn) == 2
    assert _count(session, SocialAccount) == 4


def test_changed_row_updates_the_person_and_their_account(session: Session) -> None:
    agency = make_agency(session)
    import_roster(session, agency, _csv(_row(1), _row(2)))

    result = import_roster(session, agency, _csv(_row(1, x_followers="5000"), _row(2)))

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    account = session.exec(
        select(SocialAccount).where(SocialAccount.platform_user_id == "101")
    ).one()
    assert account.followers == 5000
    assert _count(session, SocialAccount) == 4


def test_one_bad_row_imports_nothing_and_names_its_line_and_field(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(_row(1), _row(2, nip="12345"), _row(3))

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "nip")]
    assert "18 digits" in str(caught.value.errors[0])
    assert _count(session, Asn) == 0
    assert _count(session, Unit) == 0


def test_phone_and_email_are_stored_as_the_enrolment_form_stores_them(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(_row(1, phone="0812-3456-7890", email="Budi.Santoso@Kominfo.GO.ID"))

    import_roster(session, agency, data)

    asn = session.exec(select(Asn)).one()
    assert (asn.phone, asn.email) == ("+6281234567890", "budi.santoso@kominfo.go.id")
    # Typed differently, the same person is unchanged on the next import.
    again = _csv(_row(1, phone="+62 812 3456 7890", email="budi.santoso@kominfo.go.id"))
    assert import_roster(session, agency, again).unchanged == 1


def test_a_bad_phone_email_or_handle_names_its_line_and_field(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(
        _row(1, phone="0812-3456"),
        _row(2, email="budi@kominfo"),
        _row(3, phone="0812 3456 7890 ext 9", email="Budi <budi@kominfo.go.id>"),
        _row(4, x_handle="https://x.com/not a handle"),
        _row(5),
    )

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    assert [(e.line, e.field) for e in caught.value.errors] == [
        (2, "phone"),
        (3, "email"),
        (4, "email"),
        (4, "phone"),
        (5, "x_handle"),
    ]
    assert str(caught.value.errors[0]) == (
        "line 2, field phone: Enter a mobile number such as 0812 3456 7890 or +62 812 3456 7890."
    )
    assert str(caught.value.errors[1]) == (
        "line 3, field email: This is not a valid e-mail address."
    )
    assert _count(session, Asn) == 0


def test_every_error_in_the_file_is_reported_at_once(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(
        _row(1, name="", email="not-an-email"),
        _row(2, messenger="pigeon", x_followers="-3"),
        _row(3, consent_at=""),
        _row(4, facebook_handle="", facebook_user_id="55"),
        _row(5, instagram_handle="", instagram_user_id="991"),
        _row(6, x_handle="two words"),
    )

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    assert {(e.line, e.field) for e in caught.value.errors} == {
        (2, "name"),
        (2, "email"),
        (3, "messenger"),
        (3, "x_followers"),
        (4, "consent_at"),
        (5, "facebook_handle"),
        (6, "instagram_handle"),
        (7, "x_handle"),
    }


def test_an_unknown_messenger_is_refused_with_every_choice_named(session: Session) -> None:
    agency = make_agency(session)

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, _csv(_row(1, messenger="pigeon")))

    [error] = caught.value.errors
    assert (error.line, error.field) == (2, "messenger")
    assert error.render() == "Use one of: email, telegram, whatsapp, webhook."


def test_the_sms_gateway_messenger_is_imported_with_its_phone(session: Session) -> None:
    agency = make_agency(session)

    import_roster(session, agency, _csv(_row(1, messenger="webhook", phone="+6281234567890")))

    asn = session.exec(select(Asn).where(Asn.nip == "199001012015031001")).one()
    assert (asn.messenger, asn.phone) == ("webhook", "+6281234567890")


def test_the_sms_gateway_messenger_without_a_phone_names_its_line(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(_row(1), _row(2, messenger="webhook", phone=""))

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "phone")]
    assert "SMS" in str(caught.value.errors[0])
    assert _count(session, Asn) == 0


def test_duplicates_inside_the_file_are_refused(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(
        _row(1),
        _row(
            1,
            email="other@kominfo.go.id",
            x_handle="other9",
            x_user_id="x9",
            instagram_handle="other.ig9",
            instagram_user_id="i9",
        ),
        _row(3, x_user_id="101"),
    )

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    found = {(e.line, e.field) for e in caught.value.errors}
    assert found == {(3, "nip"), (4, "x_user_id")}


def test_account_enrolled_by_another_person_is_refused(session: Session) -> None:
    agency = make_agency(session)
    other = make_asn(session, make_unit(session, agency), platforms=("x",))
    taken = session.exec(select(SocialAccount).where(SocialAccount.asn_id == other.id)).one()
    assert taken.platform_user_id is not None

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, _csv(_row(1, x_user_id=taken.platform_user_id)))

    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "x_user_id")]
    assert _count(session, Asn) == 1


def test_nip_of_another_agency_is_refused(session: Session) -> None:
    mine, theirs = make_agency(session), make_agency(session)
    other = make_asn(session, make_unit(session, theirs), platforms=())
    assert other.nip is not None

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, mine, _csv(_row(1, nip=other.nip)))

    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "nip")]


def test_suspended_person_stays_suspended_on_reimport(session: Session) -> None:
    agency = make_agency(session)
    import_roster(session, agency, _csv(_row(1)))
    asn = session.exec(select(Asn)).one()
    asn.status = AsnStatus.SUSPENDED
    session.add(asn)
    session.commit()

    import_roster(session, agency, _csv(_row(1)))

    session.refresh(asn)
    assert asn.status == AsnStatus.SUSPENDED


def test_a_person_moved_to_a_new_unit_with_a_new_account_is_updated(session: Session) -> None:
    agency = make_agency(session)
    import_roster(session, agency, _csv(_row(1), _row(2)))
    moved = _row(1, unit="Direktorat Baru", facebook_handle="siti.fb", facebook_user_id="55")

    result = import_roster(session, agency, _csv(moved, _row(2)))

    assert (result.created, result.updated, result.unchanged, result.units_created) == (0, 1, 1, 1)
    asn = session.exec(select(Asn).where(Asn.nip == "199001012015031001")).one()
    session.refresh(asn)
    unit = session.get(Unit, asn.unit_id)
    assert unit is not None
    assert (unit.name, unit.agency_id) == ("Direktorat Baru", agency.id)
    accounts = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).all()
    assert {(a.platform, a.handle) for a in accounts} == {
        ("x", "siti_1"),
        ("instagram", "siti.ig1"),
        ("facebook", "siti.fb"),
    }


def test_a_pending_person_is_activated_and_a_new_account_id_is_unverified(
    session: Session,
) -> None:
    agency = make_agency(session)
    asn = make_asn(session, make_unit(session, agency), platforms=("x",), status="pending")
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    assert asn.nip is not None
    assert account.ownership_verified_at is not None
    row = _row(1, nip=asn.nip, x_handle=account.handle, x_user_id="another-x-account")
    row.update(instagram_handle="", instagram_user_id="", instagram_followers="")

    result = import_roster(session, agency, _csv(row))

    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    session.refresh(asn)
    session.refresh(account)
    assert (asn.status, asn.name, asn.email) == (AsnStatus.ACTIVE, "Siti Rahmawati 1", row["email"])
    assert (account.platform_user_id, account.followers) == ("another-x-account", 1200)
    assert account.ownership_verified_at is None


def _write_after(monkeypatch: pytest.MonkeyPatch, before: Callable[[], None]) -> None:
    """Run ``before`` once the import has planned its writes and is about to make them."""
    real = importer._write

    def write(session: Session, statements: list[Any]) -> None:
        before()
        real(session, statements)

    monkeypatch.setattr(importer, "_write", write)


def test_an_integrity_error_in_the_middle_of_the_write_leaves_nothing_written(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = make_agency(session)
    import_roster(session, agency, _csv(_row(1)))
    engine = session.get_bind()

    def someone_enrols_row_3s_instagram_account() -> None:
        with Session(engine) as other:
            racer = make_asn(other, make_unit(other, make_agency(other)), platforms=())
            assert racer.id is not None
            other.add(
                SocialAccount(
                    asn_id=racer.id, platform="instagram", platform_user_id="773", handle="r"
                )
            )
            other.commit()

    _write_after(monkeypatch, someone_enrols_row_3s_instagram_account)
    # Row 1 updates a person, row 2 adds one and a unit; row 3's accounts are inserted after
    # both, and its instagram account is the one just taken.
    data = _csv(_row(1, name="Siti R.", x_followers="9"), _row(2, unit="Biro Baru"), _row(3))

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    assert [(e.line, e.field) for e in caught.value.errors] == [(1, "file")]
    assert "changed while importing" in str(caught.value.errors[0])
    mine = session.exec(select(Asn).where(Asn.agency_id == agency.id)).all()
    assert [(a.nip, a.name) for a in mine] == [("199001012015031001", "Siti Rahmawati 1")]
    followers = session.exec(
        select(SocialAccount.followers).where(SocialAccount.platform_user_id == "101")
    ).one()
    assert followers == 1200
    units = session.exec(select(Unit.name).where(Unit.agency_id == agency.id)).all()
    assert units == ["Biro Humas"]
    assert _count(session, SocialAccount) == 3  # row 1's two and the racer's one


def test_a_crash_in_the_middle_of_the_write_leaves_nothing_written(session: Session) -> None:
    agency = make_agency(session)
    import_roster(session, agency, _csv(_row(1)))
    engine = session.get_bind()

    def crash_on_accounts(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO social_account"):
            raise RuntimeError("the process dies here")

    event.listen(engine, "before_cursor_execute", crash_on_accounts)
    try:
        with pytest.raises(RuntimeError):
            import_roster(session, agency, _csv(_row(1, name="Siti R."), _row(2, unit="Baru")))
    finally:
        event.remove(engine, "before_cursor_execute", crash_on_accounts)

    assert session.exec(select(Asn.name)).all() == ["Siti Rahmawati 1"]
    assert session.exec(select(Unit.name)).all() == ["Biro Humas"]
    assert _count(session, SocialAccount) == 2


def test_a_person_removed_before_the_write_fails_the_import_as_a_race(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = make_agency(session)
    import_roster(session, agency, _csv(_row(1, x_handle="", x_user_id="", x_followers="")))
    engine = session.get_bind()

    def someone_removes_row_1() -> None:
        with Session(engine) as other:
            for account in other.exec(select(SocialAccount)):
                other.delete(account)
            other.flush()
            other.delete(other.exec(select(Asn)).one())
            other.commit()

    _write_after(monkeypatch, someone_removes_row_1)

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, _csv(_row(2), _row(1, name="Siti R.")))

    assert "changed while importing" in str(caught.value.errors[0])
    assert _count(session, Asn) == 0


def test_unknown_and_missing_columns_are_refused(session: Session) -> None:
    agency = make_agency(session)
    data = "nip,name,unit,emial\n199001012015031001,Siti,Biro,siti@x.go.id\n"

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    assert {(e.line, e.field) for e in caught.value.errors} == {(1, "emial"), (1, "consent_at")}


def test_line_numbers_count_multiline_cells_and_blank_lines(session: Session) -> None:
    agency = make_agency(session)
    data = _csv(_row(1, name="Siti\nRahmawati")) + "\n" + _csv(_row(2, nip="x")).split("\n", 1)[1]

    with pytest.raises(RosterImportError) as caught:
        import_roster(session, agency, data)

    # header = 1, the first record spans lines 2-3, a blank line 4, the bad row is line 5.
    assert [(e.line, e.field) for e in caught.value.errors] == [(5, "nip")]


def test_non_utf8_bytes_are_refused(session: Session) -> None:
    agency = make_agency(session)
    with pytest.raises(RosterImportError):
        import_roster(session, agency, HEADER.encode() + b"\n\xff\xfe\x00junk\n")


cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
junk = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _errors_of(session: Session, agency: Agency, data: str | bytes) -> list[RowError] | None:
    """None when the import succeeded; any exception but RosterImportError propagates."""
    try:
        import_roster(session, agency, data)
    except RosterImportError as exc:
        return exc.errors
    return None


@junk
@given(rows=st.lists(st.lists(cells, min_size=0, max_size=len(COLUMNS) + 2), max_size=4))
def test_junk_cells_never_crash_with_anything_but_an_import_error(
    session: Session, rows: list[list[str]]
) -> None:
    agency = session.exec(select(Agency).where(Agency.slug == "junk")).first()
    if agency is None:
        agency = make_agency(session, slug="junk")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    errors = _errors_of(session, agency, out.getvalue())
    assert errors is None or (errors and all(e.line >= 1 and e.field for e in errors))


@junk
@given(data=st.binary(max_size=300))
def test_junk_bytes_never_crash_with_anything_but_an_import_error(
    session: Session, data: bytes
) -> None:
    agency = session.exec(select(Agency).where(Agency.slug == "junkbytes")).first()
    if agency is None:
        agency = make_agency(session, slug="junkbytes")
    errors = _errors_of(session, agency, data)
    assert errors is None or errors

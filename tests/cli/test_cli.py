"""The operator's CLI, run in-process against the test database (set_engine via `db`)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from assignments.models import AssignmentStatus
from cli.main import app
from content.models import Campaign, CampaignOffer, Post, PostStatus
from gaung.settings import get_settings
from roster.importer import COLUMNS
from roster.models import Agency, Asn, Role, User
from roster.security import verify_password
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

runner = CliRunner()


@pytest.fixture
def media_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Demo images go to a temporary folder, not the project's var/media."""
    monkeypatch.setenv("GAUNG_MEDIA_DIR", str(tmp_path / "media"))
    get_settings.cache_clear()
    yield tmp_path / "media"
    monkeypatch.undo()
    get_settings.cache_clear()


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_init_creates_agency_and_admin_and_is_idempotent(db: Engine, session: Session) -> None:
    args = ["init", "--admin-email", "Admin@Kominfo.go.id", "--admin-password", "sangat-rahasia-1"]
    args += ["--agency-slug", "kominfo", "--agency-name", "Kementerian Kominfo"]

    first = runner.invoke(app, args)
    second = runner.invoke(app, args)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Already initialised" in second.output
    admin = session.exec(select(User)).one()
    assert (admin.email, admin.role) == ("admin@kominfo.go.id", Role.ADMIN)
    assert verify_password(admin.password_hash, "sangat-rahasia-1")
    assert _count(session, Agency) == 1


def test_init_without_a_terminal_generates_and_prints_the_password(
    db: Engine, session: Session
) -> None:
    result = runner.invoke(
        app, ["init", "--admin-email", "a@kominfo.go.id", "--agency-slug", "kominfo",
              "--agency-name", "Kominfo"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    printed = re.search(r"shown once\): (\S+)", result.output)
    assert printed is not None
    admin = session.exec(select(User)).one()
    assert verify_password(admin.password_hash, printed.group(1))


def test_init_without_a_terminal_and_without_an_email_fails_clearly(
    db: Engine, session: Session
) -> None:
    result = runner.invoke(app, ["init", "--agency-slug", "kominfo", "--agency-name", "Kominfo"])

    assert result.exit_code == 1
    assert "--admin-email is required" in result.output
    # The agency made before the failure was rolled back with it.
    assert _count(session, Agency) == 0


def test_init_refuses_a_short_password(db: Engine, session: Session) -> None:
    result = runner.invoke(
        app, ["init", "--admin-email", "a@kominfo.go.id", "--admin-password", "pendek",
              "--agency-slug", "kominfo", "--agency-name", "Kominfo"],
    )  # fmt: skip

    assert result.exit_code == 1
    assert "at least 12 characters" in result.output
    assert _count(session, User) == 0


def test_init_refuses_a_malformed_admin_email(db: Engine, session: Session) -> None:
    result = runner.invoke(
        app, ["init", "--admin-email", "admin@kominfo", "--admin-password", "sangat-rahasia-1",
              "--agency-slug", "kominfo", "--agency-name", "Kominfo"],
    )  # fmt: skip

    assert result.exit_code == 1
    assert "'admin@kominfo' is not an e-mail address." in result.output
    assert _count(session, User) == 0


def _roster(tmp_path: Path, *nips: str, **cells_of_all: str) -> Path:
    lines = [",".join(COLUMNS)]
    for n, nip in enumerate(nips):
        cells = dict.fromkeys(COLUMNS, "")
        cells |= {
            "nip": nip,
            "name": f"Budi {n}",
            "unit": "Biro Humas",
            "email": f"budi{n}@kominfo.go.id",
            "x_handle": f"budi{n}",
            "x_user_id": f"9{n}",
            "x_followers": "900",
            "consent_at": "2026-01-02",
        } | cells_of_all
        lines.append(",".join(cells[c] for c in COLUMNS))
    path = tmp_path / "roster.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_roster_enrols_everyone_in_a_valid_file(
    db: Engine, session: Session, tmp_path: Path
) -> None:
    make_agency(session, slug="kominfo")
    path = _roster(tmp_path, "199001012015031001", "199001012015031002")

    result = runner.invoke(
        app, ["import-roster", str(path), "--agency", "kominfo", "--create-units"]
    )

    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    assert _count(session, Asn) == 2


def test_import_roster_stores_phone_and_email_as_the_enrolment_form_does(
    db: Engine, session: Session, tmp_path: Path
) -> None:
    make_agency(session, slug="kominfo")
    path = _roster(
        tmp_path, "199001012015031001", phone="0812-3456-7890", email="Budi.Santoso@Kominfo.GO.ID"
    )

    result = runner.invoke(
        app, ["import-roster", str(path), "--agency", "kominfo", "--create-units"]
    )

    assert result.exit_code == 0, result.output
    asn = session.exec(select(Asn)).one()
    assert (asn.phone, asn.email) == ("+6281234567890", "budi.santoso@kominfo.go.id")


def test_import_roster_with_a_bad_row_exits_1_names_it_and_imports_nothing(
    db: Engine, session: Session, tmp_path: Path
) -> None:
    make_agency(session, slug="kominfo")
    path = _roster(tmp_path, "199001012015031001", "19900101", "199001012015031003")

    result = runner.invoke(
        app, ["import-roster", str(path), "--agency", "kominfo", "--create-units"]
    )

    assert result.exit_code == 1
    assert "line 3, field nip: The NIP has 18 digits; this one has 8." in result.output
    assert _count(session, Asn) == 0


def test_import_roster_into_an_unknown_agency_fails_clearly(
    db: Engine, session: Session, tmp_path: Path
) -> None:
    path = _roster(tmp_path, "199001012015031001")

    result = runner.invoke(app, ["import-roster", str(path), "--agency", "nope"])

    assert result.exit_code == 1
    assert "No agency with slug 'nope'" in result.output


def test_report_prints_the_campaign_figures(db: Engine, session: Session) -> None:
    agency = make_agency(session)
    unit = make_unit(session, agency, name="Biro Humas")
    editor = make_user(session, agency)
    campaign = make_campaign(session, agency, editor)
    post = make_post(session, campaign, editor, status=PostStatus.DISPATCHED)
    for followers in (1200, 3400, 700):
        assignment = make_assignment(session, post, make_asn(session, unit, followers=followers))
        if followers != 700:
            assignment.status = AssignmentStatus.REPORTED
            assignment.followers_at_report = followers
            session.add(assignment)
    session.commit()

    result = runner.invoke(app, ["report", str(campaign.id)])

    assert result.exit_code == 0, result.output
    # The first body row of the table is the campaign total.
    total = next(line for line in result.output.splitlines() if line.startswith("│"))
    cells = [c.strip() for c in total.split("│") if c.strip()]
    # Total: 3 assignments, 2 reported, 0 verified, 0 declined, 66.7%, 4,600 potential reach.
    assert cells[1:7] == ["3", "2", "0", "0", "66.7%", "4,600"]
    assert "Biro Humas" in result.output


def test_report_of_an_unknown_campaign_exits_1(db: Engine) -> None:
    result = runner.invoke(app, ["report", "424242"])

    assert result.exit_code == 1
    assert "No campaign with id 424242" in result.output


@pytest.mark.slow
def test_demo_seeds_staff_asn_and_a_campaign_in_every_state(
    db: Engine, session: Session, media_dir: Path
) -> None:
    result = runner.invoke(app, ["demo"])

    assert result.exit_code == 0, result.output
    asn_count = _count(session, Asn)
    assert asn_count >= 50
    statuses = set(session.exec(select(Post.status)).all())
    assert statuses == set(PostStatus)
    rejected = session.exec(select(Post).where(Post.status == PostStatus.REJECTED)).one()
    assert rejected.review_note
    hoax = session.exec(
        select(Campaign).where(
            Campaign.kind == "hoax_clarification",
            col(Campaign.source_campaign_id).is_(None),  # Kominfo's, not a member's copy
        )
    ).one()
    assert session.exec(select(Post.urgent).where(Post.campaign_id == hoax.id)).one()
    # The network: one copy went out, one offer declined, one accepted, one still open.
    offers = Counter(session.exec(select(CampaignOffer.status)).all())
    assert offers == {"accepted": 2, "declined": 1, "offered": 1}
    roles = set(session.exec(select(User.role)).all())
    assert roles == set(Role)
    assert "gaung-demo-2026" in result.output
    assert result.output.count("/inbox/login/") == 3
    assert any(media_dir.iterdir())  # infographics for Instagram were saved

    again = runner.invoke(app, ["demo"])  # keeps the demo, prints the log-ins again
    assert again.exit_code == 0, again.output
    assert "--reset" in again.output
    assert again.output.count("/inbox/login/") == 3
    assert _count(session, Asn) == asn_count


def test_demo_reset_on_postgresql_needs_yes(db: Engine, session: Session) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL asks for --yes; SQLite's file is simply deleted")
    make_agency(session, slug="keep-me")

    result = runner.invoke(app, ["demo", "--reset"])

    assert result.exit_code == 1
    assert "--yes" in result.output
    assert _count(session, Agency) == 1


@pytest.mark.slow
def test_demo_reset_on_sqlite_starts_from_a_fresh_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, media_dir: Path
) -> None:
    monkeypatch.setenv("GAUNG_DATABASE_URL", f"sqlite:///{tmp_path}/demo.db")
    get_settings.cache_clear()

    first = runner.invoke(app, ["demo", "--reset"])
    second = runner.invoke(app, ["demo", "--reset"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    from gaung.db import get_engine

    with Session(get_engine()) as session:
        assert _count(session, Agency) == 3  # Kominfo and its network's two members

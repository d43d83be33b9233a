"""gaung agency add, gaung staff add | reset-password, and gaung init for a second agency."""

from __future__ import annotations

import re

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from roster import staff
from roster.models import Agency, Role, User
from roster.security import verify_password
from tests.factories import make_agency

runner = CliRunner()
STRONG = "kopi tubruk di pagi hujan"


def test_agency_add_and_its_errors(db: Engine, session: Session) -> None:
    done = runner.invoke(app, ["agency", "add", "bps", "--name", "Badan Pusat Statistik"])
    assert done.exit_code == 0, done.output
    assert session.exec(select(Agency).where(Agency.slug == "bps")).one().name == (
        "Badan Pusat Statistik"
    )
    again = runner.invoke(app, ["agency", "add", "bps", "--name", "Lagi"])
    assert again.exit_code == 1
    assert "(slug)" in again.output
    bad = runner.invoke(app, ["agency", "add", "Bad Slug", "--name", "X"])
    assert bad.exit_code == 1
    assert "(slug)" in bad.output


def test_staff_add_with_a_password_from_stdin(db: Engine, session: Session) -> None:
    make_agency(session, slug="kominfo")
    result = runner.invoke(
        app,
        [
            "staff",
            "add",
            "Rina@Kominfo.go.id",
            "--agency",
            "kominfo",
            "--role",
            "approver",
            "--name",
            "Rina",
            "--password-stdin",
        ],
        input=STRONG + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "set-password" not in result.output
    rina = session.exec(select(User).where(User.email == "rina@kominfo.go.id")).one()
    assert rina.role == Role.APPROVER
    assert verify_password(rina.password_hash, STRONG)


def test_staff_add_without_a_password_prints_a_working_invitation(
    db: Engine, session: Session
) -> None:
    make_agency(session, slug="kominfo")
    result = runner.invoke(
        app, ["staff", "add", "tono@kominfo.go.id", "--agency", "kominfo", "--role", "editor"]
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"/account/set-password/(\S+)", result.output)
    assert found, result.output
    staff.use_link(session, found.group(1), password=STRONG, confirm=STRONG)
    reset = runner.invoke(app, ["staff", "reset-password", "TONO@kominfo.go.id"])
    assert reset.exit_code == 0
    assert "/account/set-password/" in reset.output


def test_staff_add_errors_name_the_field(db: Engine, session: Session) -> None:
    make_agency(session, slug="kominfo")
    cases = {
        ("x@kominfo.go.id", "nowhere", "editor"): "(agency)",
        ("x@kominfo.go.id", "kominfo", "boss"): "(role)",
        ("not-an-email", "kominfo", "editor"): "(email)",
    }
    for (email, agency, role), field in cases.items():
        result = runner.invoke(app, ["staff", "add", email, "--agency", agency, "--role", role])
        assert result.exit_code == 1
        assert field in result.output
    weak = runner.invoke(
        app,
        [
            "staff",
            "add",
            "y@kominfo.go.id",
            "--agency",
            "kominfo",
            "--role",
            "editor",
            "--password-stdin",
        ],
        input="password1234\n",
    )
    assert weak.exit_code == 1
    assert "(password)" in weak.output


def test_init_sets_up_a_second_agency_when_asked(db: Engine, session: Session) -> None:
    first = [
        "init",
        "--admin-email",
        "a@kominfo.go.id",
        "--admin-password",
        STRONG,
        "--agency-slug",
        "kominfo",
        "--agency-name",
        "Kominfo",
    ]
    assert runner.invoke(app, first).exit_code == 0
    again = runner.invoke(app, ["init", "--admin-email", "b@kominfo.go.id"])
    assert "Already initialised" in again.output
    second = [
        "init",
        "--admin-email",
        "a@bps.go.id",
        "--admin-password",
        STRONG,
        "--agency-slug",
        "bps",
        "--agency-name",
        "BPS",
    ]
    result = runner.invoke(app, second)
    assert result.exit_code == 0, result.output
    admin = session.exec(select(User).where(User.email == "a@bps.go.id")).one()
    agency = session.get(Agency, admin.agency_id)
    assert agency is not None
    assert agency.slug == "bps"
    assert "Already initialised" in runner.invoke(app, second).output

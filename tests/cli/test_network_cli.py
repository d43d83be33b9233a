"""gaung network create | add | remove | list: the operator's agency networks, audited."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from kernel.audit import AuditLog
from roster import networks
from tests.factories import make_agency

runner = CliRunner()


def test_an_operator_builds_a_network_from_the_command_line(db: Engine, session: Session) -> None:
    for slug in ("kominfo", "kemenkes", "jatim"):
        make_agency(session, slug=slug)
    created = runner.invoke(app, ["network", "create", "Bakohumas", "--coordinator", "kominfo"])
    assert created.exit_code == 0, created.output
    added = runner.invoke(app, ["network", "add", "Bakohumas", "kemenkes", "jatim"])
    assert "added kemenkes, jatim" in added.output
    removed = runner.invoke(app, ["network", "remove", "Bakohumas", "jatim"])
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(app, ["network", "list"])
    assert "kemenkes" in listed.output
    assert "jatim" not in listed.output
    [view] = networks.views(session)
    assert [a.slug for a in view.members] == ["kemenkes"]
    actions = session.exec(
        select(col(AuditLog.action)).where(col(AuditLog.entity) == "agency_network")
    ).all()
    assert sorted(actions) == [
        "network.created",
        "network.member_added",
        "network.member_added",
        "network.member_removed",
    ]


def test_mistakes_name_the_field_and_change_nothing(db: Engine, session: Session) -> None:
    make_agency(session, slug="kominfo")
    unknown = runner.invoke(app, ["network", "create", "Bakohumas", "--coordinator", "nope"])
    assert unknown.exit_code == 1
    assert "(coordinator)" in unknown.output
    runner.invoke(app, ["network", "create", "Bakohumas", "--coordinator", "kominfo"])
    itself = runner.invoke(app, ["network", "add", "Bakohumas", "kominfo"])
    assert itself.exit_code == 1
    assert "(agency)" in itself.output
    missing = runner.invoke(app, ["network", "add", "Lain", "kominfo"])
    assert "(network)" in missing.output
    assert networks.views(session)[0].members == []

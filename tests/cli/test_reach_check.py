"""``gaung reach check``: the live roll-ups against a recount, and ``--fix``."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from assignments import rollup
from cli.main import app
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


def _campaign(session: Session) -> int:
    agency = make_agency(session)
    post = make_post(session, make_campaign(session, agency), make_user(session, agency))
    for platform in ("x", "facebook"):
        make_assignment(session, post, make_asn(session, make_unit(session, agency)), platform)
    return post.campaign_id


def test_check_passes_when_the_rollups_match_and_lists_each_drifted_figure(
    db: Engine, session: Session
) -> None:
    campaign_id = _campaign(session)
    ok = runner.invoke(app, ["reach", "check"])
    assert ok.exit_code == 0, ok.output
    assert "Roll-ups match a recount" in ok.output

    session.execute(
        update(rollup.ReachRollup)
        .where(rollup.ReachRollup.platform == "x")  # type: ignore[arg-type]
        .values(clicks=7)
    )
    session.commit()
    drifted = runner.invoke(app, ["reach", "check", "--campaign", str(campaign_id)])

    assert drifted.exit_code == 1
    assert "clicks" in drifted.output
    assert "+7" in drifted.output
    assert "1 difference(s)" in drifted.output


def test_fix_rewrites_the_rollups_from_the_recount(db: Engine, session: Session) -> None:
    campaign_id = _campaign(session)
    session.execute(update(rollup.ReachRollup).values(assignments=0, verified=3))
    session.commit()

    fixed = runner.invoke(app, ["reach", "check", "--campaign", str(campaign_id), "--fix"])

    assert fixed.exit_code == 0, fixed.output
    assert "Fixed: 2 roll-up row(s)" in fixed.output
    assert rollup.differences(session) == []
    assert runner.invoke(app, ["reach", "check"]).exit_code == 0


def test_an_unknown_campaign_is_a_clear_error(db: Engine) -> None:
    result = runner.invoke(app, ["reach", "check", "--campaign", "999"])

    assert result.exit_code == 2
    assert "--campaign: no campaign with id 999" in result.output

"""gaung token create | revoke."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from roster import api_tokens
from tests.factories import make_agency, make_user

runner = CliRunner()


def test_create_prints_the_token_once_and_stores_its_hash(db: Engine, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    result = runner.invoke(
        app, ["token", "create", "--staff", editor.email.upper(), "--name", "CI", "--expires", "7"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("gaung_")
    assert api_tokens.authenticate(session, secret) == editor
    row = session.exec(select(api_tokens.ApiToken)).one()
    assert row.expires_at is not None
    assert secret != row.token_hash

    assert runner.invoke(app, ["token", "revoke", str(row.id)]).exit_code == 0
    session.expire_all()
    assert api_tokens.authenticate(session, secret) is None


def test_bad_options_are_named(db: Engine, session: Session) -> None:
    editor = make_user(session, make_agency(session))
    unknown = runner.invoke(app, ["token", "create", "--staff", "x@y.go.id", "--name", "CI"])
    assert unknown.exit_code == 1
    assert "--staff" in unknown.output
    days = ["token", "create", "--staff", editor.email, "--name", "CI", "--expires", "0"]
    too_short = runner.invoke(app, days)
    assert too_short.exit_code == 1
    assert "--expires" in too_short.output
    assert session.exec(select(api_tokens.ApiToken)).all() == []

"""`gaung sso set | show | remove`, in-process against the test database."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from roster import oidc
from tests.factories import make_agency

runner = CliRunner()


def test_an_operator_sets_shows_and_removes_an_agencys_sso(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = make_agency(session, slug="bkn-pusat")
    assert agency.id is not None
    result = runner.invoke(
        app,
        [
            "sso",
            "set",
            "--agency",
            "bkn-pusat",
            "--issuer",
            "https://sso.bkn.go.id/realms/asn/",
            "--client-id",
            "gaung",
            "--allow-self-registration",
            "--domain",
            "bkn.go.id",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "GAUNG_OIDC__BKN_PUSAT__CLIENT_SECRET is NOT set" in result.output
    session.expire_all()
    config = oidc.get(session, agency.id)
    assert config is not None
    assert config.issuer == "https://sso.bkn.go.id/realms/asn"
    assert config.allow_self_registration
    assert config.domains == ["bkn.go.id"]

    monkeypatch.setenv("GAUNG_OIDC__BKN_PUSAT__CLIENT_SECRET", "from-env")
    shown = runner.invoke(app, ["sso", "show", "--agency", "bkn-pusat"])
    assert "CLIENT_SECRET is set" in shown.output
    assert "from-env" not in shown.output

    bad = runner.invoke(
        app,
        [
            "sso",
            "set",
            "--agency",
            "bkn-pusat",
            "--issuer",
            "http://sso.bkn.go.id",
            "--client-id",
            "gaung",
        ],
    )
    assert bad.exit_code == 1
    assert "https://" in bad.output

    assert runner.invoke(app, ["sso", "remove", "--agency", "bkn-pusat"]).exit_code == 0
    session.expire_all()
    assert oidc.get(session, agency.id) is None
    assert runner.invoke(app, ["sso", "show", "--agency", "nope"]).exit_code == 1

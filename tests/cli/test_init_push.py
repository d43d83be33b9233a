"""``gaung init`` makes the Web Push (VAPID) key pair, once, with the private half encrypted."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from channels import webpush
from cli.main import app

runner = CliRunner()


def test_init_creates_the_vapid_key_pair_once(db: Engine) -> None:
    args = ["init", "--admin-email", "admin@kominfo.go.id", "--admin-password", "sangat-rahasia-1"]
    args += ["--agency-slug", "kominfo", "--agency-name", "Kementerian Kominfo"]

    first = runner.invoke(app, args)
    with db.connect() as conn:
        stored = conn.exec_driver_sql("SELECT public_key, private_key FROM vapid_key").all()
    second = runner.invoke(app, args)

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    ((public, private),) = stored
    assert webpush.ensure_vapid_key(db) == public  # the second run kept the first pair
    assert len(webpush.b64url_decode(public)) == 65
    assert private.startswith("gAAAA")  # a Fernet token

"""Channel secrets: the stored (encrypted) value wins over the environment, for every channel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels import credentials, facebook, instagram, x
from channels.credentials import SPECS, CredentialError, credential, overlay
from channels.email import EmailMessenger
from channels.telegram import TelegramMessenger
from channels.webhook import WebhookMessenger
from channels.whatsapp import WhatsAppMessenger
from gaung.crypto import KEYS_ENV
from gaung.db import make_engine, set_engine
from gaung.settings import get_settings


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEYS_ENV, key)
    return key


@pytest.fixture
def store(db: Engine, keys: str) -> Iterator[Session]:
    """A session for saving credentials; the read cache is emptied around each test."""
    credentials.clear_cache()
    with Session(db) as session:
        yield session
    credentials.clear_cache()


def _save(session: Session, name: str, value: str) -> None:
    credentials.save(session, name, value, None)
    session.commit()
    credentials.clear_cache()


def test_the_environment_applies_when_nothing_is_stored(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().x, "bearer_token", "env-bearer-token")
    assert credential("x.bearer_token") == "env-bearer-token"
    assert credential("telegram.bot_token") == get_settings().telegram.bot_token


def test_a_stored_value_wins_and_is_encrypted_at_rest(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().x, "bearer_token", "env-bearer-token")
    _save(store, "x.bearer_token", "db-bearer-token-1234")
    assert credential("x.bearer_token") == "db-bearer-token-1234"
    raw = store.execute(text("SELECT value FROM channel_credential")).scalar_one()
    assert "db-bearer-token" not in raw
    assert raw.startswith("gAAAA")  # a Fernet token


def test_every_channel_factory_uses_the_stored_values(store: Session) -> None:
    for spec in SPECS:
        _save(store, spec.name, f"stored-{spec.name}")
    assert x.from_settings().bearer_token == "stored-x.bearer_token"
    assert TelegramMessenger().settings.bot_token == "stored-telegram.bot_token"
    assert WhatsAppMessenger().settings.access_token == "stored-whatsapp.access_token"
    assert EmailMessenger().settings.password == "stored-smtp.password"
    assert WebhookMessenger().settings.token == "stored-webhook.token"
    graph = overlay("graph", get_settings().graph)
    assert (graph.access_token, graph.app_secret) == (
        "stored-graph.access_token",
        "stored-graph.app_secret",
    )
    assert facebook.from_settings().connected()
    assert not get_settings().graph.access_token  # the settings object is left alone


def test_the_message_gateway_token_can_be_stored_instead_of_the_environment(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().webhook, "token", "env-gateway-token")
    assert credential("webhook.token") == "env-gateway-token"

    _save(store, "webhook.token", "stored-gateway-token")

    assert credential("webhook.token") == "stored-gateway-token"
    assert overlay("webhook", get_settings().webhook).token == "stored-gateway-token"


def test_instagram_needs_its_user_id_besides_the_token(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(store, "graph.access_token", "stored-graph-token")
    assert not instagram.from_settings().connected()
    monkeypatch.setattr(get_settings().graph, "ig_user_id", "17841400000000000")
    assert instagram.from_settings().connected()


def test_explicit_settings_given_to_a_messenger_are_kept(store: Session) -> None:
    _save(store, "telegram.bot_token", "stored-token")
    given = get_settings().telegram.model_copy(update={"bot_token": "given-token"})
    assert TelegramMessenger(given).settings.bot_token == "given-token"


def test_reads_are_cached_until_cleared(store: Session) -> None:
    _save(store, "smtp.password", "first-password")
    assert credential("smtp.password") == "first-password"
    credentials.save(store, "smtp.password", "second-password", None)
    store.commit()
    assert credential("smtp.password") == "first-password"  # another process's view
    credentials.clear_cache()
    assert credential("smtp.password") == "second-password"


def test_a_value_saved_under_a_lost_key_is_a_clear_error(
    store: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(store, "whatsapp.access_token", "secret-whatsapp-token")
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())
    credentials.clear_cache()
    with pytest.raises(CredentialError) as caught:
        credential("whatsapp.access_token")
    message = str(caught.value)
    assert "whatsapp.access_token" in message
    assert KEYS_ENV in message
    assert "secret-whatsapp-token" not in message
    # Other credentials are unaffected.
    assert credential("smtp.password") == get_settings().smtp.password
    # And the lost one can be replaced without reading the old value.
    _save(store, "whatsapp.access_token", "new-whatsapp-token")
    assert credential("whatsapp.access_token") == "new-whatsapp-token"


def test_an_unmigrated_database_falls_back_to_the_environment(
    tmp_path: Path, keys: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings().telegram, "bot_token", "env-telegram-token")
    empty = make_engine(f"sqlite:///{tmp_path}/empty.db")
    set_engine(empty)
    credentials.clear_cache()
    try:
        assert credential("telegram.bot_token") == "env-telegram-token"
    finally:
        set_engine(None)
        credentials.clear_cache()
        empty.dispose()

"""Following a database, the sandbox's Telegram knows only the chats ASN linked (as a real
bot can only write to chats that started it) and its page names whose chat a message went to."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from channels.messaging import OutgoingMessage, PermanentSendError
from channels.sandbox.server import SandboxServer
from channels.sandbox.state import World
from channels.telegram import TelegramMessenger
from gaung.settings import TelegramSettings
from scheduler.delivery_errors import explain


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _linked(world: World) -> None:
    """A stand-in for the database: one ASN linked chat 7001."""
    world.set_contacts({("telegram", "7001"): "Siti Rahayu", ("whatsapp", "6281200000001"): "Budi"})


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(World(source=_linked), _free_port()).start() as running:
        yield running


def _send(server: SandboxServer, chat: str) -> str:
    settings = TelegramSettings(bot_token="1:sandbox", api_base_url=server.url)
    message = OutgoingMessage(
        to=chat,
        subject="Penugasan baru",
        text="Ada penugasan baru",
        html=None,
        idempotency_key=chat,
    )
    return TelegramMessenger(settings).send(message).provider_id


def test_a_linked_chat_gets_the_message_and_the_page_names_its_owner(
    server: SandboxServer,
) -> None:
    assert _send(server, "7001").startswith("7001:")

    page = httpx.get(f"{server.url}/sandbox").text

    assert "<td>Siti Rahayu (7001)</td>" in page


def test_an_unknown_chat_is_refused_as_telegram_does_and_explained(
    server: SandboxServer,
) -> None:
    with pytest.raises(PermanentSendError) as refused:
        _send(server, "9999")

    assert refused.value.reason == "Telegram 400: Bad Request: chat not found"
    explained = explain(refused.value.reason, "telegram", "failed")
    assert explained is not None
    assert explained.what == "Telegram no longer knows this ASN's chat."

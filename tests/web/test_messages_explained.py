"""Undelivered messages are explained in Indonesian with what to do, to Humas and to the ASN;
the raw technical reason stays available to staff, folded away.

Failures happen for real: dispatch writes the notices, ``deliver_due`` sends them to a
respx fake of the Telegram Bot API that answers as Telegram does.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assignments import problems
from assignments.problems import ProblemKind
from content.models import PostStatus
from gaung.settings import TelegramSettings, get_settings
from kernel import ratelimit
from roster.models import Asn, Role
from scheduler.deliver import deliver_due
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user
from tests.web.conftest import login_asn, login_staff

TOKEN = "123456789:AAE-explained-test-token"
URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
BLOCKED = "Forbidden: bot was blocked by the user"


@pytest.fixture(autouse=True)
def bot(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """Telegram answers 403 for chat 1001 (the bot is blocked there), ok for the others."""

    def answer(request: httpx.Request) -> httpx.Response:
        if str(json.loads(request.content)["chat_id"]) == "1001":
            body = {"ok": False, "error_code": 403, "description": BLOCKED}
            return httpx.Response(403, json=body)
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 7}})

    settings = get_settings()
    monkeypatch.setattr(settings, "telegram", TelegramSettings(bot_token=TOKEN))
    monkeypatch.setitem(settings.rate_limits, "telegram", 10_000.0)
    ratelimit.reset()
    with respx.mock(assert_all_called=False) as router:
        router.post(URL).mock(side_effect=answer)
        yield router
    ratelimit.reset()


class World:
    def __init__(self, session: Session, db: Engine) -> None:
        self.session, self.db = session, db
        self.agency = make_agency(session)
        self.unit = make_unit(session, self.agency)
        self.editor = make_user(session, self.agency, Role.EDITOR)

    def asn(self, name: str, messenger: str, **changes: object) -> Asn:
        person = make_asn(self.session, self.unit, platforms=["x"])
        person.name, person.messenger = name, messenger
        for key, value in changes.items():
            setattr(person, key, value)
        self.session.add(person)
        self.session.commit()
        return person

    def dispatch_and_deliver(self) -> None:
        campaign = make_campaign(self.session, self.agency, self.editor)
        post = make_post(self.session, campaign, self.editor, status=PostStatus.APPROVED)
        assert post.id is not None
        dispatch_post(self.db, post.id)
        deliver_due(self.db, "w1", limit=50)


def _text(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.text))


def test_staff_see_why_a_message_failed_and_what_to_do_in_indonesian(
    client: TestClient, db: Engine, session: Session
) -> None:
    world = World(session, db)
    world.asn("Andi Blokir", "telegram", telegram_chat_id="1001")
    world.asn("Citra Tanpa Chat", "telegram", telegram_chat_id=None)
    world.asn("Dewi Tanpa Surel", "email", email=None)
    world.dispatch_and_deliver()
    login_staff(client, world.editor)

    page = client.get("/console/messages")

    text = _text(page)
    assert page.status_code == 200
    assert "ASN ini memblokir bot Gaung di Telegram atau menghapus obrolannya." in text
    assert "Minta ASN membuka blokir bot" in text
    assert "ASN ini belum menautkan Telegram ke Gaung." in text
    assert "ASN ini belum punya alamat surel." in text
    assert "Penyebab dan yang perlu dilakukan" in text
    # The technical reason is still there for whoever needs it, but folded away.
    folded = re.findall(r"<details class=\"technical\">(.*?)</details>", page.text, re.S)
    assert any(BLOCKED in html.unescape(part) for part in folded)
    outside = re.sub(r"<details.*?</details>", "", page.text, flags=re.S)
    assert BLOCKED not in html.unescape(outside)
    assert "no address" not in outside
    assert ">email<" not in outside  # the messenger is named as people name it
    assert ">Surel<" in outside


def test_the_asn_is_told_in_their_settings_how_to_fix_a_failed_message(
    client: TestClient, db: Engine, session: Session
) -> None:
    world = World(session, db)
    blocked = world.asn("Andi Blokir", "telegram", telegram_chat_id="1001")
    world.dispatch_and_deliver()
    login_asn(client, blocked)

    settings = _text(client.get("/inbox/settings"))

    assert "Pesan terakhir dari Gaung untuk Anda" in settings
    assert "lewat Telegram" in settings
    assert (
        "Buka blokir bot Gaung di Telegram, lalu tekan lagi tautan Telegram di bawah." in settings
    )
    assert BLOCKED not in settings  # no raw technical text for the ASN
    inbox = _text(client.get("/inbox"))  # where the ASN looks first: a pointer to the fix
    assert "Pesan terakhir dari Gaung untuk Anda" in inbox
    assert "Perbaiki di Pengaturan pesan" in inbox

    blocked = session.get_one(Asn, blocked.id)
    blocked.telegram_chat_id = "1002"  # linked again: the next message arrives
    session.add(blocked)
    session.commit()
    world.dispatch_and_deliver()

    assert "Pesan terakhir dari Gaung untuk Anda" not in _text(client.get("/inbox/settings"))
    assert "Pesan terakhir dari Gaung untuk Anda" not in _text(client.get("/inbox"))


def test_a_verification_problem_keeps_the_platform_words_folded_away(
    client: TestClient, db: Engine, session: Session
) -> None:
    world = World(session, db)
    admin = make_user(session, world.agency, Role.ADMIN)
    campaign = make_campaign(session, world.agency, world.editor)
    post = make_post(session, campaign, world.editor, status=PostStatus.APPROVED)
    problems.record(
        session, post, "x", ProblemKind.AUTH, "X 401: Unauthorized (title: Unauthorized)"
    )
    session.commit()
    login_staff(client, admin)

    page = client.get("/console/channels")

    assert page.status_code == 200
    folded = re.findall(r"<details class=\"technical\">(.*?)</details>", page.text, re.S)
    assert any("X 401: Unauthorized" in part for part in folded)
    outside = re.sub(r"<details.*?</details>", "", page.text, flags=re.S)
    assert "X 401" not in outside
    assert "Rincian teknis" in page.text

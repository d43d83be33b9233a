"""The ASN's message settings, and linking Telegram through a deep link and the bot's webhook."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from gaung.settings import TelegramSettings, WebhookSettings, get_settings
from kernel.models import WorkItem
from kernel.outbox import PERSON_MESSENGERS, OutboxKind, OutboxMessage
from roster.models import Asn
from scheduler.telegram_poll import KEY as POLL_KEY
from tests.factories import make_agency, make_asn, make_unit
from tests.web.conftest import csrf_from, login_asn
from web.inbox_settings import available_messengers

EN = {"Accept-Language": "en"}
BOT = "GaungKominfoBot"
SECRET = "webhook-Secret_123"


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch) -> TelegramSettings:
    """A bot that can link chats (token and username set); updates by polling."""
    configured = TelegramSettings(bot_token="123:AAE-settings-test", bot_username=BOT)
    monkeypatch.setattr(get_settings(), "telegram", configured)
    return configured


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> WebhookSettings:
    """The agency's own message gateway (an SMS bridge) is set up."""
    configured = WebhookSettings(url="https://sms.kominfo.go.id/send", token="gateway-token")
    monkeypatch.setattr(get_settings(), "webhook", configured)
    return configured


@pytest.fixture
def asn(session: Session) -> Asn:
    return make_asn(session, make_unit(session, make_agency(session)))


def _form(client: TestClient, **values: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_from(client, "/inbox/settings"),
        "messenger": "email",
        "email": "",
        "phone": "",
        "locale": "id",
    }
    data.update(values)
    return data


def _stored(session: Session, asn: Asn) -> Asn:
    session.expire_all()
    return session.get_one(Asn, asn.id)


def _update(token: str, chat_id: int = 555123, update_id: int = 9001) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Siti"},
            "chat": {"id": chat_id, "first_name": "Siti", "type": "private"},
            "date": 1763880000,
            "text": f"/start {token}",
        },
    }


def test_settings_need_the_magic_link_sign_in(client: TestClient) -> None:
    response = client.get("/inbox/settings", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/inbox/login"


def test_the_inbox_links_to_the_settings(client: TestClient, asn: Asn) -> None:
    login_asn(client, asn)

    assert 'href="/inbox/settings"' in client.get("/inbox").text


def test_saving_preferences_stores_them_and_switches_the_language(
    client: TestClient, session: Session, asn: Asn
) -> None:
    login_asn(client, asn)

    response = client.post(
        "/inbox/settings",
        data=_form(
            client, email="siti@kominfo.go.id", locale="en", mute_reminders="on", digest="on"
        ),
        follow_redirects=False,
    )

    assert response.status_code == 303
    stored = _stored(session, asn)
    assert (stored.email, stored.locale) == ("siti@kominfo.go.id", "en")
    assert stored.mute_reminders
    assert stored.digest
    page = client.get("/inbox/settings")
    assert "Your settings are saved." in page.text  # now in English
    assert 'lang="en"' in page.text


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "This is not a valid e-mail address."),
        ({"email": ""}, "email", "An e-mail address is needed to send messages by e-mail."),
        (
            {"messenger": "whatsapp"},
            "phone",
            "A phone number is needed to send messages by WhatsApp.",
        ),
        (
            {"messenger": "webhook"},
            "phone",
            "A phone number is needed to send messages by SMS (your agency's gateway).",
        ),
        ({"phone": "12345"}, "phone", "Enter a mobile number such as 0812 3456 7890"),
        ({"messenger": "pigeon"}, "messenger", "Choose how Gaung should reach you."),
        ({"locale": "fr"}, "locale", "Choose a language."),
    ],
)
def test_a_bad_value_is_named_and_nothing_is_stored(
    client: TestClient,
    session: Session,
    asn: Asn,
    values: dict[str, str],
    field: str,
    message: str,
) -> None:
    login_asn(client, asn)
    before = _stored(session, asn).model_dump()

    response = client.post(
        "/inbox/settings", data=_form(client, **{"email": asn.email or "", **values}), headers=EN
    )

    assert response.status_code == 400
    assert f'id="{field}-error"' in response.text
    assert message in html.unescape(response.text)
    assert _stored(session, asn).model_dump() == before


def test_phone_and_email_are_stored_as_enrolment_and_the_roster_import_store_them(
    client: TestClient, session: Session, asn: Asn
) -> None:
    login_asn(client, asn)

    response = client.post(
        "/inbox/settings",
        data=_form(client, phone="0812-3456-7890", email="Budi.Santoso@Kominfo.GO.ID"),
        follow_redirects=False,
    )

    assert response.status_code == 303
    saved = _stored(session, asn)
    assert (saved.phone, saved.email) == ("+6281234567890", "budi.santoso@kominfo.go.id")


def test_an_address_of_another_asn_is_refused(
    client: TestClient, session: Session, asn: Asn
) -> None:
    other = make_asn(session, make_unit(session, make_agency(session)))
    login_asn(client, asn)

    response = client.post(
        "/inbox/settings", data=_form(client, email=other.email or ""), headers=EN
    )

    assert response.status_code == 400
    assert "This e-mail address is used by another ASN." in response.text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("6281234567890", "+6281234567890"),
        ("0044 20 7946 0958", "+442079460958"),
    ],
)
def test_whatsapp_numbers_are_kept_in_international_format(
    client: TestClient,
    session: Session,
    asn: Asn,
    monkeypatch: pytest.MonkeyPatch,
    typed: str,
    stored: str,
) -> None:
    from gaung.settings import WhatsAppSettings

    configured = WhatsAppSettings(access_token="wa", phone_number_id="1065")
    monkeypatch.setattr(get_settings(), "whatsapp", configured)
    login_asn(client, asn)

    response = client.post(
        "/inbox/settings",
        data=_form(client, messenger="whatsapp", phone=typed, email=asn.email or ""),
        follow_redirects=False,
    )

    assert response.status_code == 303
    saved = _stored(session, asn)
    assert (saved.messenger, saved.phone) == ("whatsapp", stored)


def test_a_messenger_gaung_cannot_use_yet_is_refused(
    client: TestClient, session: Session, asn: Asn
) -> None:
    login_asn(client, asn)  # no Telegram bot configured

    page = client.get("/inbox/settings")
    response = client.post(
        "/inbox/settings", data=_form(client, messenger="telegram", email=asn.email or "")
    )

    assert re.search(r'value="telegram"[^>]*disabled', page.text)
    assert response.status_code == 400
    assert _stored(session, asn).messenger == "email"


def test_every_messenger_a_person_can_choose_is_offered_with_its_label() -> None:
    assert list(PERSON_MESSENGERS) == ["email", "telegram", "whatsapp", "webhook"]
    assert all(spec.label for spec in PERSON_MESSENGERS.values())
    assert tuple(available_messengers()) == tuple(PERSON_MESSENGERS)


def test_the_sms_gateway_is_available_once_the_agency_sets_it_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "webhook", WebhookSettings())
    assert available_messengers()["webhook"] is False

    monkeypatch.setattr(get_settings(), "webhook", WebhookSettings(url="https://sms.example/send"))
    assert available_messengers()["webhook"] is True


def test_choosing_the_sms_gateway_with_a_phone_is_stored(
    client: TestClient, session: Session, asn: Asn, gateway: WebhookSettings
) -> None:
    login_asn(client, asn)

    response = client.post(
        "/inbox/settings",
        data=_form(
            client, messenger="webhook", phone="0812 3456 7890", email=asn.email or "", locale="en"
        ),
        follow_redirects=False,
    )

    assert response.status_code == 303
    saved = _stored(session, asn)
    assert (saved.messenger, saved.phone) == ("webhook", "+6281234567890")
    page = client.get("/inbox/settings").text  # in English, as chosen
    assert re.search(r'value="webhook"\s+checked\s*> SMS \(agency gateway\)<', page)


def test_the_sms_gateway_is_not_offered_before_the_agency_sets_it_up(
    client: TestClient, session: Session, asn: Asn
) -> None:
    login_asn(client, asn)  # no webhook.url configured

    page = client.get("/inbox/settings").text
    response = client.post(  # a forged choice
        "/inbox/settings",
        data=_form(client, messenger="webhook", phone="+6281234567890", email=asn.email or ""),
        headers=EN,
    )

    assert 'value="webhook"' not in page
    assert "SMS (gateway instansi)" not in page
    assert response.status_code == 400
    assert "This messenger is not available yet." in response.text
    assert _stored(session, asn).messenger == "email"


def test_the_phone_field_is_for_whatsapp_or_sms(client: TestClient, asn: Asn) -> None:
    login_asn(client, asn)

    assert "Mobile number (WhatsApp or SMS)" in client.get("/inbox/settings", headers=EN).text
    assert "Nomor ponsel (WhatsApp atau SMS)" in client.get("/inbox/settings").text


def test_the_form_needs_its_csrf_token(client: TestClient, session: Session, asn: Asn) -> None:
    login_asn(client, asn)
    data = _form(client, locale="en", email=asn.email or "")
    data["csrf_token"] = "forged"

    assert client.post("/inbox/settings", data=data).status_code == 403
    assert _stored(session, asn).locale == "id"


def _choose_telegram(client: TestClient, asn: Asn) -> str:
    """Pick Telegram in the settings; returns the deep link's token shown on the page."""
    response = client.post(
        "/inbox/settings", data=_form(client, messenger="telegram", email=asn.email or "")
    )
    assert response.status_code == 200, response.text
    found = re.search(rf'href="https://t\.me/{BOT}\?start=([A-Za-z0-9_-]+)"', response.text)
    assert found, response.text
    return found.group(1)


def test_choosing_telegram_hands_out_a_deep_link_and_starts_polling(
    client: TestClient, session: Session, asn: Asn, telegram: TelegramSettings
) -> None:
    login_asn(client, asn)

    _choose_telegram(client, asn)

    # Messages keep going by e-mail until the bot has seen the link opened.
    assert _stored(session, asn).messenger == "email"
    items = session.exec(select(WorkItem).where(WorkItem.key == POLL_KEY)).all()
    assert [i.kind for i in items] == ["telegram_poll"]


def test_the_webhook_links_the_chat_and_the_settings_show_it(
    client: TestClient,
    session: Session,
    asn: Asn,
    telegram: TelegramSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(telegram, "webhook_secret", SECRET)
    login_asn(client, asn)
    token = _choose_telegram(client, asn)

    response = client.post(
        f"/telegram/webhook/{SECRET}",
        json=_update(token),
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True}
    stored = _stored(session, asn)
    assert (stored.messenger, stored.telegram_chat_id) == ("telegram", "555123")
    kinds = session.exec(select(OutboxMessage.kind)).all()
    assert kinds == [OutboxKind.TELEGRAM_LINKED]
    page = client.get("/inbox/settings")
    assert "t.me/" not in page.text  # the link is used up
    assert re.search(r'value="telegram"\s+checked', page.text)
    # With a webhook, nothing polls.
    assert session.exec(select(WorkItem).where(WorkItem.key == POLL_KEY)).all() == []


@pytest.mark.parametrize(
    ("path_secret", "header"),
    [("wrong", SECRET), (SECRET, "wrong"), (SECRET, None), ("wrong", None)],
)
def test_the_webhook_answers_404_without_both_secrets(
    client: TestClient,
    session: Session,
    asn: Asn,
    telegram: TelegramSettings,
    monkeypatch: pytest.MonkeyPatch,
    path_secret: str,
    header: str | None,
) -> None:
    monkeypatch.setattr(telegram, "webhook_secret", SECRET)
    login_asn(client, asn)
    token = _choose_telegram(client, asn)
    headers = {"X-Telegram-Bot-Api-Secret-Token": header} if header else {}

    response = client.post(f"/telegram/webhook/{path_secret}", json=_update(token), headers=headers)

    assert response.status_code == 404
    assert _stored(session, asn).telegram_chat_id is None


def test_without_a_webhook_secret_the_webhook_does_not_exist(
    client: TestClient, telegram: TelegramSettings
) -> None:
    response = client.post(
        "/telegram/webhook/", json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": ""}
    )
    assert response.status_code == 404
    response = client.post("/telegram/webhook/anything", json={"update_id": 1})
    assert response.status_code == 404


def test_the_webhook_acknowledges_updates_it_does_not_use(
    client: TestClient, telegram: TelegramSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram, "webhook_secret", SECRET)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    edited = {"update_id": 5, "edited_message": {"message_id": 1, "text": "hi"}}
    assert client.post(f"/telegram/webhook/{SECRET}", json=edited, headers=headers).json() == {
        "ok": True
    }
    not_json = client.post(f"/telegram/webhook/{SECRET}", content=b"[1, 2", headers=headers)
    assert 400 <= not_json.status_code < 500

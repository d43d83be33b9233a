"""The ASN's delivery settings: messenger and contact, language, reminders, daily digest.

Telegram needs the ASN's chat id, which they cannot know: choosing Telegram hands out a
one-time deep link (channels.telegram_updates) and the messenger switches to Telegram
only once the bot has seen it opened, so no notice is lost in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from channels import telegram_updates, webpush
from channels.messaging import MESSENGERS
from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.errors import N_, GaungError
from gaung.fields import normalise_email, normalise_phone
from gaung.i18n import gettext as _
from kernel.outbox import PERSON_MESSENGERS, missing_address
from roster.models import Asn
from scheduler.delivery_errors import latest_undelivered
from scheduler.telegram_poll import schedule_poll
from web.deps import current_asn, render, verify_csrf
from web.leaderboard import settings_state

router = APIRouter(prefix="/inbox/settings", include_in_schema=False)

_FLASH_KEY = "inbox_flash"
_LINK_KEY = "telegram_link"  # the deep link just handed out: (url, expiry iso) in the session


@dataclass
class Preferences:
    messenger: str
    email: str
    phone: str
    locale: str
    mute_reminders: bool
    digest: bool

    @classmethod
    def of(cls, asn: Asn) -> Preferences:
        return cls(
            asn.messenger,
            asn.email or "",
            asn.phone or "",
            asn.locale,
            asn.mute_reminders,
            asn.digest,
        )


def available_messengers() -> dict[str, bool]:
    """Each messenger a person can choose and whether Gaung can send through it now."""
    found = {name: bool(m.configured()) for name, m in MESSENGERS.items() if name != "telegram"}
    found["telegram"] = telegram_updates.linking_available()
    return {name: found.get(name, False) for name in PERSON_MESSENGERS}


@dataclass(frozen=True)
class MessengerChoice:
    """One messenger as offered to a person: its slug, label and whether it can send now."""

    value: str
    label: str
    available: bool


def messenger_choices(chosen: str | None = None) -> list[MessengerChoice]:
    """The messengers to offer, in PERSON_MESSENGERS order, labelled in the current language.

    The agency's own gateway only once it is set up (or when it is the person's choice
    already): most agencies never run one, and an option nobody can pick is clutter. The
    others are shown even when not set up yet, disabled, as before.
    """
    return [
        MessengerChoice(name, _(PERSON_MESSENGERS[name].label), available)
        for name, available in available_messengers().items()
        if available or name == chosen or not PERSON_MESSENGERS[name].offered_when_set_up
    ]


def apply(session: Session, asn: Asn, wanted: Preferences) -> bool:
    """Check and store the preferences; True when Telegram still has to be linked.

    Nothing is stored when anything is wrong (GaungError names the field). Commits.
    """
    if wanted.messenger not in PERSON_MESSENGERS:
        raise GaungError(N_("Choose how Gaung should reach you."), field="messenger")
    if wanted.locale not in i18n.LOCALES:
        raise GaungError(N_("Choose a language."), field="locale")
    email = normalise_email(wanted.email) if wanted.email.strip() else None
    phone = normalise_phone(wanted.phone) if wanted.phone.strip() else None
    missing = missing_address(wanted.messenger, email=email, phone=phone)
    if missing is not None:
        raise missing
    if email is not None and _taken(session, asn, email):
        raise GaungError(N_("This e-mail address is used by another ASN."), field="email")
    changing = wanted.messenger != asn.messenger
    if changing and not available_messengers().get(wanted.messenger, False):
        raise GaungError(N_("This messenger is not available yet."), field="messenger")
    needs_link = wanted.messenger == "telegram" and not asn.telegram_chat_id
    asn.email, asn.phone = email, phone
    asn.locale = wanted.locale
    asn.mute_reminders, asn.digest = wanted.mute_reminders, wanted.digest
    if not needs_link:
        asn.messenger = wanted.messenger
    session.add(asn)
    try:
        session.commit()
    except IntegrityError:  # the address was taken meanwhile
        session.rollback()
        raise GaungError(N_("This e-mail address is used by another ASN."), field="email") from None
    return needs_link


def _taken(session: Session, asn: Asn, email: str) -> bool:
    query = select(Asn.id).where(col(Asn.email) == email, col(Asn.id) != asn.id)
    return session.exec(query).first() is not None


def _link_in_session(request: Request, asn: Asn) -> str | None:
    """The deep link handed out earlier, while it is unused and unexpired."""
    stored = request.session.get(_LINK_KEY)
    pending = asn.telegram_link_expires_at  # cleared once the bot has seen the link opened
    if not isinstance(stored, list) or len(stored) != 2 or pending is None:
        return None
    url, expires = stored
    if expires != pending.isoformat() or pending <= utcnow():
        return None
    return str(url)


def _page(
    request: Request,
    session: Session,
    asn: Asn,
    values: Preferences,
    error: GaungError | None = None,
) -> Response:
    link = _link_in_session(request, asn)
    if link:
        schedule_poll(session)  # keeps polling alive while the ASN waits on this page
        session.commit()
    choices = messenger_choices(asn.messenger)
    context: dict[str, Any] = {
        "values": values,
        "messengers": choices,
        "available": {choice.value: choice.available for choice in choices},
        "telegram_linked": bool(asn.telegram_chat_id),
        "telegram_link": link,
        "locales": {"id": "Bahasa Indonesia", "en": "English"},
        "error": error.render(_) if error else None,
        "error_field": error.field if error else None,
        "flash": request.session.pop(_FLASH_KEY, None),
        # The last message did not arrive for a reason the ASN can fix here: say so, and how.
        "undelivered": undelivered_notice(session, asn),
        "leaderboard": settings_state(session, asn),  # its own form, web.leaderboard
        # Devices getting notifications (web.inbox_push, web/static/push.js).
        "push_devices": webpush.devices(session, asn.id) if asn.id is not None else [],
    }
    return render(request, "inbox/settings.html", context, status_code=400 if error else 200)


def undelivered_notice(session: Session, asn: Asn) -> dict[str, Any] | None:
    """Why the ASN's last message did not arrive and how they fix it (None: it did)."""
    assert asn.id is not None
    notice = latest_undelivered(session.connection(), asn.id)
    if notice is None:
        return None
    spec = PERSON_MESSENGERS.get(notice.messenger)
    return {
        "at": notice.at,
        "messenger": _(spec.label) if spec else notice.messenger,
        "todo": _(notice.explanation.asn_todo or ""),
    }


@router.get("")
def settings_page(
    request: Request, asn: Asn = Depends(current_asn), session: Session = Depends(get_session)
) -> Response:
    return _page(request, session, asn, Preferences.of(asn))


@router.post("")
async def save_settings(
    request: Request,
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    form = await request.form()
    wanted = Preferences(
        messenger=str(form.get("messenger") or ""),
        email=str(form.get("email") or ""),
        phone=str(form.get("phone") or ""),
        locale=str(form.get("locale") or ""),
        mute_reminders=form.get("mute_reminders") == "on",
        digest=form.get("digest") == "on",
    )
    try:
        needs_link = apply(session, asn, wanted)
    except GaungError as exc:
        session.rollback()
        session.refresh(asn)
        return _page(request, session, asn, wanted, exc)
    request.session["locale"] = asn.locale  # the inbox follows the chosen language
    if needs_link:
        _hand_out_link(request, session, asn)
        with i18n.use_locale(asn.locale):
            note = _("Saved. Now open the Telegram link below to finish.")
    else:
        with i18n.use_locale(asn.locale):
            note = _("Your settings are saved.")
    request.session[_FLASH_KEY] = note
    return RedirectResponse("/inbox/settings", status_code=303)


def _hand_out_link(request: Request, session: Session, asn: Asn) -> None:
    link = telegram_updates.start_link(session, asn)
    schedule_poll(session)
    session.commit()
    request.session[_LINK_KEY] = [link.url, link.expires_at.isoformat()]


@router.post("/telegram")
def new_telegram_link(
    request: Request,
    asn: Asn = Depends(current_asn),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    if not telegram_updates.linking_available():
        error = GaungError(N_("This messenger is not available yet."), field="messenger")
        return _page(request, session, asn, Preferences.of(asn), error)
    _hand_out_link(request, session, asn)
    return RedirectResponse("/inbox/settings#telegram", status_code=303)

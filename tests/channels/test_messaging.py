"""The messenger contract: registry, errors and the assignment notice in id and en."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import jinja2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from channels.messaging import (
    MESSENGERS,
    OutgoingMessage,
    PermanentSendError,
    SendResult,
    TransientSendError,
    environment,
    parse_retry_after,
    register,
    render_assignment_message,
)
from gaung.settings import PROJECT_ROOT
from kernel.outbox import PersonMessenger

DEADLINE = datetime(2026, 8, 17, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta


def _render(locale: str, *, urgent: bool = False, **overrides: str) -> tuple[str, str, str]:
    values = {
        "asn_name": "Budi Santoso",
        "campaign_title": "HUT RI ke-81",
        "platform": "instagram",
        "inbox_url": "http://testserver/inbox/login/token123",
    }
    values.update(overrides)
    return render_assignment_message(deadline=DEADLINE, urgent=urgent, locale=locale, **values)


def test_importing_every_channel_registers_nothing() -> None:
    # A fresh interpreter: only the composition root (wiring) fills the registries.
    code = (
        "import channels.messaging as m, channels.platforms as p, channels.email, "
        "channels.telegram, channels.webhook, channels.whatsapp, channels.x, channels.facebook, "
        "channels.instagram, channels.instagram_private; print(len(m.MESSENGERS), len(p.PLATFORMS))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "0 0"


def test_the_wired_registry_holds_every_messenger_under_its_slug() -> None:
    assert sorted(MESSENGERS) == ["email", "telegram", "webhook", "webpush", "whatsapp"]
    assert all(slug == messenger.slug for slug, messenger in MESSENGERS.items())


def test_send_errors_carry_what_the_outbox_needs() -> None:
    assert TransientSendError(12.5).retry_after == 12.5
    assert TransientSendError().retry_after is None
    assert "12.5" in str(TransientSendError(retry_after=12.5, detail="429"))
    assert PermanentSendError("bot was blocked").reason == "bot was blocked"


@pytest.mark.parametrize(
    ("header", "seconds"), [("30", 30.0), ("0", 0.0), (None, None), ("", None), ("soon", None)]
)
def test_retry_after_headers_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_the_notice_is_in_indonesian() -> None:
    subject, text, html = _render("id")
    assert subject == "Penugasan baru: HUT RI ke-81"
    assert "Halo Budi Santoso," in text
    assert "kampanye “HUT RI ke-81” di Instagram" in text
    assert "sebelum Senin, 17 Agustus 2026 10.00 WIB," in text
    assert "Buka kotak masuk Anda: http://testserver/inbox/login/token123" in text
    assert '<html lang="id">' in html
    assert '<a href="http://testserver/inbox/login/token123">Buka kotak masuk Anda</a>' in html


def test_the_deadline_is_in_the_readers_zone() -> None:
    for zone, shown in (("Asia/Makassar", "11.00 WITA"), ("Asia/Jayapura", "12.00 WIT")):
        _, text, html = render_assignment_message(
            asn_name="Budi",
            campaign_title="HUT RI ke-81",
            platform="instagram",
            deadline=DEADLINE,
            inbox_url="http://testserver/inbox",
            urgent=False,
            locale="id",
            timezone=zone,
        )
        assert f"17 Agustus 2026 {shown}" in text
        assert f"17 Agustus 2026 {shown}" in html


def test_the_notice_is_in_english() -> None:
    subject, text, html = _render("en")
    assert subject == "New assignment: HUT RI ke-81"
    assert "Hello Budi Santoso," in text
    assert "campaign “HUT RI ke-81” on Instagram" in text
    # CLDR puts a narrow no-break space before "AM"; check the parts that matter.
    assert "before Monday, August 17, 2026, 10:00 AM WIB, then report" in text.replace(
        "\u202f", " "
    )
    assert "Open your inbox: http://testserver/inbox/login/token123" in text
    assert '<html lang="en">' in html


@pytest.mark.parametrize(
    ("locale", "subject", "banner"),
    [
        ("id", "MENDESAK: mohon unggah ulang “HUT RI ke-81”", "MENDESAK: unggahan ini"),
        ("en", "URGENT: please repost “HUT RI ke-81”", "URGENT: this post"),
    ],
)
def test_an_urgent_notice_says_so_first(locale: str, subject: str, banner: str) -> None:
    urgent_subject, text, html = _render(locale, urgent=True)
    assert urgent_subject == subject
    assert text.startswith(banner)
    assert banner in html
    _subject, calm_text, calm_html = _render(locale, urgent=False)
    assert banner not in calm_text
    assert banner not in calm_html


def test_an_unknown_locale_falls_back_to_the_default() -> None:
    assert _render("fr")[0] == _render("id")[0]


_untrusted = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60
).filter(lambda s: s.strip())


@given(name=_untrusted, title=_untrusted)
def test_names_and_titles_are_verbatim_in_text_and_escaped_in_html(name: str, title: str) -> None:
    subject, text, html = _render("en", asn_name=name, campaign_title=title)
    assert f"Hello {name}," in text
    assert f"“{title}”" in text
    assert f"Hello {escape(name)}," in html
    assert f"“{escape(title)}”" in html
    assert "\n" not in subject
    assert "\r" not in subject


def test_a_missing_template_variable_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().get_template("assignment.txt.j2").render(asn_name="Budi")


def test_only_html_templates_are_autoescaped() -> None:
    context = {
        "asn_name": "<b>",
        "campaign_title": "t",
        "platform_name": "X",
        "deadline_text": "d",
        "inbox_url": "u",
        "urgent": False,
    }
    html = environment().get_template("assignment.html.j2").render(context)
    text = environment().get_template("assignment.txt.j2").render(context)
    assert "&lt;b&gt;," in html
    assert "<b>," not in html
    assert "<b>," in text
    assert "&lt;" not in text


class _Pager:
    """A new messenger as a channel module would write it: the contract plus its declaration."""

    slug = "pager"
    idempotent = False
    person = PersonMessenger("pager", "phone", "Pager", address_needed="A pager number, please.")

    def configured(self) -> bool:
        return True

    def send(self, message: OutgoingMessage) -> SendResult:
        return SendResult(provider_id="1")


@pytest.fixture
def registries() -> Iterator[None]:
    """The wired registries, restored after the test adds to them."""
    from kernel import outbox

    messengers, people = dict(MESSENGERS), dict(outbox.PERSON_MESSENGERS)
    yield
    MESSENGERS.clear()
    MESSENGERS.update(messengers)
    outbox.PERSON_MESSENGERS.clear()
    outbox.PERSON_MESSENGERS.update(people)


@pytest.mark.usefixtures("registries")
def test_a_registered_messenger_is_offered_and_checked_everywhere() -> None:
    from kernel import outbox
    from kernel.outbox import missing_address
    from web.inbox_settings import available_messengers

    register(_Pager())

    assert available_messengers()["pager"] is True
    assert outbox.address_field("pager") == "phone"
    missing = missing_address("pager", email=None, phone=None)
    assert missing is not None
    assert (missing.field, missing.message) == ("phone", "A pager number, please.")

"""E-mail with files: an image shown inside the HTML part (by Content-ID) and an attachment."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from channels.email import build_email
from channels.messaging import Attachment, OutgoingMessage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sent(message: OutgoingMessage) -> EmailMessage:
    """The message as the server receives it (serialised, then parsed again)."""
    parsed = message_from_bytes(
        bytes(build_email(message, "Gaung <g@humas.test>")), policy=policy.default
    )
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_an_inline_image_sits_beside_the_html_and_a_file_is_attached() -> None:
    message = OutgoingMessage(
        to="siti@kominfo.go.id",
        subject="Laporan",
        text="Teks",
        html='<p><img src="cid:chart"></p>',
        idempotency_key="k1",
        attachments=(
            Attachment("grafik.png", "image/png", PNG, content_id="chart"),
            Attachment("laporan.xlsx", XLSX, b"PK\x03\x04data"),
        ),
    )

    mail = _sent(message)

    assert mail.get_content_type() == "multipart/mixed"
    types = [part.get_content_type() for part in mail.walk()]
    assert types == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        XLSX,
    ]
    parts = {part.get_content_type(): part for part in mail.walk()}
    image, sheet = parts["image/png"], parts[XLSX]
    assert isinstance(image, EmailMessage)
    assert isinstance(sheet, EmailMessage)
    assert image["Content-ID"] == "<chart>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG
    assert sheet.get_content_disposition() == "attachment"
    assert sheet.get_filename() == "laporan.xlsx"
    assert sheet.get_content() == b"PK\x03\x04data"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().strip() == "Teks"


def test_without_files_the_mail_stays_text_and_html_alternatives() -> None:
    message = OutgoingMessage(
        to="siti@kominfo.go.id", subject="S", text="T", html="<p>H</p>", idempotency_key="k2"
    )

    mail = _sent(message)

    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


def test_an_image_meant_inline_is_attached_when_there_is_no_html() -> None:
    message = OutgoingMessage(
        to="siti@kominfo.go.id",
        subject="S",
        text="T",
        html=None,
        idempotency_key="k3",
        attachments=(Attachment("grafik.png", "image/png", PNG, content_id="chart"),),
    )

    mail = _sent(message)

    (image,) = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert image.get_content_disposition() == "attachment"

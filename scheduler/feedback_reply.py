"""Humas answered an ASN's feedback: tell the ASN through their messenger, once.

Registered by ``wiring`` in ``assignments.feedback.after_reply``, so it runs inside the
transaction that stores the reply: either the reply exists and its message is queued, or
neither. The key ``feedback:<feedback>:reply:<reply>`` makes a second run a no-op (and a
double-submitted form resolves to the first reply, so to the same key).

Someone who left Gaung (erased: the feedback no longer names them) gets nothing; an ASN
without an address on their messenger gets a failed row Humas can see, like any other
notice. Either way the answer is on their assignment page. The message quotes the
question briefly and carries the whole answer (Telegram takes 4,096 characters; the
answer is at most 2,000). WhatsApp carries only its approved template
(``gaung_feedback_reply``: {{1}} name, {{2}} campaign, {{3}} inbox link).
"""

from __future__ import annotations

from sqlmodel import Session

from assignments.feedback import Feedback, FeedbackReply, may_be_told
from channels.messaging import environment
from content.models import Campaign
from gaung import i18n
from gaung.i18n import gettext as _
from kernel import notices
from kernel.outbox import INBOX_LINK, NAME, OutboxKind
from roster.models import Asn

WHATSAPP_TEMPLATE = "gaung_feedback_reply"
# How much of the question the message repeats (the inbox shows all of it).
QUOTE_MAX = 300


def message_key(feedback_id: int, reply_id: int) -> str:
    return f"feedback:{feedback_id}:reply:{reply_id}"


def on_reply(session: Session, feedback: Feedback, reply: FeedbackReply) -> None:
    """Queue the ASN's message about a new reply (none for someone who left)."""
    asn = session.get(Asn, feedback.asn_id) if feedback.asn_id is not None else None
    if asn is None or not may_be_told(asn):
        return
    assert feedback.id is not None
    assert reply.id is not None
    assert asn.id is not None
    campaign = session.get_one(Campaign, feedback.campaign_id)
    person = notices.Person(
        asn_id=asn.id,
        name=asn.name,
        locale=asn.locale,
        messenger=asn.messenger,
        recipient=notices.address(asn.messenger, asn.email, asn.telegram_chat_id, asn.phone),
    )
    rendered = render(campaign.title, feedback.text, reply.text, asn.locale)
    row = notices.message_row(
        person,
        rendered,
        key=message_key(feedback.id, reply.id),
        kind=OutboxKind.FEEDBACK_REPLY,
        campaign_id=campaign.id,
        assignment_id=feedback.assignment_id,
    )
    notices.queue_rows(session.connection(), [row])


def quote(text: str) -> str:
    """The question as the message repeats it: whole, or cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= QUOTE_MAX:
        return flat
    cut = flat[: QUOTE_MAX - 1].rsplit(" ", 1)[0] or flat[: QUOTE_MAX - 1]
    return cut + "…"


def render(title: str, question: str, answer: str, locale: str) -> notices.Rendered:
    with i18n.use_locale(locale):
        context = {
            "asn_name": NAME,
            "campaign_title": title,
            "question": quote(question),
            "answer": answer,
            "inbox_url": INBOX_LINK,
        }
        subject = _("Humas answered: %(campaign)s") % {"campaign": title}
        env = environment()
        text = env.get_template("feedback_reply.txt.j2").render(context)
        html = env.get_template("feedback_reply.html.j2").render(context)
    params = {"1": NAME, "2": title, "3": INBOX_LINK}
    return notices.Rendered(" ".join(subject.split()), text, html, WHATSAPP_TEMPLATE, params)

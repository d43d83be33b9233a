"""The ASN's message about Humas' answer: quoted briefly, whole answer, within messenger limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assignments.feedback import REPLY_MAX, TEXT_MAX
from kernel.outbox import INBOX_LINK, NAME
from scheduler.feedback_reply import QUOTE_MAX, quote, render

TELEGRAM_MAX = 4096


@given(text=st.text(min_size=1, max_size=TEXT_MAX))
def test_the_question_is_quoted_whole_or_cut_with_an_ellipsis(text: str) -> None:
    quoted = quote(text)
    flat = " ".join(text.split())
    assert len(quoted) <= QUOTE_MAX
    if len(flat) <= QUOTE_MAX:
        assert quoted == flat
    else:
        assert quoted.endswith("…")
        assert flat.startswith(quoted[:-1])


def test_the_longest_question_and_answer_fit_a_telegram_message() -> None:
    rendered = render("K" * 200, "q " * (TEXT_MAX // 2), "a" * REPLY_MAX, "id")
    assert len(rendered.text.replace(NAME, "N" * 200).replace(INBOX_LINK, "L" * 300)) < TELEGRAM_MAX
    assert "a" * REPLY_MAX in rendered.text
    assert rendered.subject == "Jawaban Humas: " + "K" * 200
    assert rendered.whatsapp_template == "gaung_feedback_reply"
    assert rendered.whatsapp_params == {"1": NAME, "2": "K" * 200, "3": INBOX_LINK}


def test_the_html_part_escapes_what_people_wrote() -> None:
    rendered = render("<b>Kampanye</b>", "<script>alert(1)</script>", "<i>ya</i> & tidak", "en")
    assert rendered.html is not None
    assert "<script>" not in rendered.html
    assert "&lt;i&gt;ya&lt;/i&gt; &amp; tidak" in rendered.html
    assert "Humas answered the question you passed on" in rendered.text

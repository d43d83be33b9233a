"""The sandbox's own pages: what it simulates, editable bios, messages the messengers sent,
and the mail catcher's inbox (``/sandbox/mail``).

A newcomer enrolling an account in the demo is asked to put a code in their bio; here they
"edit their profile" on the fake platform (``POST /sandbox/bio``, a form or JSON).
This page belongs to the stand-in platform, not to Gaung's UI, so it is plain English HTML
with no script, under a strict Content-Security-Policy. A caught e-mail's HTML part is
served on its own URL with CSP ``sandbox`` and shown in a sandboxed frame, never inline.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from channels.sandbox.state import MISSING_PREFIX, CaughtMail, World

BIO_PLATFORMS = {"x": "X (description)", "instagram": "Instagram (biography)",
                 "facebook": "Facebook (about)"}  # fmt: skip
MAX_BIO = 300  # X allows 160, Instagram 150: a little room for mistakes to show
LISTED = 300
# Sandbox pages: no script, no outside resources; frames only from the sandbox itself.
PAGE_CSP = (
    "default-src 'none'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# A caught e-mail's HTML: its own sandboxed origin, inline styles only, no fetches.
MAIL_HTML_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
)
_URL = re.compile(r"https?://[^\s<>\"']+")


class SandboxPage:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/sandbox", self.home, methods=["GET"]),
            Route("/sandbox/bio", self.bio, methods=["POST"]),
            Route("/sandbox/mail", self.mailbox, methods=["GET"]),
            Route("/sandbox/mail/{mail_id:int}", self.mail, methods=["GET"]),
            Route("/sandbox/mail/{mail_id:int}/html", self.mail_html, methods=["GET"]),
        ]

    def home(self, request: Request) -> Response:
        self.world.refresh()
        saved = request.query_params.get("saved", "")
        notice = f"<p><strong>Saved the bio of {escape(saved)}.</strong></p>" if saved else ""
        return _html(_PAGE.format(
            notice=notice,
            mails=len(self.world.mails),
            options="".join(f'<option value="{k}">{escape(v)}</option>'
                            for k, v in BIO_PLATFORMS.items()),
            missing=MISSING_PREFIX,
            counts=self._counts(),
            budgets=self._budgets(),
            accounts=self._accounts(),
            messages=self._messages(),
        ))  # fmt: skip

    async def bio(self, request: Request) -> Response:
        as_json = request.headers.get("content-type", "").startswith("application/json")
        data: dict[str, Any] = dict(await request.json()) if as_json else dict(await request.form())
        platform = str(data.get("platform", ""))
        handle = str(data.get("handle", "")).strip().lstrip("@")
        text = str(data.get("text", data.get("bio", "")))
        problem = _bio_problem(platform, handle, text)
        if problem is None:
            try:
                account = self.world.set_bio(platform, handle, text)
            except KeyError:
                problem = f"There is no {platform} account {handle!r} in the sandbox."
        if problem is not None:
            if as_json:
                return JSONResponse({"error": problem}, 400)
            return _html(f"<p>{escape(problem)}</p><p><a href='/sandbox'>Back</a></p>", 400)
        if as_json:
            return JSONResponse({"platform": platform, "handle": account.handle, "bio": text})
        return RedirectResponse(f"/sandbox?saved={platform}:{account.handle}", 303)

    def mailbox(self, request: Request) -> Response:
        rows = [
            f"<tr><td>{m.at:%Y-%m-%d %H:%M:%S} UTC</td><td>{escape(', '.join(m.recipients))}</td>"
            f"<td><a href='/sandbox/mail/{m.id}'>{escape(m.subject) or '(no subject)'}</a>"
            "</td></tr>"
            for m in reversed(self.world.mails[-LISTED:])
        ]
        body = "".join(rows) or "<tr><td colspan='3'>No e-mail caught yet.</td></tr>"
        count = len(self.world.mails)
        return _html(_MAILBOX.format(port=_mail_port(request), count=count, rows=body))

    def mail(self, request: Request) -> Response:
        mail = self._mail(request)
        if mail is None:
            return _html("<p>No such e-mail.</p><p><a href='/sandbox/mail'>Mailbox</a></p>", 404)
        html = (
            f"<h2>HTML part</h2><iframe src='/sandbox/mail/{mail.id}/html' title='HTML part' "
            "sandbox='allow-popups allow-popups-to-escape-sandbox' width='100%' height='600'>"
            "</iframe>"
            if mail.html is not None
            else ""
        )
        return _html(_MAIL.format(
            subject=escape(mail.subject) or "(no subject)",
            sender=escape(mail.sender),
            to=escape(", ".join(mail.recipients)),
            at=f"{mail.at:%Y-%m-%d %H:%M:%S} UTC",
            text=linked(mail.text),
            html=html,
        ))  # fmt: skip

    def mail_html(self, request: Request) -> Response:
        mail = self._mail(request)
        if mail is None or mail.html is None:
            return _html("<p>No such e-mail.</p>", 404)
        response = HTMLResponse(mail.html)
        response.headers["Content-Security-Policy"] = MAIL_HTML_CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def _mail(self, request: Request) -> CaughtMail | None:
        return self.world.caught_mail(int(request.path_params["mail_id"]))

    def _to(self, channel: str, address: str) -> str:
        name = self.world.contact(channel, address)
        return f"{escape(name)} ({escape(address)})" if name else escape(address)

    def _counts(self) -> str:
        counts = self.world.snapshot_state()
        return (
            f"{counts['accounts']} accounts, {counts['posts']} posts online, "
            f"{counts['upcoming']} reposts still to come, {counts['deleted']} deleted"
        )

    def _budgets(self) -> str:
        rows = [
            f"<tr><td>{escape(bucket)}</td><td>{b.limit - max(0, b.remaining)} / {b.limit}</td>"
            f"<td>{b.reset_at:%H:%M:%S} UTC</td></tr>"
            for bucket, b in self.world.usage().items()
        ]
        return "".join(rows) or "<tr><td colspan='3'>No calls yet.</td></tr>"

    def _accounts(self) -> str:
        rows = []
        for platform in ("x", "instagram"):
            for account in self.world.list_accounts(platform)[:LISTED]:
                kind = "public" if account.public else "personal (not readable by the API)"
                rows.append(
                    f"<tr><td>{platform}</td><td>@{escape(account.handle)}</td>"
                    f"<td>{account.followers}</td><td>{kind}</td><td>{escape(account.bio)}</td></tr>"
                )
        return "".join(rows)

    def _messages(self) -> str:
        rows = [
            f"<tr><td>{m.at:%H:%M:%S}</td><td>{m.channel}</td><td>{self._to(m.channel, m.to)}</td>"
            f"<td>{linked(m.text[:400])}</td></tr>"
            for m in reversed(self.world.messages[-50:])
        ]
        return "".join(rows) or "<tr><td colspan='4'>Nothing sent yet.</td></tr>"


def linked(text: str) -> str:
    """``text`` escaped for HTML, its http(s) URLs made clickable (sign-in links)."""
    parts, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0)
        parts += [escape(text[last : match.start()]), f'<a href="{escape(url)}">{escape(url)}</a>']
        last = match.end()
    parts.append(escape(text[last:]))
    return "".join(parts)


def _html(body: str, status: int = 200) -> HTMLResponse:
    response = HTMLResponse(body, status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _mail_port(request: Request) -> str:
    port = request.url.port
    return str(port + 1) if port else "(web port + 1)"


def _bio_problem(platform: str, handle: str, text: str) -> str | None:
    if platform not in BIO_PLATFORMS:
        return f"Choose one of: {', '.join(BIO_PLATFORMS)}."
    if not handle:
        return "Enter the account's handle."
    if len(text) > MAX_BIO:
        return f"A bio has at most {MAX_BIO} characters here."
    return None


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gaung sandbox</title></head>
<body>
<h1>Gaung sandbox</h1>
<p>A local stand-in for X, Facebook, Instagram, Telegram and WhatsApp, used by
<code>gaung serve --sandbox</code> when no real tokens are configured. Nothing here leaves
this machine. Assigned ASN repost official posts over the following minutes and hours, a
few reposts are deleted later, and metrics grow, so the verify and measure jobs have
something to find.</p>
{notice}
<h2>Edit a profile bio</h2>
<p>Enrolment asks you to put a code in your bio: do it here.</p>
<form method="post" action="/sandbox/bio">
<p><label>Platform <select name="platform">{options}</select></label></p>
<p><label>Handle <input name="handle" required></label></p>
<p><label>Bio <textarea name="text" rows="3" cols="60"></textarea></label></p>
<p><button type="submit">Save bio</button></p>
</form>
<h2>Good to know</h2>
<ul>
<li>Any valid handle exists (it is made up on first look-up), except handles starting with
<code>{missing}</code>, which answer "not found".</li>
<li>Facebook profiles are personal: the Graph API cannot read them, as on the real platform.
One in three ASN Instagram accounts is personal too.</li>
<li>A reported X link usually is a repost; a few turn out unrelated, someone else's, or are
deleted later, so every verification outcome shows up.</li>
</ul>
<h2>World</h2>
<p>{counts}</p>
<h2>Rate windows</h2>
<table><tr><th>Endpoint</th><th>Used</th><th>Resets</th></tr>{budgets}</table>
<h2>E-mail</h2>
<p>{mails} e-mails caught by the sandbox's mail server: <a href="/sandbox/mail">open the
mailbox</a>.</p>
<h2>Telegram and WhatsApp messages sent</h2>
<table><tr><th>Time</th><th>Channel</th><th>To</th><th>Text</th></tr>{messages}</table>
<h2>Accounts</h2>
<table><tr><th>Platform</th><th>Handle</th><th>Followers</th><th>Kind</th><th>Bio</th></tr>
{accounts}</table>
</body></html>
"""

_MAILBOX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox mailbox</title></head>
<body>
<p><a href="/sandbox">Sandbox</a></p>
<h1>Sandbox mailbox</h1>
<p>Every e-mail Gaung sent while running with <code>--sandbox</code> (an SMTP server on
127.0.0.1:{port} that accepts everything and relays nothing). {count} caught, newest first.</p>
<table><tr><th>Received</th><th>To</th><th>Subject</th></tr>{rows}</table>
</body></html>
"""

_MAIL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{subject}</title></head>
<body>
<p><a href="/sandbox/mail">Mailbox</a></p>
<h1>{subject}</h1>
<table>
<tr><th>From</th><td>{sender}</td></tr>
<tr><th>To</th><td>{to}</td></tr>
<tr><th>Received</th><td>{at}</td></tr>
</table>
<h2>Text part</h2>
<pre>{text}</pre>
{html}
</body></html>
"""

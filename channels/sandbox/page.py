"""The sandbox's own page: what it simulates, editable bios, messages the messengers sent.

A newcomer enrolling an account in the demo is asked to put a code in their bio; here they
"edit their profile" on the fake platform (``POST /sandbox/bio``, a form or JSON).
This page belongs to the stand-in platform, not to Gaung's UI, so it is plain English HTML
with no script.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from channels.sandbox.state import MISSING_PREFIX, World

BIO_PLATFORMS = {"x": "X (description)", "instagram": "Instagram (biography)",
                 "facebook": "Facebook (about)"}  # fmt: skip
MAX_BIO = 300  # X allows 160, Instagram 150: a little room for mistakes to show
LISTED = 300


class SandboxPage:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/sandbox", self.home, methods=["GET"]),
            Route("/sandbox/bio", self.bio, methods=["POST"]),
        ]

    def home(self, request: Request) -> Response:
        self.world.refresh()
        saved = request.query_params.get("saved", "")
        notice = f"<p><strong>Saved the bio of {escape(saved)}.</strong></p>" if saved else ""
        return HTMLResponse(_PAGE.format(
            notice=notice,
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
            return HTMLResponse(f"<p>{escape(problem)}</p><p><a href='/sandbox'>Back</a></p>", 400)
        if as_json:
            return JSONResponse({"platform": platform, "handle": account.handle, "bio": text})
        return RedirectResponse(f"/sandbox?saved={platform}:{account.handle}", 303)

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
            f"<tr><td>{m.at:%H:%M:%S}</td><td>{m.channel}</td><td>{escape(m.to)}</td>"
            f"<td>{escape(m.text[:400])}</td></tr>"
            for m in reversed(self.world.messages[-50:])
        ]
        return "".join(rows) or "<tr><td colspan='4'>Nothing sent yet.</td></tr>"


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
<h2>Messages sent</h2>
<table><tr><th>Time</th><th>Channel</th><th>To</th><th>Text</th></tr>{messages}</table>
<h2>Accounts</h2>
<table><tr><th>Platform</th><th>Handle</th><th>Followers</th><th>Kind</th><th>Bio</th></tr>
{accounts}</table>
</body></html>
"""

"""A local fake of X, Facebook, Instagram, Telegram, WhatsApp and e-mail for ``gaung demo``.

With ``sandbox.enabled`` (``gaung serve --sandbox``, which ``make demo`` uses) every channel
without a real token in the settings or environment is pointed at this server on
127.0.0.1 with a dummy token (``gaung.settings.SandboxSettings.take_over``), and
``gaung serve`` runs it in a background thread. The real channel modules then talk to it over
HTTP exactly as they would to the platforms.

- ``state``: the in-memory world (accounts, posts, rate windows); ``state.set_bio``.
- ``behaviour``: who reposts what and when (seeded random numbers: the same every run).
- ``seed``: follows the demo database (accounts, dispatched posts, reported links).
- ``x_api``, ``graph_api``, ``messengers_api``, ``page``: the endpoints; ``app``: all of them.
- ``x_shapes``: X API v2 answers as documented (t.co links, retweets, errors), shared with
  the tests' fake of X.
- ``mail``: the mail catcher, an SMTP server on the next port whose mails ``page`` shows.
- ``server``: uvicorn (and the mail catcher) in threads.
"""

from __future__ import annotations

from gaung.settings import get_settings

CHANNELS = ("x", "facebook", "instagram", "telegram", "whatsapp", "email")


def active() -> bool:
    """True when some channel talks to the sandbox instead of the real service."""
    return any(sandboxed(slug) for slug in CHANNELS)


def sandboxed(slug: str) -> bool:
    """True when channel ``slug`` is served by the local sandbox (the console says so)."""
    settings = get_settings()
    if not settings.sandbox.enabled:
        return False
    if slug == "email":
        smtp = settings.smtp
        return (smtp.host, smtp.port) == ("127.0.0.1", settings.sandbox.mail_port)
    base = {
        "x": settings.x.api_base_url,
        "facebook": settings.graph.base_url,
        "instagram": settings.graph.base_url,
        "telegram": settings.telegram.api_base_url,
        "whatsapp": settings.whatsapp.api_base_url,
    }.get(slug)
    return base == settings.sandbox.url

"""Runs the sandbox app (and its mail catcher) on 127.0.0.1 in background threads.

``gaung serve --sandbox`` starts it; the mail catcher listens on the web port + 1.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from sqlalchemy.engine import Engine

from channels.sandbox import seed
from channels.sandbox.app import create_app
from channels.sandbox.mail import MailCatcher
from channels.sandbox.state import WORLD, World
from gaung.settings import Settings

HOST = "127.0.0.1"  # never another interface: the sandbox is for this machine only
START_TIMEOUT = 10.0


class SandboxServer:
    """uvicorn.Server in a daemon thread; ``port`` 0 picks a free port (see ``.port``).

    With ``mail_port`` the mail catcher (SMTP) runs beside it, filling the same world.
    """

    def __init__(self, world: World, port: int, mail_port: int | None = None) -> None:
        self.mail = MailCatcher(world, mail_port) if mail_port is not None else None
        config = uvicorn.Config(
            create_app(world), host=HOST, port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="gaung-sandbox", daemon=True)
        self.port = port

    def start(self) -> SandboxServer:
        if self.mail is not None:
            self.mail.start()
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        # Startup wait only (not a job): uvicorn offers no event to block on.
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self._stop_mail()
                raise RuntimeError(f"the sandbox could not listen on {HOST}:{self.port}")
            time.sleep(0.01)
        sockets = self.server.servers[0].sockets if self.server.servers else []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT)
        self._stop_mail()

    def _stop_mail(self) -> None:
        if self.mail is not None:
            self.mail.stop()
            self.mail = None


def configure(world: World, settings: Settings, engine: Engine) -> World:
    """Give ``world`` the settings' budgets and the database to follow."""
    from datetime import timedelta

    world.rate_limit = settings.sandbox.rate_limit
    world.rate_window = timedelta(seconds=settings.sandbox.rate_window_seconds)
    world.source = seed.source(
        engine, seed.SeedSettings(settings.base_url, settings.graph.ig_user_id)
    )
    return world


def start(settings: Settings, engine: Engine) -> SandboxServer:
    """Serve the process-wide world, following ``engine``, on the configured port."""
    world = configure(WORLD, settings, engine)
    return SandboxServer(world, settings.sandbox.port, settings.sandbox.mail_port or None).start()

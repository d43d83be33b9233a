"""The sandbox's Web Push service on a real port, for the channel, scheduler and web tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from channels.sandbox.push import PushState, create_app


@dataclass
class RunningPushService:
    state: PushState
    url: str

    def subscribe(self, count: int = 1) -> list[dict[str, Any]]:
        """New subscriptions, as a browser's ``PushSubscription.toJSON()``."""
        return [self.state.subscribe(self.url) for _ in range(count)]

    def sid(self, subscription: dict[str, Any]) -> str:
        return str(subscription["endpoint"]).rsplit("/", 1)[-1]

    def messages(self, subscription: dict[str, Any]) -> list[Any]:
        found = httpx.get(f"{self.url}/push/messages/{self.sid(subscription)}").json()
        return list(found)

    def reset(self) -> None:
        """Forget everything, once no request is held unanswered (a hang from a test before)."""
        deadline = time.monotonic() + 10
        while self.state.hanging and time.monotonic() < deadline:
            time.sleep(0.05)
        self.state.__init__()  # type: ignore[misc]


@contextmanager
def running_push_service() -> Iterator[RunningPushService]:
    state = PushState()
    config = uvicorn.Config(
        create_app(state), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # startup wait only: uvicorn offers no event to block on
        assert thread.is_alive(), "push service did not start"
        assert time.monotonic() < deadline, "push service did not start in time"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningPushService(state, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""A local Web Push service (RFC 8030) for the demo, the tests and ``bench/push.py``.

It plays both ends a real push service joins: the browser's (``POST /push/subscriptions``
makes subscriptions and keeps their private keys, as a browser would) and the service's
(``POST /push/send/{id}``, the endpoint Gaung pushes to). Each push is checked the way a
push service and a browser would: ``TTL`` and ``Content-Encoding: aes128gcm`` always, the
VAPID ``Authorization`` (signature, ``aud`` = this origin, ``exp``, ``sub``) once per
token, and the body decrypted on every ``sample_every``-th push (every one by default).
It answers ``201`` with a ``Location``, ``404`` for an unknown subscription, and on demand
(``POST /push/control``) ``429`` with ``Retry-After``, ``500``, or no answer for a while;
``POST /push/subscriptions/{id}/answer`` makes one subscription answer e.g. ``410``.
``GET /push/stats`` counts what arrived (``duplicates``: a subscription's pushes beyond
its first); ``GET /push/messages/{id}`` shows the decrypted notices.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.webpush import b64url, decrypt, verify_vapid

_P256 = ec.SECP256R1()


@dataclass
class _Subscription:
    private: ec.EllipticCurvePrivateKey
    p256dh: str
    auth: bytes
    answer: int | None = None  # answer this instead of 201 (e.g. 410: unsubscribed)


@dataclass
class PushState:
    """What the push service knows and has seen (in memory, one per app)."""

    subscriptions: dict[str, _Subscription] = field(default_factory=dict)
    received: Counter[str] = field(default_factory=Counter)  # accepted pushes per subscription
    messages: dict[str, list[Any]] = field(default_factory=dict)  # decrypted notices
    sample_every: int = 1
    # Where endpoints point when pushes go to another server than this app (push_h2).
    endpoint_base: str = ""
    keep_messages: bool = True
    throttle: int = 0  # the next n pushes get 429
    retry_after: int = 30
    fail: int = 0  # the next n pushes get 500
    hang: int = 0  # the next n pushes get no answer for hang_seconds
    hang_seconds: float = 30.0
    hanging: int = 0  # requests held without an answer right now
    checked: int = 0  # bodies decrypted
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    _tokens: set[str] = field(default_factory=set)  # VAPID headers already verified
    _seen: int = 0

    def subscribe(self, base_url: str) -> dict[str, Any]:
        """A new subscription, as ``PushSubscription.toJSON()`` gives it to a page."""
        sid = secrets.token_urlsafe(12)
        private = ec.generate_private_key(_P256)
        point = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        p256dh = b64url(point)
        auth = secrets.token_bytes(16)
        self.subscriptions[sid] = _Subscription(private, p256dh, auth)
        return {
            "endpoint": f"{(self.endpoint_base or base_url).rstrip('/')}/push/send/{sid}",
            "expirationTime": None,
            "keys": {"p256dh": p256dh, "auth": b64url(auth)},
        }

    def stats(self) -> dict[str, Any]:
        return {
            "subscriptions": len(self.subscriptions),
            "received": sum(self.received.values()),
            "unique": len(self.received),
            "duplicates": sum(n - 1 for n in self.received.values() if n > 1),
            "checked": self.checked,
            "rejected": self.rejected,
            "errors": self.errors[-10:],
        }

    def reject(self, status: int, why: str) -> tuple[int, dict[str, str]]:
        self.rejected += 1
        self.errors.append(why)
        return status, {}

    async def hold(self) -> None:
        """No answer for ``hang_seconds``, when asked to (``hang``)."""
        if self.hang > 0:
            self.hang -= 1
            self.hanging += 1
            try:
                await asyncio.sleep(self.hang_seconds)
            finally:
                self.hanging -= 1

    def receive(
        self, sid: str, headers: Mapping[str, str], body: bytes, origin: str
    ) -> tuple[int, dict[str, str]]:
        """One push to subscription ``sid`` (``headers`` with lower-case names): the status
        and headers to answer, whatever the HTTP version it came over."""
        if self.throttle > 0:
            self.throttle -= 1
            return 429, {"Retry-After": str(self.retry_after)}
        if self.fail > 0:
            self.fail -= 1
            return 500, {}
        sub = self.subscriptions.get(sid)
        if sub is None:
            return self.reject(404, f"{sid}: no such subscription")
        if sub.answer:
            return sub.answer, {}
        problem = self._check(sub, sid, headers, body, origin)
        if problem:
            return problem
        self.received[sid] += 1
        return 201, {"Location": f"/push/message/{sid}-{self.received[sid]}"}

    def _check(
        self, sub: _Subscription, sid: str, headers: Mapping[str, str], body: bytes, origin: str
    ) -> tuple[int, dict[str, str]] | None:
        if "ttl" not in headers:
            return self.reject(400, f"{sid}: no TTL header")
        if headers.get("content-encoding", "").lower() != "aes128gcm":
            return self.reject(415, f"{sid}: Content-Encoding is not aes128gcm")
        authorization = headers.get("authorization", "")
        if authorization not in self._tokens:
            try:
                verify_vapid(authorization, origin)
            except ValueError as exc:
                return self.reject(401, f"{sid}: {exc}")
            self._tokens.add(authorization)
        self._seen += 1
        if self._seen % max(self.sample_every, 1) == 0 or self.keep_messages:
            try:
                notice = json.loads(decrypt(body, sub.private, sub.auth))
            except ValueError as exc:
                return self.reject(400, f"{sid}: body does not decrypt: {exc}")
            self.checked += 1
            if self.keep_messages:
                self.messages.setdefault(sid, []).append(notice)
        return None


class PushService:
    def __init__(self, state: PushState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/push/subscriptions", self.create, methods=["POST"]),
            Route("/push/subscriptions/{sid}/answer", self.answer, methods=["POST"]),
            Route("/push/send/{sid}", self.push, methods=["POST"]),
            Route("/push/control", self.control, methods=["POST"]),
            Route("/push/stats", self.stats, methods=["GET"]),
            Route("/push/messages/{sid}", self.messages, methods=["GET"]),
        ]

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    async def create(self, request: Request) -> Response:
        data = await self._json(request)
        count = int(data.get("count", 1))
        base = str(request.base_url)
        return JSONResponse(
            [self.state.subscribe(base) for _ in range(max(1, min(count, 200_000)))]
        )

    async def answer(self, request: Request) -> Response:
        sub = self.state.subscriptions.get(request.path_params["sid"])
        if sub is None:
            return JSONResponse({"error": "no such subscription"}, 404)
        data = await self._json(request)
        status = data.get("status")
        sub.answer = int(status) if status else None
        return JSONResponse({"answer": sub.answer})

    async def control(self, request: Request) -> Response:
        data = await self._json(request)
        for name in ("throttle", "retry_after", "fail", "hang", "sample_every"):
            if name in data:
                setattr(self.state, name, int(data[name]))
        if "hang_seconds" in data:
            self.state.hang_seconds = float(data["hang_seconds"])
        if "keep_messages" in data:
            self.state.keep_messages = bool(data["keep_messages"])
        return JSONResponse(self.state.stats())

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats())

    async def messages(self, request: Request) -> Response:
        return JSONResponse(self.state.messages.get(request.path_params["sid"], []))

    async def push(self, request: Request) -> Response:
        state = self.state
        body = await request.body()
        await state.hold()
        origin = f"{request.url.scheme}://{request.url.netloc}"
        status, headers = state.receive(request.path_params["sid"], request.headers, body, origin)
        return Response(status_code=status, headers=headers)


PUSH = PushState()


def create_app(state: PushState | None = None) -> Starlette:
    """The push service alone (tests, the benchmark's child process)."""
    return Starlette(routes=PushService(state or PushState()).routes())

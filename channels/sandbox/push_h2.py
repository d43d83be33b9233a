"""The sandbox's push service over HTTP/2 without TLS (prior knowledge), for the benchmark.

Real push services speak HTTP/2 (over TLS), and a sender's throughput depends on it:
many pushes share one connection and their frames go out together. uvicorn speaks
HTTP/1.1 only, so ``bench/push.py`` runs this one: the same ``PushState`` as the ASGI
app (channels/sandbox/push.py) behind a small asyncio server on the ``h2`` library
that answers every request a read brings with one write. Only ``POST
/push/send/{id}`` is served here; making subscriptions and reading the counts go to the
ASGI app on its own port.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h2.config
import h2.connection
import h2.events

from channels.sandbox.push import PushState

PREFIX = "/push/send/"


class _Connection(asyncio.Protocol):
    def __init__(self, state: PushState, origin: str) -> None:
        self.state = state
        self.origin = origin
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.requests: dict[int, tuple[dict[str, str], bytearray]] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        self._send()

    def _send(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._send()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers or []}
                self.requests[event.stream_id] = (headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                found = self.requests.get(event.stream_id)
                if found is not None and event.data:
                    found[1].extend(event.data)
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._answer(event.stream_id)
        self._send()  # every answer this read brought, in one write

    def _answer(self, stream_id: int) -> None:
        headers, body = self.requests.pop(stream_id, ({}, bytearray()))
        path = headers.get(":path", "")
        if self.state.hang > 0:
            asyncio.get_running_loop().create_task(self._late(stream_id, headers, bytes(body)))
            return
        extra: dict[str, str] = {}
        if headers.get(":method") != "POST" or not path.startswith(PREFIX):
            status = 404
        else:
            status, extra = self.state.receive(
                path[len(PREFIX) :], headers, bytes(body), self.origin
            )
        self._respond(stream_id, status, extra)

    async def _late(self, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        await self.state.hold()
        path = headers.get(":path", "")
        status, extra = self.state.receive(path[len(PREFIX) :], headers, body, self.origin)
        self._respond(stream_id, status, extra)
        self._send()

    def _respond(self, stream_id: int, status: int, extra: dict[str, str]) -> None:
        answer = [(":status", str(status)), ("content-length", "0")]
        answer += [(k.lower(), v) for k, v in extra.items()]
        with contextlib.suppress(h2.exceptions.StreamClosedError):  # the client gave up
            self.h2.send_headers(stream_id, answer, end_stream=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(state: PushState, sock: Any) -> None:
    """Answer pushes on the listening socket ``sock`` until cancelled."""
    host, port = sock.getsockname()[:2]
    origin = f"http://{host}:{port}"
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state, origin), sock=sock)
    async with server:
        await server.serve_forever()

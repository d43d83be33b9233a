"""The sandbox's push service over HTTP/2 without TLS (prior knowledge), for the benchmark.

Real push services speak HTTP/2 (over TLS), and a sender's throughput depends on it:
many pushes share one connection and their frames go out together. uvicorn speaks
HTTP/1.1 only, so ``bench/push.py`` runs this one: the same ``PushState`` as the ASGI
app (channels/sandbox/push.py) behind a small asyncio server that answers every request
a read brings with one write. It parses the frames itself (``hpack`` decodes the request
headers; answers are encoded without touching the compression table): through the ``h2``
state machine it cost about 1 ms of CPU per push, more than the sender it measures, on
the same two CPUs. It takes what an HTTP/2 client sends (RFC 9113: SETTINGS, PING,
HEADERS with CONTINUATION and padding, DATA, RST_STREAM, GOAWAY); it is no general server.
Only ``POST /push/send/{id}`` is served here; making subscriptions and reading the counts
go to the ASGI app on its own port.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import hpack

from channels.h2push import frame, literal
from channels.sandbox.push import PushState

PREFIX = "/push/send/"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 3, 4, 6, 7, 8, 9
)  # fmt: skip
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
MAX_STREAMS = 100
WINDOW = 2**31 - 1  # the client may send as much as it likes: the window is refilled


def _field(name: str, value: str) -> bytes:
    """A literal header field without indexing: the compression table never changes."""
    return literal(name.encode("latin-1"), value.encode("latin-1"))


class _Connection(asyncio.Protocol):
    def __init__(self, state: PushState, origin: str) -> None:
        self.state = state
        self.origin = origin
        self.decoder = hpack.Decoder()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.preface = False
        self.out: list[bytes] = []
        self.requests: dict[int, tuple[dict[str, str], bytearray]] = {}
        self.block: tuple[int, bytearray, bool] | None = None  # HEADERS awaiting CONTINUATION
        self.unacknowledged = 0  # DATA octets since the last connection WINDOW_UPDATE

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        # asyncio sets TCP_NODELAY only on sockets made with IPPROTO_TCP, and a listener
        # made with socket.socket() passes proto 0 to its connections: without it Nagle
        # held the last answers of a burst until the client's delayed ACK (40 ms).
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        settings = (3).to_bytes(2, "big") + MAX_STREAMS.to_bytes(4, "big")
        settings += (4).to_bytes(2, "big") + WINDOW.to_bytes(4, "big")
        self.out.append(frame(SETTINGS, 0, 0, settings))
        self.out.append(frame(WINDOW_UPDATE, 0, 0, (WINDOW - 65535).to_bytes(4, "big")))
        self._send()

    def _send(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def _close(self) -> None:
        self._send()
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.preface:
            if len(buffer) < len(PREFACE):
                return
            if buffer[: len(PREFACE)] != PREFACE:
                self._close()
                return
            del buffer[: len(PREFACE)]
            self.preface = True
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags = buffer[3], buffer[4]
            stream_id = int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            payload = bytes(buffer[9 : 9 + length])
            del buffer[: 9 + length]
            try:
                self.frame(kind, flags, stream_id, payload)
            except (hpack.HPACKError, ValueError, IndexError):
                self.out.append(frame(GOAWAY, 0, 0, bytes(4) + (1).to_bytes(4, "big")))
                self._close()
                return
        if self.unacknowledged > WINDOW // 2:
            self.out.append(frame(WINDOW_UPDATE, 0, 0, self.unacknowledged.to_bytes(4, "big")))
            self.unacknowledged = 0
        self._send()  # every answer this read brought, in one write

    def frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if kind == DATA:
            self.unacknowledged += len(payload)
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            found = self.requests.get(stream_id)
            if found is not None:
                found[1].extend(payload)
            if flags & END_STREAM:
                self._answer(stream_id)
        elif kind == HEADERS:
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            if flags & PRIORITY:
                payload = payload[5:]
            self.block = (stream_id, bytearray(payload), bool(flags & END_STREAM))
            if flags & END_HEADERS:
                self._headers()
        elif kind == CONTINUATION and self.block is not None:
            self.block[1].extend(payload)
            if flags & END_HEADERS:
                self._headers()
        elif kind == SETTINGS and not flags & ACK:
            self.out.append(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.out.append(frame(PING, ACK, 0, payload))
        elif kind == RST_STREAM:
            self.requests.pop(stream_id, None)
        elif kind == GOAWAY:
            self._close()

    def _headers(self) -> None:
        assert self.block is not None
        stream_id, block, ended = self.block
        self.block = None
        headers = {str(k): str(v) for k, v in self.decoder.decode(bytes(block))}
        self.requests[stream_id] = (headers, bytearray())
        if ended:
            self._answer(stream_id)

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
        block = _field(":status", str(status)) + _field("content-length", "0")
        block += b"".join(_field(k.lower(), v) for k, v in extra.items())
        self.out.append(frame(HEADERS, END_STREAM | END_HEADERS, stream_id, block))

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

"""A lean HTTP/2 client for the Web Push hot path: many POSTs in flight on one connection.

httpx over HTTP/2 costs about 2 ms of CPU per request (its models, anyio locks, httpcore's
per-stream state and a write per frame) where encrypting the notice costs 0.15 ms, so a
worker sent about 350 pushes a second. This client speaks HTTP/2 through the ``h2`` state
machine on an asyncio protocol: every request is a few frames appended to the connection's
buffer, all frames of one turn of the event loop go out in one write, answers are matched
to streams as they arrive. Only what a push needs: ``POST`` with a small body, the status,
a few answer headers and the start of the answer's body.

``channels.webpush.Sender`` uses it for ``https://`` push services that offer ``h2`` (ALPN)
and for the sandbox's cleartext one (``cleartext_http2``); a push service without HTTP/2
goes through httpx as before.

Failures are told apart the way the sender needs them:

- :class:`ConnectFailedError`: no connection (refused, timed out, TLS failed): nothing was sent;
- :class:`NotProcessedError`: the push service said it did not take the request (``GOAWAY``
  with a lower last stream id, ``REFUSED_STREAM``, RFC 9113 §8.7): safe to send again;
- :class:`NoAnswerError`: the request went out (or may have) and no answer came (timeout, the
  connection lost, the stream reset): whether the device got it is unknown.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

# Header names are sent as given (lower-case bytes), unvalidated and un-normalized: h2
# would otherwise mark ``authorization`` never-indexed and Huffman-encode the VAPID token
# (~350 bytes, the same for every push to an origin) on every request. Indexing it is safe
# here: nothing an attacker chooses shares the connection's compression context.
_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
)
BODY_KEEP = 1024  # bytes of an answer's body kept (for the error detail)


class PushHTTPError(Exception):
    """A push got no HTTP answer."""


class ConnectFailedError(PushHTTPError):
    """No connection to the push service: nothing was sent."""


class NotProcessedError(PushHTTPError):
    """The push service refused the stream before processing it: safe to send again."""


class NoAnswerError(PushHTTPError):
    """The request was (or may have been) sent and no answer came: outcome unknown."""


class TimedOutError(NoAnswerError):
    """The request went out and no answer came in time."""


class NoHTTP2Error(PushHTTPError):
    """The push service did not offer HTTP/2 over TLS (ALPN): use HTTP/1.1 instead."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class _Stream:
    future: asyncio.Future[Response]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.h2 = h2.connection.H2Connection(config=_CONFIG)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.closed = False  # lost, or GOAWAY received: takes no new streams
        self.settled = False  # the push service's SETTINGS arrived (its stream limit)
        self._flush_scheduled = False
        self._window = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    # -- asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(NoAnswerError(f"HTTP/2 protocol error: {exc}"))
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            self._event(event)
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(NoAnswerError(f"connection lost: {exc or 'closed by the push service'}"))

    # -- events
    def _event(self, event: Any) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                for name, value in event.headers or ():
                    key = name.decode("latin-1").lower()
                    text = value.decode("latin-1")
                    if key == ":status":
                        stream.status = int(text)
                    else:
                        stream.headers[key] = text
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None and len(stream.body) < BODY_KEEP:
                stream.body.extend(event.data[: BODY_KEEP - len(stream.body)])
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None and not stream.future.done():
                answer = Response(stream.status, stream.headers, bytes(stream.body))
                stream.future.set_result(answer)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None and not stream.future.done():
                if event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM:
                    error: PushHTTPError = NotProcessedError("stream refused (REFUSED_STREAM)")
                else:
                    error = NoAnswerError(f"stream reset ({event.error_code!s})")
                stream.future.set_exception(error)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.closed = True
            last = event.last_stream_id if event.last_stream_id is not None else 2**31
            for stream_id in [s for s in self.streams if s > last]:
                stream = self.streams.pop(stream_id)
                if not stream.future.done():
                    stream.future.set_exception(NotProcessedError("GOAWAY before this stream"))
            if not self.streams and self.transport is not None:
                self.transport.close()
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self.settled = self.settled or isinstance(event, h2.events.RemoteSettingsChanged)
            self._window.set()

    def _fail(self, error: PushHTTPError) -> None:
        self.closed = True
        self._window.set()
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            if not stream.future.done():
                stream.future.set_exception(error)

    # -- sending
    def flush(self) -> None:
        """Send what h2 holds now."""
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _flush_soon(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self.flush)

    def has_room(self) -> bool:
        # Until the push service says its limit, no more than the usual 100 (RFC 9113
        # recommends at least that): more would be refused before its SETTINGS arrive.
        limit = self.h2.remote_settings.max_concurrent_streams if self.settled else 100
        return not self.closed and self.transport is not None and len(self.streams) < limit

    async def request(
        self, headers: Sequence[tuple[bytes, bytes]], body: bytes, timeout: float
    ) -> Response:
        try:
            stream_id = self.h2.get_next_available_stream_id()
        except h2.exceptions.NoAvailableStreamIDError:
            self.closed = True
            raise NotProcessedError("connection out of stream ids") from None
        future: asyncio.Future[Response] = self._loop.create_future()
        self.streams[stream_id] = _Stream(future)
        try:
            self.h2.send_headers(stream_id, list(headers), end_stream=not body)
            view = memoryview(body)
            while view:
                window = min(
                    self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
                )
                if window <= 0:
                    # Wait for the push service to open its window (it acknowledges data).
                    self._window.clear()
                    self.flush()
                    await asyncio.wait_for(self._window.wait(), timeout)
                    if self.closed:
                        raise NoAnswerError("connection closed while sending")
                    continue
                chunk = view[:window]
                view = view[window:]
                self.h2.send_data(stream_id, bytes(chunk), end_stream=not view)
        except TimeoutError:
            self.streams.pop(stream_id, None)
            raise TimedOutError("the push service's flow-control window stayed closed") from None
        except h2.exceptions.ProtocolError as exc:
            self.streams.pop(stream_id, None)
            raise NoAnswerError(f"sending failed: {type(exc).__name__}") from None
        self._flush_soon()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self.streams.pop(stream_id, None)
            if not self.closed:
                self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                self._flush_soon()
            raise TimedOutError(f"no answer within {timeout:g} s") from None

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.h2.close_connection()
            self.flush()
            self.transport.close()


class Client:
    """HTTP/2 connections to push services, one event loop. Callers bound concurrency."""

    def __init__(self, *, timeout: float = 10.0, connect_timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._pools: dict[str, list[_Connection]] = {}
        self._connecting: dict[str, asyncio.Future[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["h2"])
        return self._ssl

    async def _connect(self, origin: str) -> _Connection:
        parts = urlsplit(origin)
        tls = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if tls else 80)
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    host,
                    port,
                    ssl=self._context() if tls else None,
                    server_hostname=host if tls else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectFailedError(f"{type(exc).__name__}: {exc}") from None
        if tls:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is None or ssl_object.selected_alpn_protocol() != "h2":
                transport.close()
                raise NoHTTP2Error(f"{origin} does not offer HTTP/2")
        return protocol

    async def _connection(self, origin: str) -> _Connection:
        pool = self._pools.setdefault(origin, [])
        pool[:] = [c for c in pool if not c.closed]
        for conn in pool:
            if conn.has_room():
                return conn
        pending = self._connecting.get(origin)
        if pending is None:  # one connect at a time per origin; the others wait for it
            pending = asyncio.ensure_future(self._connect(origin))
            self._connecting[origin] = pending
            try:
                conn = await pending
            finally:
                self._connecting.pop(origin, None)
            pool.append(conn)
            return conn
        conn = await asyncio.shield(pending)
        return conn if conn.has_room() else await self._connection(origin)

    async def post(self, url: str, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> Response:
        """POST ``body`` to ``url`` with ``headers`` (lower-case names, no pseudo-headers)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        conn = await self._connection(origin)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        head = [
            (b":method", b"POST"),
            (b":scheme", parts.scheme.encode()),
            (b":authority", parts.netloc.encode()),
            (b":path", (path or "/").encode()),
            *headers,
            (b"content-length", str(len(body)).encode()),
        ]
        return await conn.request(head, body, self.timeout)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            for conn in pool:
                conn.close()
        self._pools.clear()

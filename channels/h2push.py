"""A lean HTTP/2 client for the Web Push hot path: many POSTs in flight on one connection.

httpx over HTTP/2 costs about 2 ms of CPU per request (its models, anyio locks, httpcore's
per-stream state and a write per frame), and even the ``h2`` state machine alone cost about
0.2 ms per push (frame objects, per-stream state, HPACK with Huffman coding), where
encrypting the notice costs 0.1 ms. This client writes and reads the frames itself
(RFC 9113) on an asyncio protocol, only what a push needs: ``POST`` with a small body, the
status, a few answer headers and the start of the answer's body.

- A request is a HEADERS frame and a DATA frame appended to the connection's buffer; all
  frames of one turn of the event loop go out in one write.
- Request headers (RFC 7541): the ones that are the same for every push to an origin
  (``:authority``, ``ttl``, ``urgency``, the VAPID ``authorization``...) enter the HPACK
  dynamic table once per connection and are one byte each afterwards; the block they make
  is kept until the table changes. ``:path``, ``topic`` and ``content-length`` are literals
  that never enter it. No Huffman coding (allowed, and cheaper than the bytes it saves).
  Nothing an attacker chooses shares the connection's compression context, so indexing
  the VAPID token is safe.
- Answers: frames parsed from the read buffer, header blocks decoded with ``hpack``'s
  decoder (every block, also of streams given up on, so its table stays in step).
- Flow control: bodies wait for the push service's windows; ours are opened wide and
  refilled as answers' bodies arrive. One timer per connection enforces the timeout of
  its oldest stream (all share one timeout, so the oldest is always the first due).

:meth:`Client.post` is the awaitable form; ``channels.webpush.Sender`` uses
:meth:`Client.ready` / :meth:`Client.connection` and :meth:`Connection.request` with a
callback, so a push costs no task and no future.

``channels.webpush.Sender`` uses it for ``https://`` push services that offer ``h2`` (ALPN)
and for the sandbox's cleartext one (``cleartext_http2``); a push service without HTTP/2
goes through httpx.

Failures are told apart the way the sender needs them:

- :class:`ConnectFailedError`: no connection (refused, timed out, TLS failed): nothing was sent;
- :class:`NotProcessedError`: the push service said it did not take the request (``GOAWAY``
  with a lower last stream id, ``REFUSED_STREAM``, RFC 9113 §8.7): safe to send again;
- :class:`NoAnswerError`: the request went out (or may have) and no answer came (timeout, the
  connection lost, the stream reset): whether the device got it is unknown.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import hpack
import hpack.table

BODY_KEEP = 1024  # bytes of an answer's body kept (for the error detail)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE = 1, 2, 3, 4
MAX_FRAME_SIZE = 5
ERRORS = {
    0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
    4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM",
    8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR", 11: "ENHANCE_YOUR_CALM",
    12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED",
}  # fmt: skip
PROTOCOL_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL = 1, 3, 6, 7, 8
COMPRESSION_ERROR = 9
DEFAULT_WINDOW = 65_535
MAX_WINDOW = 2**31 - 1
MAX_STREAM_ID = 2**31 - 1
FRAME_SIZE = 16_384  # the largest frame we take (we never raise SETTINGS_MAX_FRAME_SIZE)
TABLE_SIZE = 4096  # HPACK dynamic table, both ways
MAX_HEADER_LIST = 64 * 1024  # the largest answer header list taken
RECEIVE_WINDOW = 1 << 20  # our windows, per stream and for the connection
STREAMS_BEFORE_SETTINGS = 100  # RFC 9113 recommends a limit of at least 100
# Requests written at once: a caller sending many in a row (each encrypted first, ~0.1 ms)
# would otherwise hold them all until it yields, and the push service would idle meanwhile.
WRITE_EVERY = 16
_HEAD = struct.Struct("!HBBBL")  # a frame header: length (24 bits), type, flags, stream id
_STATIC = hpack.table.HeaderTable.STATIC_TABLE
_STATIC_FIELDS = {field: n for n, field in reversed(list(enumerate(_STATIC, 1)))}
_STATIC_NAMES = {name: n for n, (name, _) in reversed(list(enumerate(_STATIC, 1)))}

Field = tuple[bytes, bytes]


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


class _ProtocolError(Exception):
    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


Done = Callable[[Response | PushHTTPError], None]


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame (RFC 9113 §4.1)."""
    size = len(payload)
    return _HEAD.pack(size >> 8, size & 0xFF, kind, flags, stream_id) + payload


def _integer(value: int, prefix: int, first: int = 0) -> bytes:
    """An HPACK integer (RFC 7541 §5.1) with a ``prefix``-bit prefix, ORed into ``first``."""
    limit = (1 << prefix) - 1
    if value < limit:
        return bytes([first | value])
    out, value = bytearray([first | limit]), value - limit
    while value >= 128:
        out.append(value % 128 | 128)
        value //= 128
    out.append(value)
    return bytes(out)


def _string(raw: bytes) -> bytes:
    return _integer(len(raw), 7) + raw


_LITERAL_NAMES: dict[bytes, bytes] = {}  # name -> how a literal without indexing begins


def literal(name: bytes, value: bytes) -> bytes:
    """A header field that never enters the dynamic table (RFC 7541 §6.2.2)."""
    head = _LITERAL_NAMES.get(name)
    if head is None:
        index = _STATIC_NAMES.get(name)
        head = _integer(index, 4) if index is not None else b"\x00" + _string(name)
        if len(_LITERAL_NAMES) < 64:  # the few names a sender uses
            _LITERAL_NAMES[name] = head
    size = len(value)
    return head + (bytes((size,)) if size < 127 else _integer(size, 7)) + value


class Encoder:
    """HPACK for requests: fields given to :meth:`indexed` enter the dynamic table once and
    are referred to by index from then on; the encoding of each tuple of fields is kept
    until the table changes."""

    def __init__(self) -> None:
        self.limit = TABLE_SIZE
        self.size = 0
        self.entries: deque[tuple[Field, int]] = deque()  # oldest first, with their number
        self.numbers: dict[Field, int] = {}  # field -> number of its entry
        self.added = 0  # entries ever added: the newest is number added - 1
        self.resizes: list[int] = []  # table size updates to announce in the next block
        self.blocks: dict[tuple[Field, ...], bytes] = {}

    def resize(self, peer_limit: int) -> None:
        """The push service's SETTINGS_HEADER_TABLE_SIZE: never more than that, nor 4096."""
        limit = min(TABLE_SIZE, peer_limit)
        if limit != self.limit:
            self.limit = limit
            self.resizes.append(limit)
            self._evict()
            self.blocks.clear()

    def _evict(self) -> None:
        while self.size > self.limit:
            field, number = self.entries.popleft()
            self.size -= len(field[0]) + len(field[1]) + 32
            if self.numbers.get(field) == number:
                del self.numbers[field]

    def start(self) -> bytes:
        """What a header block begins with: the table size updates owed (RFC 7541 §4.2:
        the smallest since the last block, then the one in force)."""
        if not self.resizes:
            return b""
        smallest = min(self.resizes)
        out = _integer(smallest, 5, 0x20)
        if self.limit != smallest:
            out += _integer(self.limit, 5, 0x20)
        self.resizes.clear()
        return out

    def indexed(self, fields: tuple[Field, ...]) -> bytes:
        found = self.blocks.get(fields)
        if found is not None:
            return found
        out = bytearray()
        changed = False
        for field in fields:
            static = _STATIC_FIELDS.get(field)
            if static is not None:
                out += _integer(static, 7, 0x80)
                continue
            number = self.numbers.get(field)
            if number is not None:
                out += _integer(62 + self.added - 1 - number, 7, 0x80)
                continue
            name, value = field
            size = len(name) + len(value) + 32
            if size > self.limit:  # adding it would empty the table: a plain literal
                out += literal(name, value)
                continue
            index = _STATIC_NAMES.get(name)
            out += _integer(index, 6, 0x40) if index is not None else b"\x40" + _string(name)
            out += _string(value)
            self.entries.append((field, self.added))
            self.numbers[field] = self.added
            self.added += 1
            self.size += size
            self._evict()
            changed = True
        block = bytes(out)
        if changed:
            self.blocks.clear()  # every other block's indices moved
        else:
            self.blocks[fields] = block
        return block


class _Stream:
    __slots__ = ("body", "deadline", "done", "headers", "pending", "status", "unacked", "window")

    def __init__(self, done: Done, deadline: float, window: int) -> None:
        self.done = done
        self.deadline = deadline
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.window = window  # what we may still send on it (the push service's window)
        self.pending: memoryview | None = None  # body waiting for a window
        self.unacked = 0  # DATA octets received and not yet given back (WINDOW_UPDATE)


class Connection(asyncio.Protocol):
    """One HTTP/2 connection to a push service (the client side)."""

    def __init__(self, authority: bytes, scheme: bytes, timeout: float) -> None:
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}  # in stream id order: oldest (first due) first
        self.closed = False  # lost, or GOAWAY received: takes no new streams
        self.settled = False  # the push service's SETTINGS arrived (its stream limit)
        self.max_streams = STREAMS_BEFORE_SETTINGS
        self.max_frame = FRAME_SIZE  # the push service's SETTINGS_MAX_FRAME_SIZE
        self.initial_window = DEFAULT_WINDOW  # its SETTINGS_INITIAL_WINDOW_SIZE
        self.window = DEFAULT_WINDOW  # what we may still send on the connection
        self.next_id = 1
        self.encoder = Encoder()
        # hpack's decoder: Huffman strings, the dynamic table, size updates, list limits.
        self.decoder = hpack.Decoder(max_header_list_size=MAX_HEADER_LIST)
        self.decoder.max_allowed_table_size = TABLE_SIZE  # our SETTINGS_HEADER_TABLE_SIZE
        self.pseudo = ((b":method", b"POST"), (b":scheme", scheme), (b":authority", authority))
        self.blocked: deque[int] = deque()  # streams whose body waits for a window
        self.unacked = 0  # connection-level DATA octets not yet given back
        self.buffer = b""
        self.block: tuple[int, bytearray, bool] | None = None  # HEADERS awaiting CONTINUATION
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.unwritten = 0  # requests in ``out``
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Small frames go out at once (asyncio sets it only for IPPROTO_TCP sockets).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        settings = struct.pack("!HLHL", ENABLE_PUSH, 0, INITIAL_WINDOW_SIZE, RECEIVE_WINDOW)
        self.out += [
            PREFACE,
            frame(SETTINGS, 0, 0, settings),
            frame(WINDOW_UPDATE, 0, 0, struct.pack("!L", RECEIVE_WINDOW - DEFAULT_WINDOW)),
        ]
        self.flush()

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        end, pos = len(buffer), 0
        try:
            while end - pos >= 9:
                high, low, kind, flags, stream_id = _HEAD.unpack_from(buffer, pos)
                size = high << 8 | low
                if size > FRAME_SIZE:
                    raise _ProtocolError(FRAME_SIZE_ERROR, f"a frame of {size} octets")
                if end - pos - 9 < size:
                    break
                payload = buffer[pos + 9 : pos + 9 + size]
                pos += 9 + size
                self.frame(kind, flags, stream_id & MAX_STREAM_ID, payload)
                if self.transport is None:
                    return
        except _ProtocolError as exc:
            self._abort(exc.code, str(exc))
            return
        self.buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._fail(NoAnswerError(f"connection lost: {exc or 'closed by the push service'}"))

    # -- frames received
    def frame(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self.block is not None and kind != CONTINUATION:
            raise _ProtocolError(PROTOCOL_ERROR, "a header block was interrupted")
        if kind == HEADERS:
            if flags & PADDED:
                payload = self._unpad(payload)
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            if flags & END_HEADERS:
                self._headers(stream_id, payload, bool(flags & END_STREAM))
            else:
                self.block = (stream_id, bytearray(payload), bool(flags & END_STREAM))
        elif kind == DATA:
            self._data(flags, stream_id, payload)
        elif kind == CONTINUATION:
            if self.block is None or self.block[0] != stream_id:
                raise _ProtocolError(PROTOCOL_ERROR, "CONTINUATION without HEADERS")
            self.block[1].extend(payload)
            if flags & END_HEADERS:
                block_id, block, ended = self.block
                self.block = None
                self._headers(block_id, bytes(block), ended)
        elif kind == SETTINGS:
            if not flags & ACK:
                self._settings(payload)
        elif kind == WINDOW_UPDATE:
            self._window_update(stream_id, payload)
        elif kind == RST_STREAM:
            self._reset(stream_id, payload)
        elif kind == PING:
            if not flags & ACK:
                self._send(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            self._goaway(payload)
        elif kind == PUSH_PROMISE:
            raise _ProtocolError(PROTOCOL_ERROR, "PUSH_PROMISE though push is disabled")
        # PRIORITY and unknown frame types are ignored (RFC 9113 §5.5).

    @staticmethod
    def _unpad(payload: bytes) -> bytes:
        if not payload or payload[0] >= len(payload):
            raise _ProtocolError(PROTOCOL_ERROR, "padding longer than the frame")
        return payload[1 : len(payload) - payload[0]]

    def _headers(self, stream_id: int, block: bytes, ended: bool) -> None:
        try:
            fields = self.decoder.decode(block, raw=True)
        except hpack.HPACKError as exc:
            raise _ProtocolError(COMPRESSION_ERROR, f"header block: {exc}") from None
        stream = self.streams.get(stream_id)
        if stream is None:
            return  # given up on (timed out): decoded all the same, for the table's sake
        if not stream.status:
            status = 0
            headers: dict[str, str] = {}
            for name, value in fields:
                if name == b":status":
                    status = int(value) if value.isdigit() else 0
                elif name[:1] != b":":
                    headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            if not 100 <= status < 200:  # an interim answer (1xx) is not the answer
                stream.status, stream.headers = status, headers
        if ended:
            self._complete(stream_id)

    def _data(self, flags: int, stream_id: int, payload: bytes) -> None:
        size = len(payload)
        self.unacked += size
        if self.unacked >= RECEIVE_WINDOW // 2:
            self._send(frame(WINDOW_UPDATE, 0, 0, struct.pack("!L", self.unacked)))
            self.unacked = 0
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        if flags & PADDED:
            payload = self._unpad(payload)
        if len(stream.body) < BODY_KEEP:
            stream.body += payload[: BODY_KEEP - len(stream.body)]
        if flags & END_STREAM:
            self._complete(stream_id)
            return
        stream.unacked += size
        if stream.unacked >= RECEIVE_WINDOW // 2:
            self._send(frame(WINDOW_UPDATE, 0, stream_id, struct.pack("!L", stream.unacked)))
            stream.unacked = 0

    def _complete(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if stream.pending is not None:  # answered before its body went out: stop sending it
            stream.pending = None
            self._send(frame(RST_STREAM, 0, stream_id, struct.pack("!L", CANCEL)))
        if stream.status:
            stream.done(Response(stream.status, stream.headers, stream.body))
        else:
            stream.done(NoAnswerError("the stream ended without an answer"))
        if self.closed and not self.streams and self.transport is not None:
            self.transport.close()

    def _settings(self, payload: bytes) -> None:
        if len(payload) % 6:
            raise _ProtocolError(FRAME_SIZE_ERROR, "SETTINGS of a wrong length")
        limit = None
        for key, value in struct.iter_unpack("!HL", payload):
            if key == HEADER_TABLE_SIZE:
                self.encoder.resize(value)
            elif key == MAX_CONCURRENT_STREAMS:
                limit = value
            elif key == INITIAL_WINDOW_SIZE:
                if value > MAX_WINDOW:
                    raise _ProtocolError(FLOW_CONTROL_ERROR, "initial window too large")
                for stream in self.streams.values():
                    stream.window += value - self.initial_window
                self.initial_window = value
            elif key == MAX_FRAME_SIZE:
                if not FRAME_SIZE <= value < 1 << 24:
                    raise _ProtocolError(PROTOCOL_ERROR, f"SETTINGS_MAX_FRAME_SIZE {value}")
                self.max_frame = value
        if limit is not None:
            self.max_streams = limit
        elif not self.settled:
            self.max_streams = MAX_STREAM_ID  # none said: no limit (RFC 9113 §6.5.2)
        self.settled = True
        self._send(frame(SETTINGS, ACK, 0))
        self._unblock()

    def _window_update(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ProtocolError(FRAME_SIZE_ERROR, "WINDOW_UPDATE of a wrong length")
        increment = struct.unpack("!L", payload)[0] & MAX_WINDOW
        if stream_id == 0:
            self.window += increment
            if self.window > MAX_WINDOW:
                raise _ProtocolError(FLOW_CONTROL_ERROR, "connection window too large")
        else:
            stream = self.streams.get(stream_id)
            if stream is None:
                return
            stream.window += increment
        self._unblock()

    def _reset(self, stream_id: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise _ProtocolError(FRAME_SIZE_ERROR, "RST_STREAM of a wrong length")
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        stream.pending = None
        code = struct.unpack("!L", payload)[0]
        if code == REFUSED_STREAM:
            stream.done(NotProcessedError("stream refused (REFUSED_STREAM)"))
        else:
            stream.done(NoAnswerError(f"stream reset ({ERRORS.get(code, code)})"))
        if self.closed and not self.streams and self.transport is not None:
            self.transport.close()

    def _goaway(self, payload: bytes) -> None:
        if len(payload) < 8:
            raise _ProtocolError(FRAME_SIZE_ERROR, "GOAWAY too short")
        last = struct.unpack_from("!L", payload)[0] & MAX_STREAM_ID
        self.closed = True
        for stream_id in [s for s in self.streams if s > last]:
            stream = self.streams.pop(stream_id)
            stream.pending = None
            stream.done(NotProcessedError("GOAWAY before this stream"))
        if not self.streams and self.transport is not None:
            self.transport.close()

    def _abort(self, code: int, why: str) -> None:
        """A protocol error: say so (GOAWAY), fail every stream, close."""
        self._send(frame(GOAWAY, 0, 0, struct.pack("!LL", 0, code)))
        self.flush()
        self._fail(NoAnswerError(f"HTTP/2 protocol error: {why}"))
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: PushHTTPError) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        streams, self.streams = self.streams, {}
        self.blocked.clear()
        for stream in streams.values():
            stream.done(error)

    # -- sending
    def _send(self, frame: bytes) -> None:
        self.out.append(frame)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Send what is buffered now (one write)."""
        self.flush_scheduled = False
        self.unwritten = 0
        if not self.out:
            return
        data = b"".join(self.out)
        self.out.clear()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def has_room(self) -> bool:
        return (
            not self.closed and self.transport is not None and len(self.streams) < self.max_streams
        )

    def request(
        self,
        path: bytes,
        indexed: tuple[Field, ...],
        literals: Sequence[Field],
        body: bytes,
        done: Done,
    ) -> None:
        """Send ``POST path`` with ``body``: ``indexed`` headers enter the HPACK table (the
        ones every push repeats), ``literals`` do not. ``done`` gets the answer or the error,
        once. Raises NotProcessedError when the connection cannot take another stream."""
        stream_id = self.next_id
        if stream_id > MAX_STREAM_ID or self.closed or self.transport is None:
            self.closed = True
            raise NotProcessedError("the connection takes no more streams")
        self.next_id += 2
        encoder = self.encoder
        parts = [
            encoder.start(),
            encoder.indexed(self.pseudo),
            literal(b":path", path),
            encoder.indexed(indexed),
        ]
        for name, value in literals:
            parts.append(literal(name, value))
        parts.append(literal(b"content-length", str(len(body)).encode()))
        block = b"".join(parts)
        stream = _Stream(done, self.loop.time() + self.timeout, self.initial_window)
        self.streams[stream_id] = stream
        out = self.out
        size = len(block)
        if size <= self.max_frame:
            flags = END_HEADERS if body else END_HEADERS | END_STREAM
            out.append(_HEAD.pack(size >> 8, size & 0xFF, HEADERS, flags, stream_id) + block)
        else:
            out.append(
                frame(HEADERS, 0 if body else END_STREAM, stream_id, block[: self.max_frame])
            )
            rest = block[self.max_frame :]
            while rest:
                chunk, rest = rest[: self.max_frame], rest[self.max_frame :]
                out.append(frame(CONTINUATION, 0 if rest else END_HEADERS, stream_id, chunk))
        size = len(body)
        if size and size <= self.window and size <= stream.window and size <= self.max_frame:
            self.window -= size
            stream.window -= size
            out.append(_HEAD.pack(size >> 8, size & 0xFF, DATA, END_STREAM, stream_id) + body)
        elif size:
            stream.pending = memoryview(body)
            self.blocked.append(stream_id)
            self._unblock()
        self.unwritten += 1
        if self.unwritten >= WRITE_EVERY:
            self.flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)
        if self.timer is None:
            self.timer = self.loop.call_at(stream.deadline, self._expire)

    def _unblock(self) -> None:
        """Send what the windows now let through of the bodies waiting for them."""
        waiting: deque[int] = deque()
        for stream_id in self.blocked:
            stream = self.streams.get(stream_id)
            if stream is None or stream.pending is None:
                continue
            pending = stream.pending
            while pending and self.window > 0 and stream.window > 0:
                size = min(len(pending), self.window, stream.window, self.max_frame)
                chunk, pending = pending[:size], pending[size:]
                self.window -= size
                stream.window -= size
                self._send(frame(DATA, 0 if pending else END_STREAM, stream_id, bytes(chunk)))
            stream.pending = pending if pending else None
            if pending:
                waiting.append(stream_id)
        self.blocked = waiting

    def _expire(self) -> None:
        """Give up on the streams past their deadline (the oldest ones)."""
        self.timer = None
        now = self.loop.time()
        due = []
        for stream_id, stream in self.streams.items():
            if stream.deadline > now:
                break
            due.append(stream_id)
        for stream_id in due:
            stream = self.streams.pop(stream_id)
            if stream.pending is not None:
                stream.pending = None
                error = TimedOutError("the push service's flow-control window stayed closed")
            else:
                error = TimedOutError(f"no answer within {self.timeout:g} s")
            if not self.closed:
                self._send(frame(RST_STREAM, 0, stream_id, struct.pack("!L", CANCEL)))
            stream.done(error)
        if self.streams and not self.closed:
            first = next(iter(self.streams.values()))
            self.timer = self.loop.call_at(first.deadline, self._expire)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self._send(frame(GOAWAY, 0, 0, struct.pack("!LL", 0, 0)))
            self.flush()
            self.transport.close()


class Client:
    """HTTP/2 connections to push services, one event loop. Callers bound concurrency."""

    def __init__(self, *, timeout: float = 10.0, connect_timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._pools: dict[str, list[Connection]] = {}
        self._connecting: dict[str, asyncio.Future[Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["h2"])
        return self._ssl

    async def _connect(self, origin: str) -> Connection:
        parts = urlsplit(origin)
        tls = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if tls else 80)
        loop = asyncio.get_running_loop()
        authority, scheme = parts.netloc.encode(), parts.scheme.encode()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Connection(authority, scheme, self.timeout),
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

    def ready(self, origin: str) -> Connection | None:
        """A connection to ``origin`` (lower-case ``scheme://host[:port]``) with room for
        another stream, if one is open."""
        pool = self._pools.get(origin)
        if pool:
            for conn in pool:
                if conn.has_room():
                    return conn
        return None

    async def connection(self, origin: str) -> Connection:
        """A connection with room, opening one if none has (one connect per origin at a time)."""
        found = self.ready(origin)
        if found is not None:
            return found
        pool = self._pools.setdefault(origin, [])
        pool[:] = [c for c in pool if not c.closed]
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
        return conn if conn.has_room() else await self.connection(origin)

    async def post(
        self,
        url: str,
        headers: Sequence[Field],
        body: bytes,
        *,
        literals: Sequence[Field] = (),
    ) -> Response:
        """POST ``body`` to ``url`` with ``headers`` (lower-case names, no pseudo-headers;
        indexed) and ``literals`` (headers that differ per request)."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        conn = self.ready(origin) or await self.connection(origin)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()

        def done(result: Response | PushHTTPError) -> None:
            if future.done():
                return
            if isinstance(result, Response):
                future.set_result(result)
            else:
                future.set_exception(result)

        conn.request((path or "/").encode(), tuple(headers), literals, body, done)
        return await future

    async def aclose(self) -> None:
        for pool in self._pools.values():
            for conn in pool:
                conn.close()
        self._pools.clear()

"""The lean HTTP/2 client (channels.h2push) as the Web Push sender uses it: answers, holds,
and what a lost answer means (sent or not, unknown)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
import hpack
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from channels import h2push, webpush
from channels.sandbox import push_h2
from channels.sandbox.push import PushState

NOTICE = webpush.Notice("Klarifikasi", "Buka tugasnya.", "https://g.example/inbox/1", "t1")


def _sender(concurrency: int = 8, timeout: float = 5.0) -> webpush.Sender:
    key = ec.generate_private_key(ec.SECP256R1())
    return webpush.Sender(
        key, "mailto:humas@example.go.id", concurrency=concurrency, timeout=timeout,
        cleartext_http2=True,
    )  # fmt: skip


def _target(n: int, sub: dict[str, Any]) -> webpush.Target:
    keys = sub["keys"]
    return webpush.Target(
        n,
        sub["endpoint"],
        webpush.b64url_decode(keys["p256dh"]),
        webpush.b64url_decode(keys["auth"]),
    )


def _listener() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _run_sandbox(test: Callable[[PushState, str], Awaitable[None]]) -> None:
    """Run ``test`` with the sandbox's HTTP/2 push service on the same event loop."""
    state = PushState()

    async def run() -> None:
        sock, url = _listener()
        service = asyncio.create_task(push_h2.serve(state, sock))
        await asyncio.sleep(0)
        try:
            await test(state, url)
        finally:
            service.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await service

    asyncio.run(run())


def test_many_pushes_share_few_connections_and_each_arrives_once_decrypted() -> None:
    async def test(state: PushState, url: str) -> None:
        sender = _sender(concurrency=150)
        targets = [_target(n, state.subscribe(url)) for n in range(300)]
        answers = await sender.push_all([(t, NOTICE.payload(), True, "a1") for t in targets])
        assert [a.status for a in answers] == [201] * 300
        assert all(a.location.startswith("/push/message/") for a in answers)
        stats = state.stats()
        assert (stats["received"], stats["duplicates"], stats["checked"]) == (300, 0, 300)
        # 150 in flight over streams of at most 100 per connection (push_h2's limit): 2.
        assert sender._h2 is not None
        assert 1 <= sum(len(p) for p in sender._h2._pools.values()) <= 2
        await sender.aclose()

    _run_sandbox(test)


def test_gone_throttled_and_failing_answers_keep_their_meaning() -> None:
    async def test(state: PushState, url: str) -> None:
        sender = _sender()
        gone, ok = _target(1, state.subscribe(url)), _target(2, state.subscribe(url))
        state.subscriptions[gone.endpoint.rsplit("/", 1)[1]].answer = 410
        (answer,) = await sender.push_all([(gone, NOTICE.payload(), False, "")])
        assert answer.gone
        assert not answer.maybe_sent
        missing = webpush.Target(3, f"{url}/push/send/nobody", ok.p256dh, ok.auth)
        (answer,) = await sender.push_all([(missing, NOTICE.payload(), False, "")])
        assert answer.status == 404
        assert answer.gone
        state.fail = 1
        (answer,) = await sender.push_all([(ok, NOTICE.payload(), False, "")])
        assert answer.status == 500
        assert answer.transient
        assert not answer.maybe_sent
        state.throttle, state.retry_after = 1, 20
        (first,) = await sender.push_all([(ok, NOTICE.payload(), False, "")])
        (second,) = await sender.push_all([(ok, NOTICE.payload(), False, "")])
        # The 429 holds the push service: the push after it is not even sent.
        assert first.status == 429
        assert first.retry_after == 20
        assert second.status == 429
        assert "held, not sent" in second.detail
        assert state.stats()["received"] == 0
        await sender.aclose()

    _run_sandbox(test)


def test_a_429_in_a_batch_holds_the_rest_of_it_and_the_ones_in_flight_still_count() -> None:
    async def test(state: PushState, url: str) -> None:
        sender = _sender(concurrency=8)
        targets = [_target(n, state.subscribe(url)) for n in range(20)]
        state.throttle, state.retry_after = 1, 30
        answers = await sender.push_all([(t, NOTICE.payload(), False, "") for t in targets])
        # The first push is throttled; the seven sent beside it are taken; the other twelve
        # wait for a slot, find the push service held, and are not sent.
        assert answers[0].status == 429
        assert answers[0].retry_after == 30
        assert [a.status for a in answers[1:8]] == [201] * 7
        assert all(a.status == 429 and "held, not sent" in a.detail for a in answers[8:])
        assert (state.stats()["received"], state.stats()["duplicates"]) == (7, 0)
        await sender.aclose()

    _run_sandbox(test)


def test_no_answer_in_time_is_unknown_and_holds_the_push_service() -> None:
    async def test(state: PushState, url: str) -> None:
        sender = _sender(timeout=0.3)
        target = _target(1, state.subscribe(url))
        state.hang, state.hang_seconds = 1, 2.0
        (answer,) = await sender.push_all([(target, NOTICE.payload(), False, "")])
        assert answer.status == 0
        assert answer.maybe_sent
        assert not answer.transient
        (answer,) = await sender.push_all([(target, NOTICE.payload(), False, "")])
        assert answer.status == 429
        assert "held, not sent" in answer.detail
        await sender.aclose()

    _run_sandbox(test)


def test_a_refused_connection_is_transient_and_nothing_was_sent() -> None:
    sock, url = _listener()
    sock.close()  # nobody listens there now

    async def test() -> None:
        sender = _sender()
        target = _target(1, PushState().subscribe(url))
        (answer,) = await sender.push_all([(target, NOTICE.payload(), False, "")])
        assert answer.status == 0
        assert answer.transient
        assert not answer.maybe_sent
        # Left alone for a while: the next push is held, not tried.
        (answer,) = await sender.push_all([(target, NOTICE.payload(), False, "")])
        assert answer.status == 429
        assert "held, not sent" in answer.detail
        await sender.aclose()

    asyncio.run(test())


class _Misbehaving(asyncio.Protocol):
    """An HTTP/2 server that, on each request, does ``how``: ``goaway`` (GOAWAY saying it
    processed nothing), ``refuse`` (RST_STREAM REFUSED_STREAM), ``drop`` (closes the
    connection without an answer), ``reset`` (RST_STREAM INTERNAL_ERROR)."""

    def __init__(self, how: str, seen: list[int]) -> None:
        self.how, self.seen = how, seen
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.StreamEnded):
                self.seen.append(event.stream_id)
                if self.how == "goaway":
                    self.h2.close_connection(last_stream_id=0)
                elif self.how == "refuse":
                    self.h2.reset_stream(event.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
                elif self.how == "reset":
                    self.h2.reset_stream(event.stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                else:
                    self.transport.close()
                    return
        self.transport.write(self.h2.data_to_send())


@pytest.mark.parametrize(
    ("how", "maybe_sent"), [("goaway", False), ("refuse", False), ("drop", True), ("reset", True)]
)
def test_a_stream_the_push_service_did_not_take_is_retryable_and_a_lost_one_unknown(
    how: str, maybe_sent: bool
) -> None:
    seen: list[int] = []

    async def test() -> None:
        sock, url = _listener()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Misbehaving(how, seen), sock=sock)
        sender = _sender()
        target = _target(1, PushState().subscribe(url))
        (answer,) = await sender.push_all([(target, NOTICE.payload(), False, "")])
        assert answer.status == 0
        assert answer.maybe_sent is maybe_sent
        assert answer.transient is not maybe_sent
        # The connection that failed is not used again: the next push opens a new one.
        (again,) = await sender.push_all([(target, NOTICE.payload(), False, "")])
        assert again.status == 0
        assert len(seen) == 2
        await sender.aclose()
        server.close()

    asyncio.run(test())


def test_the_client_refuses_to_send_over_a_closed_connection() -> None:
    async def test(state: PushState, url: str) -> None:
        client = h2push.Client(timeout=1.0)
        target = _target(1, state.subscribe(url))
        headers = [(b"ttl", b"60"), (b"content-encoding", b"aes128gcm")]
        body = webpush.encrypt(NOTICE.payload(), target.p256dh, target.auth)
        authorization = webpush.Sender(
            ec.generate_private_key(ec.SECP256R1()), "mailto:a@example.go.id"
        ).authorization(url, webpush._Origin(asyncio.Semaphore(1)))
        headers.append((b"authorization", authorization.encode()))
        answer = await client.post(target.endpoint, headers, body)
        assert answer.status == 201
        await client.aclose()
        answer = await client.post(target.endpoint, headers, body)  # a fresh connection
        assert answer.status == 201
        assert state.stats()["duplicates"] == 1  # the same subscription twice, as sent
        await client.aclose()

    _run_sandbox(test)


_PSEUDO = ((b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"push.example"))
_VAPID = (b"authorization", b"vapid t=" + b"x" * 300 + b", k=BPublic")


def test_request_blocks_decode_as_hpack_does_and_repeat_in_a_few_bytes() -> None:
    encoder, decoder = h2push.Encoder(), hpack.Decoder()
    constant = ((b"ttl", b"86400"), (b"urgency", b"high"), _VAPID)
    sizes = []
    for n in range(3):
        path = f"/push/send/{n}".encode()
        block = (
            encoder.start()
            + encoder.indexed(_PSEUDO)
            + h2push.literal(b":path", path)
            + encoder.indexed(constant)
            + h2push.literal(b"topic", b"a7")
        )
        assert decoder.decode(block, raw=True) == [
            *_PSEUDO, (b":path", path), *constant, (b"topic", b"a7")
        ]  # fmt: skip
        sizes.append(len(block))
    assert sizes[0] > 300  # the VAPID header once ...
    assert sizes[1] == sizes[2] < 40  # ... then an index
    # The push service shrinks its table below the VAPID header: announced, then literal.
    encoder.resize(200)
    block = encoder.start() + encoder.indexed(_PSEUDO) + encoder.indexed(constant)
    assert decoder.decode(block, raw=True) == [*_PSEUDO, *constant]
    assert decoder.header_table_size == 200


class _Strict(asyncio.Protocol):
    """An h2 server with a 1,000-octet window per stream that pings the client and answers
    each request with an interim 103, a header block too large for one frame, and a padded
    body."""

    def __init__(self, seen: dict[str, Any]) -> None:
        self.seen = seen
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        self.transport: Any = None
        self.bodies: dict[int, bytearray] = {}

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
        self.h2.ping(b"gaung-h2")
        transport.write(self.h2.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.seen["headers"] = dict(event.headers or [])
                self.bodies[event.stream_id] = bytearray()
            elif isinstance(event, h2.events.DataReceived):
                self.bodies[event.stream_id] += event.data
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.PingAckReceived):
                self.seen["ping"] = event.ping_data
            elif isinstance(event, h2.events.StreamEnded):
                self.seen["body"] = bytes(self.bodies.pop(event.stream_id))
                self.h2.send_headers(event.stream_id, [(":status", "103")])
                answer = [(":status", "201"), ("location", "/m/1"), ("x-big", "y" * 20_000)]
                self.h2.send_headers(event.stream_id, answer)
                self.h2.send_data(event.stream_id, b"ok", end_stream=True, pad_length=10)
        self.transport.write(self.h2.data_to_send())


def test_windows_continuation_interim_answers_padding_and_pings() -> None:
    seen: dict[str, Any] = {}

    async def test() -> None:
        sock, url = _listener()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Strict(seen), sock=sock)
        client = h2push.Client(timeout=5.0)
        body = bytes(range(256)) * 20  # 5,120 octets through a 1,000-octet window
        headers = [(b"ttl", b"60"), (b"x-big", b"z" * 20_000)]  # beyond one frame
        answer = await client.post(
            f"{url}/push/send/1", headers, body, literals=[(b"topic", b"a1")]
        )
        assert (answer.status, answer.body) == (201, b"ok")
        assert answer.headers["location"] == "/m/1"
        assert len(answer.headers["x-big"]) == 20_000
        assert seen["body"] == body
        assert seen["headers"][b"x-big"] == b"z" * 20_000
        assert seen["headers"][b"topic"] == b"a1"
        assert seen["headers"][b"content-length"] == b"5120"
        assert seen["ping"] == b"gaung-h2"
        await client.aclose()
        server.close()

    asyncio.run(test())

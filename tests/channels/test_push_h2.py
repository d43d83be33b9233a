"""The sender over HTTP/2 (prior knowledge) to the benchmark's push service, push_h2."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels import webpush
from channels.messaging import TransientSendError
from channels.sandbox import push_h2
from channels.sandbox.push import PushState
from gaung.settings import get_settings
from tests.factories import make_agency, make_asn, make_unit


@pytest.fixture(scope="module")
def h2_service() -> Iterator[tuple[PushState, str]]:
    state = PushState()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    loop = asyncio.new_event_loop()
    task = loop.create_task(push_h2.serve(state, sock))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield state, url

    def stop() -> None:  # the loop stops once the server has finished cancelling
        task.add_done_callback(lambda _: loop.stop())
        task.cancel()

    loop.call_soon_threadsafe(stop)
    thread.join(timeout=10)


@pytest.fixture(autouse=True)
def cleartext_http2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(get_settings().sandbox, "enabled", True)
    monkeypatch.setattr(get_settings().webpush, "cleartext_http2", True)
    webpush.use_transport(None)
    yield
    webpush.use_transport(None)


def test_pushes_share_http2_connections_and_arrive_decrypted_once_each(
    db: Engine, session: Session, h2_service: tuple[PushState, str]
) -> None:
    state, url = h2_service
    state.__init__()  # type: ignore[misc]
    unit = make_unit(session, make_agency(session))
    people = []
    for _ in range(30):
        asn = make_asn(session, unit, platforms=["x"])
        assert asn.id is not None
        webpush.subscribe(session, asn.id, state.subscribe(url))
        people.append(asn.id)
    notice = webpush.Notice("Klarifikasi", "Buka tugasnya.", "https://g.example/inbox/1", "t1")

    outcomes = webpush.send_many(db, [(asn_id, notice, "a1") for asn_id in people])

    assert all(o.sent for o in outcomes)
    stats = state.stats()
    assert stats["received"] == 30
    assert stats["duplicates"] == 0
    assert stats["rejected"] == 0
    assert stats["checked"] == 30


def test_a_429_over_http2_is_transient_with_its_retry_after(
    db: Engine, session: Session, h2_service: tuple[PushState, str]
) -> None:
    state, url = h2_service
    state.__init__()  # type: ignore[misc]
    asn = make_asn(session, make_unit(session, make_agency(session)), platforms=["x"])
    assert asn.id is not None
    webpush.subscribe(session, asn.id, state.subscribe(url))
    state.throttle, state.retry_after = 1, 20
    notice = webpush.Notice("Klarifikasi", "", "https://g.example/inbox/1", "t1")

    (outcome,) = webpush.send_many(db, [(asn.id, notice, "")])

    assert isinstance(outcome.error, TransientSendError)
    assert outcome.error.retry_after == 20

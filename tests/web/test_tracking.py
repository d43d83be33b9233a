"""GET /r/{code}: count the click and redirect to the post link; never redirect elsewhere.

Clicks go through the process's buffer (written in batches, and on shutdown); the
tests flush it, or shut the app down, before reading the table.
"""

from __future__ import annotations

import string
import threading
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assignments.models import Assignment, Click
from assignments.tracking import ClickBuffer, Target, TargetCache
from content.models import Post, PostStatus
from gaung.db import make_engine
from roster.models import Unit
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)
from web import tracking
from web.app import create_app

POST_LINK = "https://www.kominfo.go.id/berita/umkm-digital"


def _assignment(session: Session, link: str | None = POST_LINK) -> Assignment:
    agency = make_agency(session)
    author = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency), author, status=PostStatus.DISPATCHED, link=link
    )
    return make_assignment(session, post, make_asn(session, make_unit(session, agency)), "x")


def test_tracking_link_redirects_to_the_post_and_records_the_click_source(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)

    response = client.get(
        f"/r/{assignment.code}",
        headers={"Referer": "https://t.co/AbCdEf123"},
        follow_redirects=False,
    )

    assert response.status_code == 302
    assert response.headers["location"] == POST_LINK
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    tracking.clicks.flush()
    clicks = list(session.exec(select(Click).where(Click.assignment_id == assignment.id)))
    assert [(c.campaign_id, c.source) for c in clicks] == [(assignment.campaign_id, "x")]


def test_click_without_referer_is_counted_with_unknown_source(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)

    for _ in range(2):
        client.get(f"/r/{assignment.code}", follow_redirects=False)
    tracking.clicks.flush()

    sources = session.exec(select(Click.source).where(Click.assignment_id == assignment.id))
    assert list(sources) == ["", ""]


def test_unknown_code_shows_not_found_page_and_never_redirects(
    client: TestClient, session: Session
) -> None:
    _assignment(session)

    response = client.get("/r/does-not-exist", follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers
    assert "Tautan tidak ditemukan" in response.text
    tracking.clicks.flush()
    assert session.exec(select(Click)).first() is None


def test_code_of_a_post_without_link_is_not_found(client: TestClient, session: Session) -> None:
    assignment = _assignment(session, link=None)

    response = client.get(f"/r/{assignment.code}", follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(code=st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=1))
def test_no_guessed_code_ever_redirects(client: TestClient, session: Session, code: str) -> None:
    known = session.exec(select(Assignment.code)).all()
    if not known:
        _assignment(session)
        known = session.exec(select(Assignment.code)).all()
    if code in known or code in (".", ".."):
        return  # a real code redirects by design; dot segments are not codes at all

    response = client.get(f"/r/{code}", follow_redirects=False)

    assert response.status_code == 404
    assert "location" not in response.headers


def test_following_a_link_starts_no_session(client: TestClient, session: Session) -> None:
    """Visitors are the public: no cookie is set on them."""
    assignment = _assignment(session)

    response = client.get(f"/r/{assignment.code}", follow_redirects=False)

    assert response.status_code == 302
    assert "set-cookie" not in response.headers


# --- batched clicks and the target cache -----------------------------------------------------


def _lookups(result: str) -> float:
    tracking.publish_tallies()  # what a scrape does first
    return REGISTRY.get_sample_value("gaung_redirect_lookups_total", {"result": result}) or 0.0


def test_a_burst_of_clicks_is_all_stored_when_the_app_shuts_down(
    db: Engine, session: Session
) -> None:
    first = _assignment(session)
    second = make_assignment(
        session,
        session.get_one(Post, first.post_id),
        make_asn(session, session.get_one(Unit, first.unit_id)),
        "facebook",
    )
    referers = {first.code: "https://t.co/x", second.code: "https://l.facebook.com/l.php"}

    with TestClient(create_app()) as client:  # the lifespan starts and stops the buffer
        for n in range(300):
            code = (first.code, second.code)[n % 2]
            response = client.get(
                f"/r/{code}", headers={"Referer": referers[code]}, follow_redirects=False
            )
            assert response.status_code == 302

    counts = dict(session.exec(select(Click.source, func.count()).group_by(Click.source)).all())
    assert counts == {"x": 150, "facebook": 150}


def test_a_code_is_read_from_the_database_once_then_from_memory(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)
    before = (_lookups("database"), _lookups("cache"), _lookups("unknown"))

    for _ in range(5):
        client.get(f"/r/{assignment.code}", follow_redirects=False)
    client.get("/r/not-a-real-code", follow_redirects=False)
    client.get("/r/not-a-real-code", follow_redirects=False)

    after = (_lookups("database"), _lookups("cache"), _lookups("unknown"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 4, 2]
    assert tracking.targets.get("not-a-real-code") is None  # unknown codes are not cached


def test_clicks_wait_in_memory_while_the_database_is_unreachable(
    db: Engine, session: Session
) -> None:
    assignment = _assignment(session)
    target = Target(POST_LINK, assignment.id or 0, assignment.campaign_id)
    down = make_engine("postgresql://nobody@127.0.0.1:1/nothing")
    engines = [down]
    buffer = ClickBuffer(engine=lambda: engines[-1])
    for _ in range(3):
        buffer.add(target, None)

    assert buffer.flush() == 0  # the database is down: nothing lost, nothing written
    assert buffer.pending == 3
    engines.append(db)
    assert buffer.stop() == 3
    assert len(session.exec(select(Click)).all()) == 3


def test_a_click_on_an_assignment_erased_meanwhile_is_dropped_alone(
    db: Engine, session: Session
) -> None:
    assignment = _assignment(session)
    buffer = ClickBuffer(engine=lambda: db)
    buffer.add(Target(POST_LINK, assignment.id or 0, assignment.campaign_id), "https://x.com/")
    buffer.add(Target(POST_LINK, 987_654, assignment.campaign_id), None)  # erased since cached

    assert buffer.stop() == 2
    clicks = session.exec(select(Click)).all()
    assert [(c.assignment_id, c.source) for c in clicks] == [(assignment.id, "x")]


def test_click_times_are_stored_to_the_second_in_utc(db: Engine, session: Session) -> None:
    assignment = _assignment(session)
    target = Target(POST_LINK, assignment.id or 0, assignment.campaign_id)
    buffer = ClickBuffer(engine=lambda: db)
    moment = datetime(2026, 11, 23, 7, 30, 15, 800_000, tzinfo=UTC)
    buffer.add(target, None, at=moment.timestamp())
    buffer.add(target, None, at=moment.timestamp() + 1)

    assert buffer.stop() == 2
    stored = sorted(c.at for c in session.exec(select(Click)).all())
    assert stored == [moment.replace(microsecond=0), moment.replace(second=16, microsecond=0)]


def test_the_buffer_flushes_by_itself_when_enough_clicks_wait(db: Engine, session: Session) -> None:
    assignment = _assignment(session)
    target = Target(POST_LINK, assignment.id or 0, assignment.campaign_id)
    flushed: list[int] = []
    written = threading.Event()

    def on_flush(count: int) -> None:
        flushed.append(count)
        written.set()

    # A long interval: only the batch size can trigger this flush.
    buffer = ClickBuffer(flush_seconds=3600, flush_clicks=10, engine=lambda: db, on_flush=on_flush)
    try:
        for _ in range(10):
            buffer.add(target, None)
        assert written.wait(timeout=30)
    finally:
        buffer.stop()
    assert flushed[0] == 10
    assert len(session.exec(select(Click)).all()) == 10


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_cache_keeps_the_most_recently_used_codes_up_to_its_size() -> None:
    cache = TargetCache(size=2, ttl=60, clock=FakeClock())
    a, b, c = (Target(f"https://go.id/{n}", n, 1) for n in range(3))
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") == a  # "a" is now the most recent
    cache.put("c", c)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (a, None, c)
    assert len(cache) == 2


def test_a_cached_target_is_trusted_for_its_ttl_only() -> None:
    clock = FakeClock()
    cache = TargetCache(size=10, ttl=60, clock=clock)
    target = Target("https://go.id/a", 1, 1)
    cache.put("a", target)
    clock.now = 59.9
    assert cache.get("a") == target
    clock.now = 60
    assert cache.get("a") is None
    assert len(cache) == 0


@given(
    size=st.integers(min_value=0, max_value=20),
    codes=st.lists(st.text(min_size=1, max_size=4), max_size=200),
)
def test_the_cache_never_grows_beyond_its_size(size: int, codes: list[str]) -> None:
    cache = TargetCache(size=size, ttl=60, clock=FakeClock())
    for n, code in enumerate(codes):
        cache.put(code, Target("https://go.id/", n, 1))
        assert len(cache) <= size


def test_a_cached_redirect_carries_the_same_headers_as_a_first_one(
    client: TestClient, session: Session
) -> None:
    assignment = _assignment(session)

    first = client.get(f"/r/{assignment.code}", follow_redirects=False)  # a database read
    second = client.get(f"/r/{assignment.code}", follow_redirects=False)  # from memory

    assert first.status_code == second.status_code == 302
    without_date = [dict(r.headers) for r in (first, second)]
    for headers in without_date:
        headers.pop("date", None)
    assert without_date[0] == without_date[1]
    assert second.headers["location"] == POST_LINK
    assert second.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in second.headers["content-security-policy"]
    assert "set-cookie" not in second.headers


def test_the_route_alone_redirects_and_counts_too(db: Engine, session: Session) -> None:
    """Without the fast path (an app built from the router only) the route does the work."""
    assignment = _assignment(session)
    bare = FastAPI(lifespan=tracking.lifespan)
    bare.include_router(tracking.router)

    with TestClient(bare) as web:
        response = web.get(f"/r/{assignment.code}", follow_redirects=False)

    assert response.status_code == 302
    assert response.headers["location"] == POST_LINK
    assert [c.assignment_id for c in session.exec(select(Click))] == [assignment.id]

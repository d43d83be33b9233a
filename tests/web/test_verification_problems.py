"""A verification that stops is shown, in Indonesian with what to do, where Humas looks.

On the post page, the campaign dashboard and the channels page; a later success, new
credentials or a corrected link clears it. X is the fake X API (tests/channels/fakes_x.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.problems import VerificationProblem
from channels import credentials
from channels.x import XPlatform
from content.models import Post, PostStatus
from gaung.crypto import KEYS_ENV
from gaung.db import utcnow
from gaung.settings import get_settings
from kernel import jobs
from kernel.models import WorkItem, WorkStatus
from roster.models import Agency, Role, User
from scheduler import verify
from scheduler.measure import measure_post
from scheduler.verify import post_round_key, schedule_post_round, verify_post
from tests.channels import fakes_x
from tests.channels.fakes_x import SEARCH, FakeX
from tests.factories import make_agency, make_campaign, make_post, make_user
from tests.web.conftest import csrf_from, login_staff

OFFICIAL = "1895000000000000001"
OFFICIAL_URL = f"https://x.com/kominfo/status/{OFFICIAL}"
PAGES = ("/console/posts/{post}", "/dashboard/campaigns/{campaign}", "/console/channels")
AUTH_TEXT = "Token X ditolak"
WHAT_TO_DO = "Minta operator memperbarui kredensial di Kanal → Kredensial"


@pytest.fixture
def admin(session: Session) -> User:
    return make_user(session, make_agency(session), role=Role.ADMIN)


@pytest.fixture
def post(session: Session, admin: User) -> Post:
    campaign = make_campaign(session, session.get_one(Agency, admin.agency_id))
    post = make_post(session, campaign, admin, status=PostStatus.DISPATCHED)
    post.official_url_x, post.platforms = OFFICIAL_URL, "x"
    post.dispatched_at = utcnow() - timedelta(minutes=90)
    session.add(post)
    session.commit()
    return post


def _pages(client: TestClient, post: Post) -> list[str]:
    paths = [p.format(post=post.id, campaign=post.campaign_id) for p in PAGES]
    responses = [client.get(path) for path in paths]
    assert [r.status_code for r in responses] == [200, 200, 200]
    return [r.text for r in responses]


def _kinds(session: Session) -> list[str]:
    session.expire_all()
    return [p.kind for p in session.exec(select(VerificationProblem))]


def test_a_refused_token_is_shown_on_three_pages_until_new_credentials_are_saved(
    db: Engine,
    session: Session,
    client: TestClient,
    admin: User,
    post: Post,
    x: XPlatform,
    fake_x: FakeX,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_x.add(SEARCH, fakes_x.problem(401, "Unauthorized", "Unauthorized"), status=401)
    verify_post(db, post.id or 0, platform=x)
    assert _kinds(session) == ["auth"]
    login_staff(client, admin)
    for text in _pages(client, post):
        assert AUTH_TEXT in text
        assert WHAT_TO_DO in text
    assert "WIB" in _pages(client, post)[0]  # the time it began, in the reader's zone

    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())
    credentials.clear_cache()
    try:
        token = csrf_from(client, "/console/channels/credentials")
        saved = client.post(
            "/console/channels/credentials/x.bearer_token",
            data={"value": "AAAAbearer-token-from-x-9f3k", "csrf_token": token},
            follow_redirects=False,
        )
        assert saved.status_code == 303
    finally:
        credentials.clear_cache()
    assert _kinds(session) == []
    for text in _pages(client, post):
        assert AUTH_TEXT not in text


def test_a_successful_round_clears_a_refused_token(
    db: Engine, session: Session, post: Post, x: XPlatform, fake_x: FakeX
) -> None:
    fake_x.add(SEARCH, fakes_x.problem(401, "Unauthorized", "Unauthorized"), status=401)
    verify_post(db, post.id or 0, platform=x)
    assert _kinds(session) == ["auth"]
    verify_post(db, post.id or 0, 1, platform=x)
    assert _kinds(session) == []


def test_a_deleted_official_post_is_shown_and_a_corrected_link_hides_it(
    db: Engine,
    session: Session,
    client: TestClient,
    admin: User,
    post: Post,
    x: XPlatform,
    fake_x: FakeX,
) -> None:
    # The official post was never there (deleted): X answers its lookup with not-found.
    measure_post(db, post.id or 0, "1h", platforms={"x": x})
    assert _kinds(session) == ["gone"]
    login_staff(client, admin)
    for text in _pages(client, post):
        assert "Unggahan resmi X tidak ditemukan lagi" in text
        assert "minta editor memperbaiki tautannya" in text

    post.official_url_x = "https://x.com/kominfo/status/1895000000000000002"
    session.add(post)
    session.commit()
    for text in _pages(client, post):
        assert "tidak ditemukan lagi" not in text  # it was about the old link


def test_a_link_of_another_platform_stops_no_round_and_says_so(
    db: Engine, session: Session, client: TestClient, admin: User, post: Post, x: XPlatform
) -> None:
    # Saved before links were checked: the round notes it instead of failing five times.
    post.official_url_x = "https://www.facebook.com/kominfo/posts/123"
    session.add(post)
    session.commit()
    verify_post(db, post.id or 0, platform=x)
    assert _kinds(session) == ["bad_url"]
    next_round = session.exec(
        select(WorkItem).where(WorkItem.key == post_round_key(post.id or 0, 1))
    ).first()
    assert next_round is not None  # later rounds still run
    login_staff(client, admin)
    for text in _pages(client, post):
        assert "bukan tautan ke unggahan di X" in text


def test_exhausted_attempts_are_shown_and_the_next_round_is_kept(
    db: Engine,
    session: Session,
    client: TestClient,
    admin: User,
    post: Post,
    x: XPlatform,
    fake_x: FakeX,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verify, "get_platform", lambda _slug: x)
    monkeypatch.setitem(jobs.JOBS, "verify_post", verify.verify_post_job)
    monkeypatch.setitem(jobs.GAVE_UP, "verify_post", verify.verify_post_gave_up)
    item = schedule_post_round(session, post.id or 0, 0)
    item.attempts = get_settings().scheduler.max_attempts - 1  # the last attempt is next
    session.add(item)
    session.commit()
    fake_x.add(SEARCH, fakes_x.problem(503, "Service Unavailable", "Over capacity"), status=503)

    assert jobs.run_due(db, "w1", limit=1) == 1
    session.expire_all()
    assert session.get_one(WorkItem, item.id).status == WorkStatus.FAILED
    assert _kinds(session) == ["exhausted"]
    assert session.exec(
        select(WorkItem).where(col(WorkItem.key) == post_round_key(post.id or 0, 1))
    ).first()
    login_staff(client, admin)
    for text in _pages(client, post):
        assert "Verifikasi di X gagal 5 kali berturut-turut" in text

    verify_post(db, post.id or 0, 1, platform=x)  # X answers again
    assert _kinds(session) == []


@pytest.fixture(autouse=True)
def _no_cache() -> Iterator[None]:
    credentials.clear_cache()
    yield
    credentials.clear_cache()

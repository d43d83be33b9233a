"""Instagram link checks: business discovery of the ENROLLED handle, on the real database.

Graph is faked with respx, answering in the documented shapes: ``business_discovery`` with a
paged ``media`` edge (``paging.cursors.after`` and ``next``), Graph's ``error`` object (code,
type, error_subcode, fbtrace_id) and the ``x-business-use-case-usage`` header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import respx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assignments.evidence import Evidence
from assignments.models import Assignment, AssignmentStatus
from channels.instagram import InstagramPlatform
from channels.instagram import from_settings as instagram_from
from content.models import Post
from gaung.db import utcnow
from gaung.settings import GraphSettings
from kernel.queue import RetryLater
from roster.models import Asn, SocialAccount
from scheduler.verify import verify_link
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

BASE = "https://graph.test"
VANTAGE = "17841400000000001"  # the agency's own professional account
VANTAGE_PATH = f"/v24.0/{VANTAGE}"
ENROLLED_ID = "17841455555555555"
HANDLE = "siti.humas"
SHORTCODE = "DFq2xYzAbC1"
REPOST_URL = f"https://www.instagram.com/p/{SHORTCODE}/"  # names no author, as shared links


@dataclass
class World:
    post: Post
    asn: Asn
    task: Assignment


@pytest.fixture
def world(session: Session) -> World:
    agency = make_agency(session)
    editor = make_user(session, agency)
    post = make_post(session, make_campaign(session, agency, editor), editor)
    post.platforms, post.hashtags = "instagram", "UMKMGoDigital"
    post.official_url_instagram = "https://www.instagram.com/p/OFFICIAL123/"
    session.add(post)
    asn = make_asn(session, make_unit(session, agency), platforms=["instagram"])
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    account.handle, account.platform_user_id = HANDLE, ENROLLED_ID
    session.add(account)
    session.commit()
    task = make_assignment(session, post, asn, "instagram")
    task.status, task.repost_url = AssignmentStatus.REPORTED, REPOST_URL
    task.repost_key, task.reported_at = f"instagram:{SHORTCODE}", utcnow()
    session.add(task)
    session.commit()
    return World(post, asn, task)


@pytest.fixture
def instagram() -> InstagramPlatform:
    settings = GraphSettings(
        version="v24.0", base_url=BASE, access_token="EAAB-test", ig_user_id=VANTAGE
    )
    return instagram_from(settings)


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        yield router


def media(media_id: str, shortcode: str, caption: str) -> dict[str, object]:
    return {
        "permalink": f"https://www.instagram.com/p/{shortcode}/",
        "caption": caption,
        "timestamp": "2026-03-02T01:30:00+0000",
        "username": HANDLE,
        "id": media_id,
    }


def discovery_page(items: list[dict[str, object]], after: str | None = None) -> dict[str, object]:
    """GET /{ig-user-id}?fields=business_discovery.username(...){...media{...}} as documented."""
    edge: dict[str, object] = {"data": items}
    if items:
        edge["paging"] = {"cursors": {"before": "QVFIUmJl", "after": after or "QVFIUmVuZA"}}
    if after:
        edge["paging"] = {
            "cursors": {"before": "QVFIUmJl", "after": after},
            "next": f"{BASE}/v24.0/{VANTAGE}?fields=business_discovery&after={after}",
        }
    return {
        "business_discovery": {
            "id": ENROLLED_ID,
            "username": HANDLE,
            "biography": "ASN | Pendapat pribadi",
            "followers_count": 2300,
            "media_count": 180,
            "media": edge,
        },
        "id": VANTAGE,
    }


def graph_error(
    code: int, subcode: int | None, message: str, **extra: str
) -> dict[str, dict[str, object]]:
    error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    error["fbtrace_id"] = "AbCdEfGh123"
    return {"error": error}


def _evidence(session: Session, task: Assignment) -> list[Evidence]:
    session.expire_all()
    query = select(Evidence).where(Evidence.assignment_id == task.id).order_by(col(Evidence.id))
    return list(session.exec(query))


def _status(session: Session, task: Assignment) -> str:
    session.expire_all()
    return session.get_one(Assignment, task.id).status


def test_a_professional_accounts_repost_is_verified_through_business_discovery(
    db: Engine, session: Session, world: World, instagram: InstagramPlatform,
    graph: respx.MockRouter,
) -> None:  # fmt: skip
    def answer(request: httpx.Request) -> httpx.Response:
        fields = request.url.params["fields"]
        assert f"business_discovery.username({HANDLE})" in fields  # the ENROLLED handle
        if ".after(PAGE2)" in fields:
            found = media("18000000000000002", SHORTCODE, "Ayo go digital! #UMKMGoDigital")
            return httpx.Response(200, json=discovery_page([found]))
        older = media("18000000000000001", "Other000001", "Selamat pagi")
        return httpx.Response(200, json=discovery_page([older], after="PAGE2"))

    route = graph.get(VANTAGE_PATH).mock(side_effect=answer)
    assert world.task.id is not None

    evidence = verify_link(db, world.task.id, platform=instagram)

    assert evidence is not None
    assert (evidence.check, evidence.outcome) == ("instagram_graph", "verified")
    assert evidence.platform_post_id == "18000000000000002"
    assert _status(session, world.task) == AssignmentStatus.VERIFIED
    assert route.call_count == 2  # one page of media after another, until the shortcode


def test_a_caption_with_only_the_tracking_link_is_verified(
    db: Engine, session: Session, world: World, instagram: InstagramPlatform,
    graph: respx.MockRouter,
) -> None:  # fmt: skip
    caption = f"Info UMKM, baca: http://testserver/r/{world.task.code}"
    page = discovery_page([media("18000000000000003", SHORTCODE, caption)])
    graph.get(VANTAGE_PATH).respond(200, json=page)
    assert world.task.id is not None

    verify_link(db, world.task.id, platform=instagram)

    assert _status(session, world.task) == AssignmentStatus.VERIFIED


def test_a_caption_without_link_or_hashtag_is_rejected(
    db: Engine, session: Session, world: World, instagram: InstagramPlatform,
    graph: respx.MockRouter,
) -> None:  # fmt: skip
    page = discovery_page([media("18000000000000004", SHORTCODE, "Makan siang #UMKMGoDigital2")])
    graph.get(VANTAGE_PATH).respond(200, json=page)
    assert world.task.id is not None

    verify_link(db, world.task.id, platform=instagram)

    session.expire_all()
    task = session.get_one(Assignment, world.task.id)
    assert (task.status, task.rejection_reason) == (AssignmentStatus.REJECTED, "not_a_repost")


def test_a_personal_accounts_repost_stays_reported_not_verifiable(
    db: Engine, session: Session, world: World, instagram: InstagramPlatform,
    graph: respx.MockRouter,
) -> None:  # fmt: skip
    # Business discovery's documented answer for a personal (or unknown) account.
    body = graph_error(
        110, 2207013, "Invalid user id",
        error_user_title="Cannot find User",
        error_user_msg=f"The user with username: {HANDLE} cannot be found.",
    )  # fmt: skip
    graph.get(VANTAGE_PATH).respond(400, json=body)
    assert world.task.id is not None

    evidence = verify_link(db, world.task.id, platform=instagram)

    assert evidence is not None
    assert (evidence.check, evidence.outcome, evidence.reason) == (
        "instagram_graph",
        "unverifiable",
        "not_supported",
    )
    assert "2207013" in evidence.detail
    assert _status(session, world.task) == AssignmentStatus.REPORTED  # clicks stay the evidence


@pytest.mark.parametrize("code", [4, 17, 32, 80002])
def test_a_rate_limit_reschedules_the_check(
    db: Engine, session: Session, world: World, instagram: InstagramPlatform,
    graph: respx.MockRouter, code: int,
) -> None:  # fmt: skip
    usage = {
        VANTAGE: [
            {"type": "instagram", "call_count": 100, "total_cputime": 12, "total_time": 20,
             "estimated_time_to_regain_access": 17}
        ]
    }  # fmt: skip
    body = graph_error(code, None, f"(#{code}) There have been too many calls to this Instagram "
                       "account. Wait a bit and try again.")  # fmt: skip
    graph.get(VANTAGE_PATH).respond(
        403, json=body, headers={"x-business-use-case-usage": json.dumps(usage)}
    )
    assert world.task.id is not None
    before = utcnow()

    with pytest.raises(RetryLater) as retry:
        verify_link(db, world.task.id, platform=instagram)

    assert before + timedelta(minutes=16) <= retry.value.at <= utcnow() + timedelta(minutes=18)
    assert _evidence(session, world.task) == []
    assert _status(session, world.task) == AssignmentStatus.REPORTED

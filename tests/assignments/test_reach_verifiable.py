"""The verification rate counts only reposts Gaung can check; the rest are "not verifiable".

X always counts, Facebook never, Instagram unless the link check recorded ``unverifiable``
evidence (a personal account, the platform not connected) and no verdict came after it.
Live figures, the list totals, the snapshot and the headline all agree; drill-downs (one
post, one unit, the unit's people) add up to the campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from assignments import reach_snapshot
from assignments.evidence import Check, Outcome, Reason, record
from assignments.models import Assignment, AssignmentStatus
from assignments.reach import ReachFigures, campaign_reach, drill_down, headline, unit_people
from assignments.reach_snapshot import (
    campaign_headline,
    campaign_totals,
    from_payload,
    store_snapshot,
    to_payload,
)
from assignments.reposters import iter_reposters
from content.models import Campaign, Post, PostStatus
from gaung.i18n import use_locale
from roster.models import Agency, SocialAccount, Unit
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)

CLAIMED = ("reported", "verified", "rejected")


@dataclass
class World:
    agency: Agency
    campaign: Campaign
    posts: list[Post]
    units: list[Unit]


def _world(session: Session, posts: int = 1, units: int = 1) -> World:
    agency = make_agency(session)
    author = make_user(session, agency)
    campaign = make_campaign(session, agency)
    return World(
        agency,
        campaign,
        [make_post(session, campaign, author, status=PostStatus.DISPATCHED) for _ in range(posts)],
        [make_unit(session, agency) for _ in range(units)],
    )


def _assign(
    session: Session,
    world: World,
    platform: str,
    status: str,
    *,
    unverifiable: bool = False,
    post: int = 0,
    unit: int = 0,
) -> Assignment:
    """An assignment in ``status``; ``unverifiable``: its link check could not read the post.

    The evidence goes through ``evidence.record`` as the link check writes it: an
    ``unverifiable`` finding leaves a report reported, a later verdict moves it.
    """
    assignment = make_assignment(
        session, world.posts[post], make_asn(session, world.units[unit]), platform
    )
    if status == AssignmentStatus.PENDING:
        return assignment
    assignment.status = AssignmentStatus.REPORTED
    assignment.followers_at_report = 100
    if unverifiable:
        record(
            session, assignment, check=Check.INSTAGRAM_GRAPH, outcome=Outcome.UNVERIFIABLE,
            reason=Reason.NOT_SUPPORTED, detail="(#110) personal account",
        )  # fmt: skip
    if status in (AssignmentStatus.VERIFIED, AssignmentStatus.REJECTED):
        outcome = Outcome.VERIFIED if status == AssignmentStatus.VERIFIED else Outcome.REJECTED
        reason = None if outcome == Outcome.VERIFIED else Reason.WRONG_AUTHOR
        record(session, assignment, check=Check.X_LOOKUP, outcome=outcome, reason=reason)
    elif status != AssignmentStatus.REPORTED:
        assignment.status = status
    session.add(assignment)
    session.commit()
    assert assignment.status == status
    return assignment


def _rates(f: ReachFigures) -> tuple[int, int, int, float | None]:
    return f.checkable, f.checkable_verified, f.unverifiable, f.verification_rate


def test_only_x_and_checkable_instagram_reposts_are_in_the_rate(session: Session) -> None:
    world = _world(session)
    for status in ("reported", "verified", "rejected", "pending"):
        _assign(session, world, "x", status)
    for status in ("reported", "reported", "verified", "rejected"):
        _assign(session, world, "facebook", status)
    _assign(session, world, "instagram", "verified")  # a professional account, read
    _assign(session, world, "instagram", "reported")  # its link check has not run yet
    _assign(session, world, "instagram", "reported", unverifiable=True)  # a personal account
    _assign(session, world, "instagram", "rejected", unverifiable=True)  # a verdict came later

    reach = campaign_reach(session, world.campaign.id or 0)

    # X: 3 claimed, 1 verified. Instagram: verified, awaiting, rejected-after-all: 3, 1.
    assert _rates(reach.total) == (6, 2, 3, 2 / 6)
    assert _rates(reach.by_platform["x"]) == (3, 1, 0, 1 / 3)
    assert _rates(reach.by_platform["facebook"]) == (0, 0, 2, None)
    assert _rates(reach.by_platform["instagram"]) == (3, 1, 1, 1 / 3)
    assert reach.total.verified == 3  # the Facebook one still counts as verified ...
    assert reach.total.reported == 8  # ... and every report (reported or verified) as one


def test_the_headline_says_the_rate_with_its_denominator_and_the_unverifiable_count(
    session: Session,
) -> None:
    world = _world(session)
    _assign(session, world, "x", "verified")
    _assign(session, world, "x", "reported")
    _assign(session, world, "facebook", "reported")

    figures = headline(campaign_reach(session, world.campaign.id or 0).total)
    with use_locale("id"):
        items = {key: (label, value) for key, label, value in figures.items()}

    assert items["verification_rate"] == (
        "Tingkat verifikasi (repost yang dapat diverifikasi)",
        "50,0% (1 dari 2)",
    )
    assert items["unverifiable"] == ("Dilaporkan, tidak dapat diverifikasi", "1")
    assert items["reported"][1] == "3"
    assert [key for key, _label, _value in figures.items()] == [
        "assignments", "reported", "verified", "verification_rate", "unverifiable",
        "completion", "verified_reach", "potential_reach", "clicks",
    ]  # fmt: skip


def test_a_facebook_only_campaign_has_no_rate_rather_than_zero(session: Session) -> None:
    world = _world(session)
    _assign(session, world, "facebook", "reported")

    figures = headline(campaign_reach(session, world.campaign.id or 0).total)
    with use_locale("en"):
        items = {key: value for key, _label, value in figures.items()}

    assert figures.verification_rate is None
    assert items["verification_rate"] == "—"
    assert items["unverifiable"] == "1"


_PLATFORMS = st.sampled_from(["x", "facebook", "instagram"])
_STATUSES = st.sampled_from(["pending", "reported", "verified", "rejected", "declined"])
_ROWS = st.lists(st.tuples(_PLATFORMS, _STATUSES, st.booleans()), min_size=1, max_size=12)


def _expected(rows: list[tuple[str, str, bool]]) -> tuple[int, int, int]:
    """The rule, written out: (checkable, checkable verified, reported not verifiable)."""

    def auto(platform: str, status: str, unverifiable: bool) -> bool:
        if platform == "x":
            return True
        return platform == "instagram" and not (status == "reported" and unverifiable)

    checkable = sum(1 for p, s, u in rows if auto(p, s, u) and s in CLAIMED)
    verified = sum(1 for p, s, u in rows if auto(p, s, u) and s == "verified")
    not_verifiable = sum(1 for p, s, u in rows if not auto(p, s, u) and s == "reported")
    return checkable, verified, not_verifiable


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_ROWS)
def test_live_list_snapshot_and_headline_agree_with_the_rule(
    session: Session, rows: list[tuple[str, str, bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _world(session)
    for platform, status, unverifiable in rows:
        # Only a claimed repost can have been checked at all.
        _assign(session, world, platform, status, unverifiable=unverifiable and status in CLAIMED)
    rows = [(p, s, u and s in CLAIMED) for p, s, u in rows]
    campaign_id = world.campaign.id or 0

    live = campaign_reach(session, campaign_id)
    listed = campaign_totals(session, [campaign_id])[campaign_id]
    snapshot = from_payload(to_payload(live))

    expected = _expected(rows)
    assert _rates(live.total)[:3] == expected
    assert _rates(listed)[:3] == expected
    assert snapshot.total == live.total
    # Nothing claimed is lost: the rate's denominator, the unverifiable reports and the
    # Facebook verdicts (outside the rate) make up every claim.
    facebook = live.by_platform.get("facebook", ReachFigures())
    t = live.total
    assert t.checkable + t.unverifiable + facebook.verified + facebook.rejected == (
        t.reported + t.rejected
    )

    # A big campaign is served from its snapshot; the headline follows it.
    store_snapshot(session, live, 0.1)
    session.commit()
    monkeypatch.setattr(reach_snapshot, "LIVE_LIMIT", 1)
    assert campaign_headline(session, campaign_id) == headline(live.total)


def test_drill_downs_add_up_to_the_campaign(session: Session) -> None:
    world = _world(session, posts=2, units=2)
    _assign(session, world, "x", "verified", post=0, unit=0)
    _assign(session, world, "facebook", "reported", post=0, unit=1)
    _assign(session, world, "instagram", "reported", unverifiable=True, post=1, unit=0)
    _assign(session, world, "x", "pending", post=1, unit=1)
    campaign_id = world.campaign.id or 0
    first, second = (p.id or 0 for p in world.posts)
    unit = world.units[0].id or 0

    reach = campaign_reach(session, campaign_id)
    one_post = drill_down(session, campaign_id, post_id=first)
    one_unit = drill_down(session, campaign_id, unit_id=unit)
    people = unit_people(session, campaign_id, unit)

    assert list(reach.by_post) == [first, second]
    assert one_post.total == reach.by_post[first]
    assert set(one_post.by_platform) == {"x", "facebook"}
    assert _rates(one_post.total) == (1, 1, 1, 1.0)
    assert reach.unit_ids[world.units[0].name] == unit
    assert one_unit.total.assignments == 2
    assert list(one_unit.by_post_platform) == [(first, "x"), (second, "instagram")]
    assert _rates(one_unit.by_post_platform[(second, "instagram")]) == (0, 0, 1, None)
    assert sorted((p.figures.assignments, p.figures.verified) for p in people) == [(1, 0), (1, 1)]
    total = ReachFigures()
    for person in people:
        total.add(person.figures)
    assert total == one_unit.total


def test_each_repost_says_whether_it_can_be_verified(session: Session) -> None:
    world = _world(session)
    x = _assign(session, world, "x", "reported")
    facebook = _assign(session, world, "facebook", "reported")
    professional = _assign(session, world, "instagram", "reported")
    personal = _assign(session, world, "instagram", "reported", unverifiable=True)

    reposters = iter_reposters(session, world.campaign.id or 0)
    verifiable = {r.handle: r.verifiable for r in reposters}

    handles = {a.id: _handle(session, a) for a in (x, facebook, professional, personal)}
    assert verifiable == {
        handles[x.id]: True,
        handles[facebook.id]: False,
        handles[professional.id]: True,  # its link check has not found it unreadable
        handles[personal.id]: False,
    }


def _handle(session: Session, assignment: Assignment) -> str:
    return session.get_one(SocialAccount, assignment.account_id).handle

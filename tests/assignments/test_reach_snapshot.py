"""Snapshots of the reach figures, and serving them, on the campaign of conftest.seeded."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from assignments import reach_snapshot
from assignments.models import Assignment
from assignments.reach import campaign_reach
from assignments.reach_snapshot import (
    campaign_totals,
    dashboard_reach,
    from_payload,
    store_snapshot,
    to_payload,
)
from assignments.variant_figures import VariantFigures
from roster.models import Asn
from tests.assignments.conftest import add_clicks, at, figures_of
from tests.factories import make_agency, make_campaign


def test_campaign_totals_give_each_listed_campaign_its_hand_count(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    empty = make_campaign(session, make_agency(session))
    totals = campaign_totals(session, [seeded[0], empty.id or 0])

    assert figures_of(totals[seeded[0]]) == (7, 4, 2, 1, 8300, 4)
    assert figures_of(totals[empty.id or 0]) == (0, 0, 0, 0, 0, 0)
    assert campaign_totals(session, []) == {}


def test_a_snapshot_round_trips_every_figure(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])

    copy = from_payload(to_payload(reach))

    assert copy == reach


def test_big_campaigns_are_served_from_their_snapshot_with_live_counts(
    session: Session, seeded: tuple[int, dict[str, Asn]], monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id = seeded[0]
    store_snapshot(session, campaign_reach(session, campaign_id), 1.5)
    session.commit()
    assert dashboard_reach(session, campaign_id).as_of is None  # 7 assignments: live
    monkeypatch.setattr(reach_snapshot, "LIVE_LIMIT", 5)
    # Activity after the snapshot: counts are live (the roll-ups), the timeline waits for
    # the next snapshot.
    extra = session.exec(select(Assignment).where(Assignment.campaign_id == campaign_id)).first()
    assert extra is not None
    add_clicks(session, extra, at(13, 0))

    served = dashboard_reach(session, campaign_id)

    assert served.as_of is not None
    assert served.total.clicks == 5
    assert sum(f.clicks for f in served.by_platform.values()) == 5
    assert sum(f.clicks for f in served.by_unit.values()) == 5
    assert sum(p.clicks for p in served.timeline) == 4
    assert campaign_totals(session, [campaign_id])[campaign_id].clicks == 5
    assert campaign_reach(session, campaign_id).total.clicks == 5


def test_a_snapshot_keeps_unique_clickers_bot_fetches_and_the_variant_comparison(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    reach = campaign_reach(session, seeded[0])
    reach.unique_clickers, reach.bot_fetches = 5, 2
    reach.variants = [VariantFigures(1, "x", 0, 10, 4, 3, 7), VariantFigures(1, "x", 1, 9, 5, 2, 6)]

    copy = from_payload(to_payload(reach))

    assert (copy.unique_clickers, copy.bot_fetches) == (5, 2)
    assert copy.variants == reach.variants
    old = from_payload(to_payload(reach).replace('"unique_clickers"', '"gone"'))
    assert old.unique_clickers == 0  # a snapshot from before these figures still loads

"""Who reposted, on the hand-counted campaign of conftest.seeded."""

from __future__ import annotations

from sqlmodel import Session

from assignments.reach import campaign_reach
from assignments.reposters import MISSING, iter_reposters
from roster.models import Asn


def test_reposters_are_listed_in_report_order_and_a_leaver_shows_a_dash(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id, people = seeded
    reposters = list(iter_reposters(session, campaign_id))

    rows = [(r.asn_name, r.unit, r.platform, r.followers) for r in reposters]
    assert rows == [
        (people["a1"].name, "Biro Humas", "x", 1000),
        (people["a1"].name, "Biro Humas", "facebook", 1500),
        (people["a3"].name, "Biro Hukum", "x", 5000),
        (MISSING, "Biro Hukum", "x", 800),
    ]
    assert reposters[0].handle.endswith("_x")
    assert reposters[-1].handle == MISSING
    assert campaign_reach(session, campaign_id).reposters == reposters


def test_a_limit_keeps_the_first_reposts_in_report_order(
    session: Session, seeded: tuple[int, dict[str, Asn]]
) -> None:
    campaign_id = seeded[0]
    first = list(iter_reposters(session, campaign_id, limit=2))

    assert first == list(iter_reposters(session, campaign_id))[:2]

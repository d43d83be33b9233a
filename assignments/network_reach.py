"""Reach of a cross-agency campaign for its coordinator: per agency and national totals.

The coordinator's campaign and every member's accepted copy (content.offers) keep their
own live roll-ups (assignments.rollup); this sums them per agency, so the coordinator sees
how each agency does and the national total without seeing anyone's name: no row here
holds a person, a unit of another agency or an assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session, select

from assignments.reach import ReachFigures
from assignments.rollup import stored
from content import offers
from content.models import Campaign, OfferStatus
from roster.models import Agency


@dataclass
class AgencyReach:
    agency: Agency
    status: str  # "coordinator", or the offer's status (offered, accepted, declined)
    figures: ReachFigures
    note: str | None = None  # a decline's note
    copy: Campaign | None = None  # the member's copy (its own deadline and units)
    units: list[str] = field(default_factory=list)  # the copy's units ([] = whole agency)


@dataclass
class NetworkReach:
    rows: list[AgencyReach]
    national: ReachFigures

    @property
    def accepted(self) -> int:
        return sum(row.status == OfferStatus.ACCEPTED for row in self.rows)


def network_reach(session: Session, campaign: Campaign) -> NetworkReach:
    """The coordinator's own figures first, then every offered agency by name."""
    views = offers.offers_of(session, campaign.id or 0)
    ids = [campaign.id or 0, *[v.copy.id for v in views if v.copy is not None and v.copy.id]]
    per_agency: dict[int, ReachFigures] = {}
    for (_campaign, agency_id, _unit, _platform), figures in stored(session, ids).items():
        per_agency.setdefault(agency_id, ReachFigures()).add(figures)
    own = session.exec(select(Agency).where(Agency.id == campaign.agency_id)).one()
    rows = [AgencyReach(own, "coordinator", per_agency.get(own.id or 0, ReachFigures()))]
    rows += [
        AgencyReach(
            view.agency,
            view.offer.status,
            per_agency.get(view.agency.id or 0, ReachFigures()),
            view.offer.note,
            view.copy,
            view.copy_units,
        )
        for view in views
    ]
    national = ReachFigures()
    for row in rows:
        national.add(row.figures)
    return NetworkReach(rows, national)

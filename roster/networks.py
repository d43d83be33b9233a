"""Agency networks: which agency coordinates which others (e.g. Kominfo and Bakohumas).

Only the instance operator changes them (``actor`` None is the command line, ``gaung
network``; a person must be an operator, roster.operators): a network lets its coordinator
offer campaigns to other agencies' approvers, so no agency may enrol itself or others.
Every change is audited under each agency it touches. Functions add to the session and
flush; the caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from gaung.errors import N_, ForbiddenError, GaungError, NotFoundError
from kernel import audit
from roster.models import Agency, AgencyNetwork, AgencyNetworkMember, User
from roster.operators import is_operator

NAME_MAX = 200


@dataclass(frozen=True)
class NetworkView:
    network: AgencyNetwork
    coordinator: Agency
    members: list[Agency]


def _require_operator(session: Session, actor: User | None) -> None:
    if actor is not None and not is_operator(session, actor):
        raise ForbiddenError(N_("Only the instance operator manages agency networks."))


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise GaungError(N_("Enter the network's name."), field="name")
    if len(name) > NAME_MAX:
        raise GaungError(
            N_("The name may have at most %(limit)s characters."), field="name", limit=NAME_MAX
        )
    return name


def agency_by_slug(session: Session, slug: str, field: str = "agency") -> Agency:
    agency = session.exec(select(Agency).where(Agency.slug == slug.strip())).first()
    if agency is None:
        raise GaungError(N_("There is no agency %(slug)s."), field=field, slug=slug.strip())
    return agency


def _audit(
    session: Session, actor: User | None, action: str, network: AgencyNetwork, agency: Agency
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="agency_network",
        entity_id=network.id,
        agency_id=agency.id,
        detail=f"{network.name}: {agency.slug}",
    )


def create(session: Session, actor: User | None, name: str, coordinator: Agency) -> AgencyNetwork:
    """A new network led by ``coordinator`` (one network per coordinator)."""
    _require_operator(session, actor)
    name = _name(name)
    if session.exec(select(AgencyNetwork).where(AgencyNetwork.name == name)).first():
        raise GaungError(N_("A network named %(name)s exists."), field="name", name=name)
    if of_coordinator(session, coordinator.id or 0) is not None:
        raise GaungError(
            N_("%(agency)s already coordinates a network."),
            field="coordinator",
            agency=coordinator.name,
        )
    network = AgencyNetwork(name=name, coordinator_id=coordinator.id or 0)
    session.add(network)
    session.flush()
    _audit(session, actor, "network.created", network, coordinator)
    return network


def add_members(
    session: Session, actor: User | None, network: AgencyNetwork, agencies: Sequence[Agency]
) -> list[Agency]:
    """Add agencies to the network; returns those that were not members yet."""
    _require_operator(session, actor)
    current = set(member_ids(session, network.id or 0))
    added: list[Agency] = []
    for agency in agencies:
        if agency.id == network.coordinator_id:
            raise GaungError(
                N_("%(agency)s coordinates this network; it is not one of its members."),
                field="agency",
                agency=agency.name,
            )
        if agency.id in current:
            continue
        session.add(AgencyNetworkMember(network_id=network.id or 0, agency_id=agency.id or 0))
        current.add(agency.id or 0)
        added.append(agency)
        _audit(session, actor, "network.member_added", network, agency)
    session.flush()
    return added


def remove_member(
    session: Session, actor: User | None, network: AgencyNetwork, agency: Agency
) -> None:
    """Take an agency out of the network. Campaigns it already accepted keep going out to
    its people (they are its own copies); it receives no new offers."""
    _require_operator(session, actor)
    member = session.get(AgencyNetworkMember, (network.id, agency.id))
    if member is None:
        raise GaungError(
            N_("%(agency)s is not a member of %(network)s."),
            field="agency",
            agency=agency.name,
            network=network.name,
        )
    session.delete(member)
    session.flush()
    _audit(session, actor, "network.member_removed", network, agency)


def get(session: Session, network_id: int) -> AgencyNetwork:
    network = session.get(AgencyNetwork, network_id)
    if network is None:
        raise NotFoundError(N_("Network not found."))
    return network


def by_name(session: Session, name: str) -> AgencyNetwork:
    network = session.exec(select(AgencyNetwork).where(AgencyNetwork.name == _name(name))).first()
    if network is None:
        raise GaungError(N_("There is no network %(name)s."), field="network", name=name)
    return network


def of_coordinator(session: Session, agency_id: int) -> AgencyNetwork | None:
    """The network this agency coordinates, if any."""
    query = select(AgencyNetwork).where(AgencyNetwork.coordinator_id == agency_id)
    return session.exec(query).first()


def member_ids(session: Session, network_id: int) -> list[int]:
    query = select(col(AgencyNetworkMember.agency_id)).where(
        AgencyNetworkMember.network_id == network_id
    )
    return list(session.exec(query).all())


def views(session: Session) -> list[NetworkView]:
    """Every network with its coordinator and members (members by name)."""
    agencies = {a.id: a for a in session.exec(select(Agency)).all()}
    result: list[NetworkView] = []
    for network in session.exec(select(AgencyNetwork).order_by(col(AgencyNetwork.name))).all():
        members = [agencies[i] for i in member_ids(session, network.id or 0) if i in agencies]
        members.sort(key=lambda agency: agency.name)
        result.append(NetworkView(network, agencies[network.coordinator_id], members))
    return result

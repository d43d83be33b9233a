"""Demo data for cross-agency campaigns: Kominfo coordinates Bakohumas with two members.

Made through the real services (roster.networks, content.offers) after the Kominfo demo
(cli.demo): the hoax clarification was offered to the network, the East Java government
accepted it (its copy went out to its own ASN, who reposted) and the Ministry of Health
declined it with a note; the scheduled programme campaign was offered too, the Ministry of
Health accepted it for one unit with an earlier deadline, and East Java's approver still
has it open, so a visitor can sign in as approver@jatim.go.id and accept or decline it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, col, select

from content import offers
from content.models import Campaign, CampaignOffer, Post, PostStatus
from roster import networks
from roster.importer import import_roster
from roster.models import Agency, Asn, Role, Unit, User

NETWORK = "Bakohumas"
# (slug, name, units, e-mail domain, first person number, staff names): the numbers keep
# NIPs and handles apart from Kominfo's people (1..64).
MEMBERS = (
    (
        "jatim",
        "Pemerintah Provinsi Jawa Timur",
        ("Biro Administrasi Pimpinan", "Dinas Komunikasi dan Informatika Jawa Timur"),
        "jatimprov.go.id",
        101,
        ("Yuliana Putri", "Hartono"),
    ),
    (
        "kemenkes",
        "Kementerian Kesehatan",
        ("Biro Komunikasi dan Pelayanan Publik", "Direktorat Jenderal Kesehatan Masyarakat"),
        "kemkes.go.id",
        201,
        ("Andi Saputra", "Ratna Dewi"),
    ),
)
PEOPLE = 12  # per member agency
# Each member's approver and supervisor, named in MEMBERS.
MEMBER_STAFF = ((Role.APPROVER, "approver"), (Role.SUPERVISOR, "supervisor"))
DECLINE_NOTE = "Klarifikasi ini sudah kami sebarkan lewat kanal Kemenkes sendiri hari ini."


@dataclass(frozen=True)
class DemoTools:
    """What the Kominfo demo (cli.demo) lends: its people, its roster CSV, its dispatch."""

    password_hash: str
    person: Callable[[random.Random, int], dict[str, str]]
    roster_csv: Callable[[list[dict[str, str]]], str]
    settle: Callable[[Session, list[Asn]], None]  # accounts checked, Telegram linked
    go_out: Callable[[Session, Post, float, random.Random], None]


def staff_emails() -> set[str]:
    """The member agencies' demo log-ins (printed by `gaung demo` beside Kominfo's)."""
    domains = [spec[3] for spec in MEMBERS]
    return {f"{local}@{domain}" for domain in domains for _role, local in MEMBER_STAFF}


def _member(
    session: Session,
    spec: tuple[str, str, tuple[str, ...], str, int, tuple[str, str]],
    tools: DemoTools,
    rng: random.Random,
) -> tuple[Agency, dict[str, User]]:
    slug, name, units, domain, first, names = spec
    agency = Agency(slug=slug, name=name)
    session.add(agency)
    session.flush()
    users = {
        local: User(
            email=f"{local}@{domain}",
            name=full,
            password_hash=tools.password_hash,
            role=role,
            agency_id=agency.id or 0,
        )
        for (role, local), full in zip(MEMBER_STAFF, names, strict=True)
    }
    session.add_all(users.values())
    session.commit()
    rows = []
    for n in range(first, first + PEOPLE):
        row = tools.person(rng, n)
        row["unit"] = units[n % len(units)]
        row["email"] = row["email"].replace("kominfo.go.id", domain)
        rows.append(row)
    import_roster(session, agency, tools.roster_csv(rows), create_units=True)
    tools.settle(session, list(session.exec(select(Asn).where(Asn.agency_id == agency.id))))
    return agency, users


def _offer_of(session: Session, campaign_id: int, agency: Agency) -> int:
    query = select(col(CampaignOffer.id)).where(
        CampaignOffer.campaign_id == campaign_id, CampaignOffer.agency_id == agency.id
    )
    return int(session.exec(query).one() or 0)


def seed_network(
    session: Session,
    coordinator: Agency,
    approver: User,
    tools: DemoTools,
    rng: random.Random,
) -> None:
    """The network, its members and their answers to two of Kominfo's campaigns."""
    (jatim, jatim_staff), (kemenkes, kemenkes_staff) = (
        _member(session, spec, tools, rng) for spec in MEMBERS
    )
    network = networks.create(session, None, NETWORK, coordinator)
    networks.add_members(session, None, network, [jatim, kemenkes])
    session.commit()
    campaigns = {
        c.kind: c
        for c in session.exec(
            select(Campaign).where(Campaign.agency_id == coordinator.id).order_by(col(Campaign.id))
        )
    }
    hoax, programme = campaigns["hoax_clarification"], _scheduled(session, coordinator)
    for campaign in (hoax, programme):
        offers.offer(session, approver, campaign)
    copy = offers.accept(session, jatim_staff["approver"], _offer_of(session, hoax.id or 0, jatim))
    for post in session.exec(select(Post).where(Post.campaign_id == copy.id)):
        tools.go_out(session, post, 0.5, rng)
    declined = _offer_of(session, hoax.id or 0, kemenkes)
    offers.decline(session, kemenkes_staff["approver"], declined, DECLINE_NOTE)
    query = select(Unit).where(Unit.agency_id == kemenkes.id).order_by(col(Unit.id))
    unit = session.exec(query).first()
    offers.accept(
        session,
        kemenkes_staff["approver"],
        _offer_of(session, programme.id or 0, kemenkes),
        unit_ids=[unit.id or 0] if unit else [],
        deadline=programme.deadline - timedelta(hours=12),
    )


def _scheduled(session: Session, coordinator: Agency) -> Campaign:
    """Kominfo's approved campaign that has not gone out yet (the demo's "approved" plan)."""
    query = (
        select(Campaign)
        .join(Post, col(Post.campaign_id) == col(Campaign.id))
        .where(Campaign.agency_id == coordinator.id, Post.status == PostStatus.APPROVED)
    )
    return session.exec(query).one()

"""Cross-agency campaigns on both databases: networks, offers, answers, copies, dispatch.

The coordinator (Kominfo) offers a campaign to its network; members accept (some units, an
earlier deadline) or decline. Each copy goes out with the coordinator's post to the member's
own ASN only, and a withdrawal by the coordinator reaches every copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from assignments.models import Assignment, AssignmentStatus
from assignments.network_reach import network_reach
from content import checks, offers, workflow
from content.models import (
    Campaign,
    CampaignOffer,
    CampaignUnit,
    OfferStatus,
    Post,
    PostStatus,
    PostVariant,
)
from content.schedule import dispatch_key
from gaung.db import utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.settings import get_settings
from kernel.audit import AuditLog
from kernel.models import WorkItem
from kernel.outbox import OutboxKind, OutboxMessage
from roster import networks
from roster.models import Agency, Role, Unit, User
from scheduler import dispatch
from scheduler.dispatch import dispatch_post
from tests.factories import make_agency, make_asn, make_campaign, make_post, make_unit, make_user


@dataclass
class Member:
    agency: Agency
    units: list[Unit]
    approver: User
    supervisor: User


@dataclass
class Network:
    coordinator: Agency
    unit: Unit
    editor: User
    approver: User
    members: list[Member]
    campaign: Campaign


def _member(session: Session, people_per_unit: int) -> Member:
    agency = make_agency(session)
    units = [make_unit(session, agency) for _ in range(2)]
    for unit in units:
        for _ in range(people_per_unit):
            make_asn(session, unit, platforms=["x", "facebook"])
    return Member(
        agency,
        units,
        make_user(session, agency, Role.APPROVER),
        make_user(session, agency, Role.SUPERVISOR),
    )


@pytest.fixture
def net(session: Session) -> Network:
    coordinator = make_agency(session, slug="kominfo", name="Kementerian Kominfo")
    unit = make_unit(session, coordinator)
    for _ in range(2):
        make_asn(session, unit, platforms=["x", "facebook"])
    members = [_member(session, 2), _member(session, 3), _member(session, 0)]
    network = networks.create(session, None, "Bakohumas", coordinator)
    networks.add_members(session, None, network, [m.agency for m in members])
    session.commit()
    editor = make_user(session, coordinator, Role.EDITOR)
    return Network(
        coordinator,
        unit,
        editor,
        make_user(session, coordinator, Role.APPROVER),
        members,
        make_campaign(session, coordinator, editor),
    )


def _offer_of(session: Session, net: Network, member: Member) -> CampaignOffer:
    return session.exec(
        select(CampaignOffer).where(
            CampaignOffer.campaign_id == net.campaign.id,
            CampaignOffer.agency_id == member.agency.id,
        )
    ).one()


def _submitted(session: Session, net: Network) -> Post:
    post = make_post(session, net.campaign, net.editor, status=PostStatus.SUBMITTED)
    post.platforms = "x,facebook"
    session.add(post)
    session.commit()
    return post


# --- networks ---------------------------------------------------------------------------------


def test_only_an_operator_changes_networks(
    session: Session, net: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ForbiddenError):
        networks.add_members(session, net.approver, networks.by_name(session, "Bakohumas"), [])
    monkeypatch.setattr(get_settings().auth, "operators", [net.approver.email])
    other = make_agency(session)
    added = networks.add_members(
        session, net.approver, networks.by_name(session, "Bakohumas"), [other]
    )
    assert [a.id for a in added] == [other.id]


def test_a_coordinator_leads_one_network_and_is_not_its_own_member(
    session: Session, net: Network
) -> None:
    with pytest.raises(GaungError) as taken:
        networks.create(session, None, "Jaringan Kedua", net.coordinator)
    assert taken.value.field == "coordinator"
    network = networks.by_name(session, "Bakohumas")
    with pytest.raises(GaungError) as itself:
        networks.add_members(session, None, network, [net.coordinator])
    assert itself.value.field == "agency"
    assert networks.add_members(session, None, network, [net.members[0].agency]) == []


# --- offers and answers -----------------------------------------------------------------------


def test_an_offer_reaches_every_member_once(session: Session, net: Network) -> None:
    made = offers.offer(session, net.approver, net.campaign)
    assert sorted(o.agency_id for o in made) == sorted(m.agency.id or 0 for m in net.members)
    assert offers.offer(session, net.approver, net.campaign) == []  # nobody new
    late = make_agency(session)
    networks.add_members(session, None, networks.by_name(session, "Bakohumas"), [late])
    session.commit()
    assert [o.agency_id for o in offers.offer(session, net.approver, net.campaign)] == [late.id]


def test_only_a_coordinators_reviewer_offers(session: Session, net: Network) -> None:
    with pytest.raises(ForbiddenError):
        offers.offer(session, net.editor, net.campaign)
    member = net.members[0]
    own = make_campaign(session, member.agency)
    with pytest.raises(GaungError, match="coordinates no network"):
        offers.offer(session, member.approver, own)
    with pytest.raises(NotFoundError):
        offers.offer(session, member.approver, net.campaign)


def test_accepting_makes_the_members_copy_with_its_units_and_deadline(
    session: Session, net: Network
) -> None:
    offers.offer(session, net.approver, net.campaign)
    member = net.members[0]
    deadline = (utcnow() + timedelta(days=1)).replace(microsecond=0)
    offer_id = _offer_of(session, net, member).id or 0
    copy = offers.accept(
        session, member.approver, offer_id, unit_ids=[member.units[0].id or 0], deadline=deadline
    )
    assert copy.agency_id == member.agency.id
    assert copy.source_campaign_id == net.campaign.id
    assert copy.deadline.replace(tzinfo=None) == deadline.replace(tzinfo=None)
    units = session.exec(
        select(col(CampaignUnit.unit_id)).where(CampaignUnit.campaign_id == copy.id)
    ).all()
    assert list(units) == [member.units[0].id]
    answered = session.get_one(CampaignOffer, offer_id)
    assert (answered.status, answered.copy_id) == (OfferStatus.ACCEPTED, copy.id)
    with pytest.raises(GaungError, match="already answered"):
        offers.accept(session, member.approver, offer_id)


@pytest.mark.parametrize(
    ("when", "field"),
    [(timedelta(days=5), "deadline"), (-timedelta(days=1), "deadline")],
)
def test_a_deadline_later_than_the_coordinators_or_past_is_refused(
    session: Session, net: Network, when: timedelta, field: str
) -> None:
    offers.offer(session, net.approver, net.campaign)
    member = net.members[0]
    with pytest.raises(GaungError) as error:
        offers.accept(
            session,
            member.approver,
            _offer_of(session, net, member).id or 0,
            deadline=utcnow() + when,
        )
    assert error.value.field == field
    assert _offer_of(session, net, member).status == OfferStatus.OFFERED  # nothing changed


def test_units_of_another_agency_and_other_agencies_offers_are_refused(
    session: Session, net: Network
) -> None:
    offers.offer(session, net.approver, net.campaign)
    first, second = net.members[0], net.members[1]
    with pytest.raises(GaungError) as error:
        offers.accept(
            session,
            first.approver,
            _offer_of(session, net, first).id or 0,
            unit_ids=[second.units[0].id or 0],
        )
    assert error.value.field == "unit_ids"
    with pytest.raises(NotFoundError):
        offers.accept(session, first.approver, _offer_of(session, net, second).id or 0)
    with pytest.raises(ForbiddenError):
        offers.accept(session, first.supervisor, _offer_of(session, net, first).id or 0)


def test_declining_needs_a_note_the_coordinator_reads(session: Session, net: Network) -> None:
    offers.offer(session, net.approver, net.campaign)
    member = net.members[1]
    offer_id = _offer_of(session, net, member).id or 0
    with pytest.raises(GaungError) as error:
        offers.decline(session, member.approver, offer_id, "   ")
    assert error.value.field == "note"
    offers.decline(session, member.approver, offer_id, "Bertepatan dengan kampanye daerah.")
    [row] = [
        v for v in offers.offers_of(session, net.campaign.id or 0) if v.agency == member.agency
    ]
    assert (row.offer.status, row.offer.note) == (
        OfferStatus.DECLINED,
        "Bertepatan dengan kampanye daerah.",
    )


# --- copies follow the coordinator --------------------------------------------------------------


def _accept_all(session: Session, net: Network) -> list[Campaign]:
    offers.offer(session, net.approver, net.campaign)
    return [
        offers.accept(session, m.approver, _offer_of(session, net, m).id or 0) for m in net.members
    ]


def test_a_post_approved_after_acceptance_is_copied_with_its_texts_and_time(
    session: Session, net: Network
) -> None:
    copies = _accept_all(session, net)
    post = _submitted(session, net)
    session.add(PostVariant(post_id=post.id or 0, platform="x", position=1, text="Versi kedua"))
    session.commit()
    workflow.approve(session, net.approver, post)
    twins = offers.copies_of(session, post.id or 0)
    assert sorted(t.campaign_id for t in twins) == sorted(c.id or 0 for c in copies)
    own = session.exec(select(WorkItem).where(WorkItem.key == dispatch_key(post.id or 0))).one()
    for twin in twins:
        assert twin.status == PostStatus.APPROVED
        assert twin.master_text == post.master_text
        item = session.exec(
            select(WorkItem).where(WorkItem.key == dispatch_key(twin.id or 0))
        ).one()
        assert item.run_at == own.run_at
        texts = session.exec(select(PostVariant).where(PostVariant.post_id == twin.id)).all()
        assert [(v.platform, v.position, v.text) for v in texts] == [("x", 1, "Versi kedua")]


def test_accepting_after_the_post_went_out_sends_the_copy_now(
    db: Engine, session: Session, net: Network
) -> None:
    offers.offer(session, net.approver, net.campaign)
    post = _submitted(session, net)
    workflow.approve(session, net.approver, post)
    dispatch_post(db, post.id or 0)
    member = net.members[1]
    offers.accept(session, member.approver, _offer_of(session, net, member).id or 0)
    [twin] = offers.copies_of(session, post.id or 0)
    item = session.exec(select(WorkItem).where(WorkItem.key == dispatch_key(twin.id or 0))).one()
    assert item.run_at.replace(tzinfo=None) <= utcnow().replace(tzinfo=None)


def _assignments(session: Session, *where: object) -> list[Assignment]:
    session.expire_all()
    return list(session.exec(select(Assignment).where(*where)).all())  # type: ignore[arg-type]


def test_each_agency_dispatches_to_its_own_people_units_and_deadline(
    db: Engine, session: Session, net: Network
) -> None:
    offers.offer(session, net.approver, net.campaign)
    narrow, whole, empty = net.members
    deadline = (utcnow() + timedelta(hours=20)).replace(microsecond=0)
    offers.accept(
        session,
        narrow.approver,
        _offer_of(session, net, narrow).id or 0,
        unit_ids=[narrow.units[1].id or 0],
        deadline=deadline,
    )
    offers.accept(session, whole.approver, _offer_of(session, net, whole).id or 0)
    offers.accept(session, empty.approver, _offer_of(session, net, empty).id or 0)
    post = _submitted(session, net)
    workflow.approve(session, net.approver, post)
    for one in [post, *offers.copies_of(session, post.id or 0)]:
        dispatch_post(db, one.id or 0)
    session.expire_all()
    assert session.get_one(Post, post.id).status == PostStatus.DISPATCHED
    twins = {
        session.get_one(Campaign, t.campaign_id).agency_id: t
        for t in offers.copies_of(session, post.id or 0)
    }
    assert {t.status for t in twins.values()} == {PostStatus.DISPATCHED}  # even the empty one
    # Coordinator: 2 people x 2 platforms; narrow: 2 people of one unit; whole: 3 x 2 units.
    counts = {
        agency: len(_assignments(session, col(Assignment.post_id) == twin.id))
        for agency, twin in twins.items()
    }
    assert counts == {narrow.agency.id: 4, whole.agency.id: 12, empty.agency.id: 0}
    assert len(_assignments(session, col(Assignment.post_id) == post.id)) == 4
    narrowed = _assignments(session, col(Assignment.post_id) == twins[narrow.agency.id or 0].id)
    assert {a.unit_id for a in narrowed} == {narrow.units[1].id}
    assert {a.deadline.replace(tzinfo=None) for a in narrowed} == {deadline.replace(tzinfo=None)}
    notices = session.exec(
        select(func.count()).where(col(OutboxMessage.kind) == OutboxKind.ASSIGNMENT)
    ).one()
    assert notices == 2 + 2 + 6  # one per person, in every agency, never twice
    # The coordinator sees agencies and the nation, never a person.
    reach = network_reach(session, net.campaign)
    assert [r.figures.assignments for r in reach.rows] == [4, 4, 12, 0]
    assert reach.national.assignments == 20
    assert reach.accepted == 3


def test_the_coordinators_withdrawal_reaches_every_copy_mid_dispatch_and_after(
    db: Engine, session: Session, net: Network
) -> None:
    _accept_all(session, net)
    first = _submitted(session, net)
    workflow.approve(session, net.approver, first)
    dispatch_post(db, first.id or 0)  # the coordinator's is out; the copies are not yet
    twins = offers.copies_of(session, first.id or 0)
    dispatch_post(db, twins[1].id or 0)  # one copy out too
    workflow.withdraw(session, net.approver, session.get_one(Post, first.id))
    session.expire_all()
    statuses = {session.get_one(Post, t.id).status for t in twins}
    assert statuses == {PostStatus.WITHDRAWN}
    post_ids = [first.id, *[t.id for t in twins]]
    made = _assignments(session, col(Assignment.post_id).in_(post_ids))
    assert made
    assert {a.status for a in made} == {AssignmentStatus.WITHDRAWN}
    # A queued copy never goes out after the withdrawal.
    for twin in twins:
        with pytest.raises(GaungError):
            dispatch_post(db, twin.id or 0)
    assert len(_assignments(session, col(Assignment.post_id).in_(post_ids))) == len(made)


def test_a_copy_does_not_outlive_its_deadline_for_later_posts(
    session: Session, net: Network
) -> None:
    [copy, *_] = _accept_all(session, net)
    copy.deadline = utcnow() - timedelta(minutes=1)
    session.add(copy)
    session.commit()
    post = _submitted(session, net)
    workflow.approve(session, net.approver, post)
    campaigns = {t.campaign_id for t in offers.copies_of(session, post.id or 0)}
    assert copy.id not in campaigns
    assert len(campaigns) == 2


class _StopError(Exception):
    """Stops a dispatch after its first chunk, as a worker interrupted between chunks."""


def _stop(_made: int) -> None:
    raise _StopError


def test_a_copy_whose_dispatch_is_under_way_stops_when_the_coordinator_withdraws(
    db: Engine, session: Session, net: Network
) -> None:
    _accept_all(session, net)
    post = _submitted(session, net)
    workflow.approve(session, net.approver, post)
    member = net.members[1]  # six people on two platforms
    [twin] = [
        t
        for t in offers.copies_of(session, post.id or 0)
        if session.get_one(Campaign, t.campaign_id).agency_id == member.agency.id
    ]
    [part_id] = dispatch.start(db, twin.id or 0)
    with pytest.raises(_StopError):
        dispatch.run_part(db, part_id, chunk=1, on_chunk=_stop)
    assert len(_assignments(session, col(Assignment.post_id) == twin.id)) == 1
    workflow.withdraw(session, net.approver, session.get_one(Post, post.id))
    assert dispatch.run_part(db, part_id, chunk=1) == 0  # the part stops
    assert dispatch.finish(db, twin.id or 0) == 0  # and the copy is never announced
    made = _assignments(session, col(Assignment.post_id) == twin.id)
    assert [a.status for a in made] == [AssignmentStatus.WITHDRAWN]
    messages = session.exec(
        select(func.count()).where(col(OutboxMessage.campaign_id) == twin.campaign_id)
    ).one()
    assert messages == 0


def test_a_copy_too_long_for_a_members_own_tag_is_skipped_and_told_to_that_member(
    session: Session, net: Network
) -> None:
    _accept_all(session, net)
    wordy = net.members[0].agency
    wordy.disclosure_tag = "#" + "InformasiResmiAparaturSipilNegaraRepublikIndonesia"[:59]
    session.add(wordy)
    session.commit()
    post = _submitted(session, net)
    post.platforms, post.link, post.hashtags = "x", None, ""
    # The longest text that still fits X with the coordinator's own (default) tag.
    for size in range(280, 0, -1):
        post.master_text = "a" * size
        try:
            checks.validate_for_platforms(session, post, net.campaign)
        except GaungError:
            continue
        break
    session.add(post)
    session.commit()
    workflow.approve(session, net.approver, post)  # the coordinator's approval stands
    copied = {
        session.get_one(Campaign, t.campaign_id).agency_id
        for t in offers.copies_of(session, post.id or 0)
    }
    assert copied == {m.agency.id for m in net.members[1:]}
    told = session.exec(
        select(AuditLog).where(
            AuditLog.action == "offer.post_not_copied", AuditLog.agency_id == wordy.id
        )
    ).one()
    assert "X" in told.detail

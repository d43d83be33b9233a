"""An ASN's own data: the export holds everything, leaving erases it but keeps the counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, col, select

from assignments.evidence import Evidence, record
from assignments.models import Assignment, AssignmentStatus, Click
from assignments.reach import campaign_reach
from content.models import PostStatus
from gaung.errors import GaungError
from kernel.audit import AuditLog
from kernel.outbox import OutboxMessage, OutboxStatus
from roster import privacy, registry
from roster.models import Asn, AsnStatus, OwnershipCheck, SocialAccount
from tests.factories import (
    make_agency,
    make_asn,
    make_assignment,
    make_campaign,
    make_post,
    make_unit,
    make_user,
)


def _campaign_with_a_repost(session: Session) -> tuple[Asn, Asn, int]:
    agency = make_agency(session)
    unit = make_unit(session, agency)
    author = make_user(session, agency)
    post = make_post(
        session, make_campaign(session, agency, author), author, status=PostStatus.DISPATCHED
    )
    leaver, stayer = make_asn(session, unit), make_asn(session, unit)
    for person, followers in ((leaver, 1000), (stayer, 3000)):
        assignment = make_assignment(session, post, person, "x")
        assignment.status = AssignmentStatus.REPORTED
        assignment.repost_url = f"https://x.com/h{person.id}/status/{person.id}1"
        assignment.repost_key = f"{person.id}1"
        assignment.reported_at = datetime(2026, 3, 1, 9, tzinfo=UTC)
        assignment.followers_at_report = followers
        record(
            session,
            assignment,
            check="x_lookup",
            outcome="verified",
            post_id=f"{person.id}1",
            url=assignment.repost_url,
            detail="author @someone",
        )
        session.add(Click(assignment_id=assignment.id or 0, campaign_id=post.campaign_id))
        session.add(
            OutboxMessage(
                key=f"post:{post.id}:asn:{person.id}",
                asn_id=person.id or 0,
                assignment_id=assignment.id,
                messenger="email",
                recipient=person.email,
                subject="Tugas baru",
                text=f"Halo {person.name}",
                status="sent",
            )
        )
    session.add(
        OutboxMessage(
            key=f"later:{leaver.id}",
            asn_id=leaver.id or 0,
            messenger="email",
            recipient=leaver.email,
            subject="Pengingat",
            text="Halo",
            status=OutboxStatus.QUEUED,
        )
    )
    session.commit()
    return leaver, stayer, post.campaign_id


def test_the_export_holds_profile_consent_accounts_assignments_and_messages(
    session: Session,
) -> None:
    leaver, _stayer, _ = _campaign_with_a_repost(session)
    data = privacy.export(session, leaver)
    json.dumps(data)  # JSON-ready as it is
    assert data["profile"]["nip"] == leaver.nip
    assert data["profile"]["name"] == leaver.name
    assert data["consent"]["given_at"] is not None
    assert {a["platform"] for a in data["accounts"]} == {"x", "facebook", "instagram"}
    [assignment] = data["assignments"]
    assert assignment["clicks"] == 1
    assert assignment["repost_url"].startswith("https://x.com/")
    assert assignment["evidence"][0]["outcome"] == "verified"
    assert [m["subject"] for m in data["messages"]] == ["Tugas baru", "Pengingat"]


def test_leaving_erases_personal_data_and_keeps_anonymous_counts(session: Session) -> None:
    leaver, stayer, campaign_id = _campaign_with_a_repost(session)
    before = campaign_reach(session, campaign_id)
    epoch = leaver.login_epoch
    handle = session.exec(
        select(SocialAccount.handle).where(
            SocialAccount.asn_id == leaver.id, SocialAccount.platform == "x"
        )
    ).one()
    assert registry.lookup(session, "x", handle) is not None

    privacy.leave(session, leaver)

    session.expire_all()
    gone = session.get_one(Asn, leaver.id)
    assert gone.status == AsnStatus.LEFT
    assert (gone.name, gone.nip, gone.email, gone.phone, gone.telegram_chat_id) == (
        "",
        None,
        None,
        None,
        None,
    )
    assert gone.consent_at is None
    assert gone.login_epoch == epoch + 1
    assert session.exec(select(SocialAccount).where(SocialAccount.asn_id == leaver.id)).all() == []
    assert registry.lookup(session, "x", handle) is None
    mine = session.exec(select(Assignment).where(Assignment.asn_id == leaver.id)).all()
    assert mine == []
    anonymous = session.exec(select(Assignment).where(col(Assignment.asn_id).is_(None))).one()
    assert (anonymous.account_id, anonymous.repost_url, anonymous.repost_key) == (None, None, None)
    assert anonymous.status == AssignmentStatus.VERIFIED
    assert anonymous.followers_at_report == 1000
    evidence = session.exec(select(Evidence).where(Evidence.assignment_id == anonymous.id)).one()
    assert (evidence.url, evidence.platform_post_id, evidence.detail) == (None, None, "")
    messages = session.exec(select(OutboxMessage).where(OutboxMessage.asn_id == leaver.id)).all()
    assert {(m.recipient, m.text) for m in messages} == {(None, "")}
    assert {m.status for m in messages} == {"sent", "failed"}  # the queued one is never sent

    after = campaign_reach(session, campaign_id)
    # Completion, potential reach and clicks still add up, per platform and unit too.
    assert after.total == before.total
    assert after.by_platform == before.by_platform
    assert after.by_unit == before.by_unit
    assert after.total.potential_reach == 4000
    # The person who stayed is untouched.
    assert session.get_one(Asn, stayer.id).name == stayer.name


def test_the_audit_row_of_leaving_holds_nothing_personal(session: Session) -> None:
    leaver, _stayer, _ = _campaign_with_a_repost(session)
    nip, name, email = leaver.nip, leaver.name, leaver.email
    privacy.leave(session, leaver)
    entry = session.exec(select(AuditLog).where(AuditLog.action == "asn.left")).one()
    assert entry.entity_id == leaver.id
    for personal in (nip, name, email):
        assert str(personal) not in entry.detail


def test_leaving_twice_is_refused(session: Session) -> None:
    leaver, _stayer, _ = _campaign_with_a_repost(session)
    privacy.leave(session, leaver)
    with pytest.raises(GaungError):
        privacy.leave(session, leaver)


def test_leaving_deletes_ownership_codes_too(session: Session) -> None:
    asn = make_asn(session, make_unit(session, make_agency(session)), platforms=["x"])
    account = session.exec(select(SocialAccount).where(SocialAccount.asn_id == asn.id)).one()
    session.add(
        OwnershipCheck(
            account_id=account.id or 0,
            code="GAUNG-22222",
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
    )
    session.commit()
    privacy.leave(session, asn)
    assert session.exec(select(OwnershipCheck)).all() == []

"""Small builders for test data, committed to the real database."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TypeVar

from sqlmodel import Session, select

from assignments.models import Assignment
from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from gaung.db import utcnow
from roster.models import Agency, Asn, AsnStatus, Role, SocialAccount, Unit, User
from roster.security import hash_password

PASSWORD = "rahasia-gaung-123"
T = TypeVar("T")
_seq = itertools.count(1)
_hash_cache: dict[str, str] = {}


def _n() -> int:
    return next(_seq)


def _nip(n: int) -> str:
    """A NIP that passes gaung.fields for any n: a new birth day every 999 people.

    (A plain 198001012006041000 + n turned invalid past n = 2000, when the sex digit became 3,
    which a long test run in one process reaches.)
    """
    born = date(1980, 1, 1) + timedelta(days=n // 999)
    return f"{born:%Y%m%d}2006041{n % 999 + 1:03d}"


def _save(session: Session, obj: T) -> T:
    session.add(obj)
    session.commit()
    session.refresh(obj)
    return obj


def make_agency(session: Session, slug: str | None = None, name: str | None = None) -> Agency:
    n = _n()
    return _save(session, Agency(slug=slug or f"agency{n}", name=name or f"Kementerian {n}"))


def make_unit(session: Session, agency: Agency, name: str | None = None) -> Unit:
    assert agency.id is not None
    return _save(session, Unit(agency_id=agency.id, name=name or f"Biro {_n()}"))


def make_user(
    session: Session, agency: Agency, role: str = Role.EDITOR, email: str | None = None
) -> User:
    assert agency.id is not None
    if PASSWORD not in _hash_cache:  # argon2 is slow on purpose; hash once per run
        _hash_cache[PASSWORD] = hash_password(PASSWORD)
    user = User(
        email=email or f"{role}{_n()}@example.go.id",
        name=f"{role.title()} {_n()}",
        password_hash=_hash_cache[PASSWORD],
        role=role,
        agency_id=agency.id,
    )
    return _save(session, user)


def make_asn(
    session: Session,
    unit: Unit,
    *,
    followers: int = 1000,
    platforms: Iterable[str] = ("x", "facebook", "instagram"),
    status: str = AsnStatus.ACTIVE,
    consent: bool = True,
) -> Asn:
    assert unit.id is not None
    n = _n()
    asn = _save(
        session,
        Asn(
            agency_id=unit.agency_id,
            unit_id=unit.id,
            nip=_nip(n),
            name=f"ASN {n}",
            email=f"asn{n}@example.go.id",
            status=status,
            consent_at=utcnow() if consent else None,
            consent_version="v1" if consent else None,
        ),
    )
    assert asn.id is not None
    for platform in platforms:
        session.add(
            SocialAccount(
                asn_id=asn.id,
                platform=platform,
                platform_user_id=f"{platform}-{n}",
                handle=f"asn{n}_{platform}",
                followers=followers,
                followers_at=utcnow(),
                ownership_verified_at=utcnow(),
            )
        )
    session.commit()
    return asn


def make_campaign(
    session: Session,
    agency: Agency,
    author: User | None = None,
    *,
    kind: str = CampaignKind.PROGRAM,
    units: Iterable[Unit] = (),
) -> Campaign:
    assert agency.id is not None
    now = utcnow()
    campaign = _save(
        session,
        Campaign(
            agency_id=agency.id,
            title=f"Kampanye {_n()}",
            kind=kind,
            starts_at=now,
            deadline=now + timedelta(days=2),
            created_by=author.id if author else None,
        ),
    )
    for unit in units:
        assert campaign.id is not None
        assert unit.id is not None
        session.add(CampaignUnit(campaign_id=campaign.id, unit_id=unit.id))
    session.commit()
    return campaign


def make_post(
    session: Session,
    campaign: Campaign,
    author: User,
    *,
    status: str = PostStatus.DRAFT,
    text: str = "Program Digitalisasi UMKM menjangkau 1 juta pelaku usaha.",
    link: str | None = "https://www.kominfo.go.id/berita/umkm-digital",
) -> Post:
    assert campaign.id is not None
    assert author.id is not None
    return _save(
        session,
        Post(
            campaign_id=campaign.id,
            author_id=author.id,
            master_text=text,
            link=link,
            hashtags="UMKMGoDigital",
            status=status,
            scheduled_at=utcnow(),
        ),
    )


def make_assignment(session: Session, post: Post, asn: Asn, platform: str = "x") -> Assignment:
    assert post.id is not None
    assert asn.id is not None
    account = session.exec(
        select(SocialAccount).where(
            SocialAccount.asn_id == asn.id, SocialAccount.platform == platform
        )
    ).one()
    return _save(
        session,
        Assignment(
            post_id=post.id,
            campaign_id=post.campaign_id,
            unit_id=asn.unit_id,
            asn_id=asn.id,
            account_id=account.id,
            platform=platform,
            code=f"code{_n():08d}",
            deadline=utcnow() + timedelta(days=1),
        ),
    )

"""Shared seeding for the benchmarks: an agency, its units, an editor and one approved post."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from content.models import Campaign, CampaignKind, Post, PostStatus
from gaung.db import utcnow
from roster.models import Agency, Role, Unit, User


@dataclass(frozen=True)
class Seeded:
    agency_id: int
    unit_ids: list[int]
    post_id: int


def approved_post(engine: Engine, *, unit_names: list[str], **post_fields: Any) -> Seeded:
    """Commit the agency, units, an editor who cannot sign in, a campaign and its approved post."""
    now = utcnow()
    with Session(engine) as session:
        agency = Agency(slug="kominfo", name="Kementerian Komunikasi dan Informatika")
        session.add(agency)
        session.flush()
        assert agency.id is not None
        units = [Unit(agency_id=agency.id, name=name) for name in unit_names]
        editor = User(
            email="humas@kominfo.go.id",
            name="Humas",
            password_hash="-",  # noqa: S106 - cannot sign in
            role=Role.EDITOR,
            agency_id=agency.id,
        )
        session.add_all([*units, editor])
        session.flush()
        assert editor.id is not None
        campaign = Campaign(
            agency_id=agency.id,
            title="Digitalisasi UMKM",
            kind=CampaignKind.PROGRAM,
            starts_at=now,
            deadline=now + timedelta(days=2),
        )
        session.add(campaign)
        session.flush()
        assert campaign.id is not None
        post = Post(
            campaign_id=campaign.id,
            author_id=editor.id,
            hashtags="UMKMGoDigital",
            status=PostStatus.APPROVED,
            **post_fields,
        )
        session.add(post)
        session.commit()
        assert post.id is not None
        return Seeded(agency.id, [u.id for u in units if u.id is not None], post.id)

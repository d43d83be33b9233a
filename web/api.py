"""The JSON API for staff: campaigns, posts, renditions, assignments and reach.

It shares the console's session cookie; without one it answers 401. Every read goes
through content.workflow's agency checks, so another agency's ids answer 404.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from assignments.models import Assignment
from assignments.reach import CampaignReach, ReachFigures
from assignments.reach_snapshot import dashboard_reach
from content import rendering, workflow
from content.models import Campaign, CampaignUnit, Post
from gaung.db import get_session
from roster.models import Agency, Role, User
from web.deps import render, require_role

router = APIRouter(prefix="/api", tags=["api"])
staff = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
MAX_PAGE = 500
# Ids are INTEGER columns (32 bits on PostgreSQL): a larger number is bad input (422), not a
# database overflow (500). Offsets are bounded the same way.
MAX_ID = 2**31 - 1
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="A campaign id.")]
PostId = Annotated[int, Path(ge=1, le=MAX_ID, description="A post id.")]


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "Not signed in"},
    403: {"model": ErrorOut, "description": "The role may not read this"},
    404: {"model": ErrorOut, "description": "Not found in the caller's agency"},
}


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    kind: str
    starts_at: datetime
    deadline: datetime
    unit_ids: list[int]


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    campaign_id: int
    author_id: int
    status: str
    master_text: str
    link: str | None
    hashtags: list[str]
    platforms: list[str]
    official_urls: dict[str, str | None]
    image_url: str | None
    urgent: bool
    scheduled_at: datetime | None
    approver_id: int | None
    reviewed_at: datetime | None
    review_note: str | None
    dispatched_at: datetime | None


class RenditionOut(BaseModel):
    platform: str
    text: str
    length: int
    limit: int
    error: str | None


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    post_id: int
    unit_id: int
    asn_id: int | None
    platform: str
    status: str
    deadline: datetime
    created_at: datetime
    repost_url: str | None
    reported_at: datetime | None
    followers_at_report: int | None


class AssignmentPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[AssignmentOut]


class FiguresOut(BaseModel):
    """One scope's figures (the dashboard's), counts of assignments unless named otherwise."""

    assignments: int
    reported: int = Field(description="Reposts reported or verified")
    verified: int
    declined: int
    rejected: int
    expired: int
    potential_reach: int = Field(description="Followers at report time of reported reposts")
    verified_reach: int = Field(description="Followers at report time of verified reposts")
    clicks: int
    deleted_after_verification: int
    measured: int = Field(description="Reposts with a metrics snapshot")
    impressions: int | None = Field(description="null: no platform returned any")
    engagement: int | None = Field(description="Likes + reposts + replies; null: none returned")
    median_repost_seconds: float | None = Field(description="Dispatch to repost, median")
    completion_rate: float
    verification_rate: float | None = Field(description="Verified among the checked reposts")
    verified_rate: float


class TimelinePointOut(BaseModel):
    bucket: datetime
    reposts: int
    clicks: int


class ReposterOut(BaseModel):
    asn_name: str
    unit: str
    platform: str
    handle: str
    followers: int | None
    repost_url: str | None
    reported_at: datetime | None
    status: str
    verified_at: datetime | None
    flagged_gone_at: datetime | None = Field(description="A verified repost later seen deleted")
    impressions: int | None
    likes: int | None
    reposts: int | None
    replies: int | None


class ApiCallsOut(BaseModel):
    verification: int
    metrics: int


class ReachOut(BaseModel):
    campaign_id: int
    as_of: datetime | None = Field(
        description="When the figures were computed, for a big campaign read from its "
        "snapshot (at most a few minutes old); null: computed for this request"
    )
    total: FiguresOut
    by_platform: dict[str, FiguresOut]
    by_unit: dict[str, FiguresOut]
    timeline: list[TimelinePointOut]
    reposters: list[ReposterOut] = Field(
        description="The first reposters (as on the dashboard); the CSV export has all"
    )
    api_calls: dict[str, ApiCallsOut] = Field(description="Platform API calls, by platform")


def campaign_out(session: Session, campaign: Campaign) -> CampaignOut:
    unit_ids = session.exec(
        select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == campaign.id)
    ).all()
    return CampaignOut(
        id=campaign.id or 0,
        title=campaign.title,
        kind=campaign.kind,
        starts_at=campaign.starts_at,
        deadline=campaign.deadline,
        unit_ids=sorted(unit_ids),
    )


def post_out(post: Post) -> PostOut:
    return PostOut(
        id=post.id or 0,
        campaign_id=post.campaign_id,
        author_id=post.author_id,
        status=post.status,
        master_text=post.master_text,
        link=post.link,
        hashtags=post.hashtag_list(),
        platforms=post.platform_list(),
        official_urls={p: post.official_url(p) for p in ("x", "facebook", "instagram")},
        image_url=f"/media/{post.image_path}" if post.image_path else None,
        urgent=post.urgent,
        scheduled_at=post.scheduled_at,
        approver_id=post.approver_id,
        reviewed_at=post.reviewed_at,
        review_note=post.review_note,
        dispatched_at=post.dispatched_at,
    )


def figures_out(figures: ReachFigures) -> FiguresOut:
    return FiguresOut(
        **asdict(figures),
        completion_rate=figures.completion_rate,
        verification_rate=figures.verification_rate,
        verified_rate=figures.verified_rate,
    )


def reach_out(reach: CampaignReach) -> ReachOut:
    return ReachOut(
        campaign_id=reach.campaign_id,
        as_of=reach.as_of,
        total=figures_out(reach.total),
        by_platform={k: figures_out(v) for k, v in reach.by_platform.items()},
        by_unit={k: figures_out(v) for k, v in reach.by_unit.items()},
        timeline=[TimelinePointOut(**p._asdict()) for p in reach.timeline],
        reposters=[ReposterOut(**asdict(r)) for r in reach.reposters],
        api_calls={k: ApiCallsOut(**asdict(v)) for k, v in reach.api_calls.items()},
    )


@router.get("/campaigns", response_model=list[CampaignOut], responses=ERRORS)
def list_campaigns(
    user: User = Depends(staff), session: Session = Depends(get_session)
) -> list[CampaignOut]:
    """The caller's agency's campaigns, newest first."""
    return [campaign_out(session, c) for c in workflow.list_campaigns(session, user)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=ERRORS)
def get_campaign(
    campaign_id: CampaignId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> CampaignOut:
    return campaign_out(session, workflow.get_campaign(session, user, campaign_id))


@router.get("/campaigns/{campaign_id}/posts", response_model=list[PostOut], responses=ERRORS)
def campaign_posts(
    campaign_id: CampaignId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> list[PostOut]:
    campaign = workflow.get_campaign(session, user, campaign_id)
    posts = workflow.list_posts(session, user, campaign_id=campaign.id)
    return [post_out(p) for p in posts]


@router.get("/posts/{post_id}", response_model=PostOut, responses=ERRORS)
def get_post(
    post_id: PostId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> PostOut:
    return post_out(workflow.get_post(session, user, post_id))


@router.post("/posts/{post_id}/preview", response_model=list[RenditionOut], responses=ERRORS)
def preview_post(
    post_id: PostId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> list[RenditionOut]:
    """The post as each of its platforms would show it, with length, limit and any error.

    Read-only (nothing is stored), so it needs no CSRF token.
    """
    post = workflow.get_post(session, user, post_id)
    campaign = workflow.get_campaign(session, user, post.campaign_id)
    agency = session.get(Agency, campaign.agency_id)
    assert agency is not None
    found = rendering.preview(
        post, kind=campaign.kind, disclosure_tag=rendering.disclosure_tag_for(agency)
    )
    return [RenditionOut(**asdict(r)) for r in found]


@router.get("/campaigns/{campaign_id}/assignments", response_model=AssignmentPage, responses=ERRORS)
def campaign_assignments(
    campaign_id: CampaignId,
    limit: int = Query(100, ge=1, le=MAX_PAGE),
    offset: int = Query(0, ge=0, le=MAX_ID),
    user: User = Depends(staff),
    session: Session = Depends(get_session),
) -> AssignmentPage:
    """One page of the campaign's assignments, oldest first (at most 500 per page)."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    where = Assignment.campaign_id == campaign.id
    total = session.exec(select(func.count()).select_from(Assignment).where(where)).one()
    rows = session.exec(
        select(Assignment).where(where).order_by(col(Assignment.id)).offset(offset).limit(limit)
    ).all()
    items = [AssignmentOut.model_validate(a) for a in rows]
    return AssignmentPage(total=total, limit=limit, offset=offset, items=items)


@router.get("/campaigns/{campaign_id}/reach", response_model=ReachOut, responses=ERRORS)
def reach(
    campaign_id: CampaignId, user: User = Depends(staff), session: Session = Depends(get_session)
) -> ReachOut:
    """The dashboard's figures: completion, verification, potential reach (followers of
    reposting accounts), clicks and measured impressions, per platform and unit."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    assert campaign.id is not None
    return reach_out(dashboard_reach(session, campaign.id))


def _response_name(operation: dict[str, Any]) -> str:
    schema = operation.get("responses", {}).get("200", {}).get("content", {})
    schema = schema.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    return f"[{name}]" if name and schema.get("type") == "array" else name


@router.get("/docs", include_in_schema=False)
def docs(request: Request) -> Response:
    """The API reference rendered on the server from the OpenAPI schema.

    Swagger UI would load its scripts from a CDN; pages here load nothing from outside.
    """
    schema = request.app.openapi()
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "summary": op.get("summary", ""),
            "description": op.get("description", ""),
            "parameters": op.get("parameters", []),
            "response": _response_name(op),
        }
        for path, methods in schema.get("paths", {}).items()
        for method, op in methods.items()
    ]
    return render(request, "console/api_docs.html", {"operations": operations})

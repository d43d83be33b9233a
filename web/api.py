"""The JSON API for staff: campaigns, posts, renditions, assignments and reach; and writes.

Callers authenticate with an API token (``Authorization: Bearer``) or the console's session
cookie (web.api_auth); without either it answers 401. Every read and write goes through
content.workflow, the same service functions the console calls, so the same rules hold:
another agency's ids answer 404, a role or four-eyes refusal 403, bad input 422 naming the
field (in FastAPI's validation-error shape), a step the post's state does not allow 409.
POSTs that change something honour an ``Idempotency-Key`` header (kernel.idempotency).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Path, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, func, select

from assignments.models import Assignment
from assignments.reach import CampaignReach, ReachFigures
from assignments.reach_snapshot import dashboard_reach
from content import rendering, variants, workflow
from content.media import save_image
from content.models import Campaign, CampaignKind, CampaignUnit, Post
from gaung import i18n
from gaung.db import get_session
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.settings import PLATFORMS, get_settings
from kernel import idempotency
from roster.models import Agency, Role, User
from web.api_auth import api_role
from web.deps import render


class ServiceErrors(APIRoute):
    """Turn a service's refusal into the API's answer: bad input 422 naming the field (the
    shape of FastAPI's own validation errors), a step the state does not allow 409.
    Not-found and forbidden go on to the app's handlers (404, 403)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (NotFoundError, ForbiddenError):
                raise
            except GaungError as exc:
                return service_error(exc)

        return route


def _location(field: str) -> list[str | int]:
    """Where a service's field is in a request body (official_url_x: official_urls.x; a
    platform's own text text_x: texts.x; alternative n variant_x_n: variants.x[n - 1])."""
    if field.startswith("official_url_"):
        return ["body", "official_urls", field.removeprefix("official_url_")]
    if field.startswith("text_"):
        return ["body", "texts", field.removeprefix("text_")]
    if field.startswith("variant_"):
        platform, _, number = field.removeprefix("variant_").rpartition("_")
        return ["body", "variants", platform, int(number) - 1]
    return ["body", field]


def service_error(exc: GaungError) -> JSONResponse:
    message = exc.render(i18n.gettext)
    if exc.field is None:
        return JSONResponse({"detail": message}, status_code=409)
    error = {"type": "value_error", "loc": _location(exc.field), "msg": message}
    return JSONResponse({"detail": [error]}, status_code=422)


router = APIRouter(prefix="/api", tags=["api"], route_class=ServiceErrors)
staff = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
# Writes: the service functions decide which role may do what (403 otherwise).
staff_write = api_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR, write=True)
MAX_PAGE = 500
# Largest upload read into memory; content.media enforces the real limit with a message.
MAX_UPLOAD_BYTES = 9 * 1024 * 1024
# Ids are INTEGER columns (32 bits on PostgreSQL): a larger number is bad input (422), not a
# database overflow (500). Offsets are bounded the same way.
MAX_ID = 2**31 - 1
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="A campaign id.")]
PostId = Annotated[int, Path(ge=1, le=MAX_ID, description="A post id.")]


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorOut, "description": "No valid API token or session"},
    403: {"model": ErrorOut, "description": "The role may not read this"},
    404: {"model": ErrorOut, "description": "Not found in the caller's agency"},
}
WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "The body could not be read (not JSON or form)"},
    **ERRORS,
    403: {"model": ErrorOut, "description": "The role may not do this, or four eyes refuse it"},
    409: {"model": ErrorOut, "description": "The post's or campaign's state does not allow it"},
}
IDEMPOTENT_ERRORS: dict[int | str, dict[str, object]] = {
    **WRITE_ERRORS,
    409: {
        "model": ErrorOut,
        "description": "The state does not allow it, or a request with the same "
        "Idempotency-Key is still running",
    },
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
    texts: dict[str, str] = Field(
        default={}, description="A platform's own text, used there instead of master_text"
    )
    variants: dict[str, list[str]] = Field(
        default={}, description="Up to 5 alternative captions per platform, approved with the post"
    )


class RenditionOut(BaseModel):
    platform: str
    text: str
    length: int
    limit: int
    error: str | None
    position: int = Field(
        default=0, description="0: the platform's own (or the master) text; 1..5: alternative n"
    )
    field: str | None = Field(default=None, description="The field the error belongs to")


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
    withdrawn: int = Field(description="Still open when their post was withdrawn")
    checkable: int = Field(
        description="Reported, verified or rejected reposts Gaung can check automatically "
        "(X; Instagram accounts that could be read): the verification rate's denominator"
    )
    checkable_verified: int = Field(description="Of those, verified: the rate's numerator")
    unverifiable: int = Field(
        description="Reported, not verifiable: Facebook and personal Instagram accounts"
    )
    completion_rate: float
    verification_rate: float | None = Field(
        description="checkable_verified / checkable; null when nothing can be checked"
    )
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
        description="For a big campaign, when its snapshot was taken (at most a few minutes "
        "old): medians, impressions and engagement, per post figures and the timeline are as "
        "of then, the counts are live; null: everything computed for this request"
    )
    total: FiguresOut
    by_platform: dict[str, FiguresOut]
    by_unit: dict[str, FiguresOut]
    timeline: list[TimelinePointOut]
    reposters: list[ReposterOut] = Field(
        description="The first reposters (as on the dashboard); the CSV export has all"
    )
    api_calls: dict[str, ApiCallsOut] = Field(description="Platform API calls, by platform")
    unique_clickers: int = Field(
        default=0, description="Clickers counted once per tracking link and day (UTC), summed"
    )
    bot_fetches: int = Field(
        default=0, description="Fetches by known bots and link previews: not in clicks"
    )


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
    session = object_session(post)
    own = variants.load(session, post.id) if isinstance(session, Session) else {}
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
        texts={p: t for p, t in variants.own_texts(own).items() if t},
        variants={p: alts for p, alts in variants.alternatives(own).items() if alts},
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
        unique_clickers=reach.unique_clickers,
        bot_fetches=reach.bot_fetches,
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
        post,
        kind=campaign.kind,
        disclosure_tag=rendering.disclosure_tag_for(agency),
        variants=workflow.get_variants(session, user, post),
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


# --- writes ---------------------------------------------------------------------------

Platform = Annotated[str, Field(pattern="^(" + "|".join(PLATFORMS) + ")$")]
UnitId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _sane_year(value: datetime) -> datetime:
    # Checked on the year before any conversion, so no offset can overflow the calendar.
    if not 2000 <= value.year <= 2099:
        raise ValueError("must be a time between the years 2000 and 2099")
    return value


When = Annotated[AwareDatetime, AfterValidator(_sane_year)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=idempotency.KEY_MAX,
        pattern=r"^[!-~]+$",
        description="Send the same key again (with the same body) to get the first answer "
        "instead of a second change; kept for 24 hours.",
    ),
]


class _NoNulls(BaseModel):
    """A PATCH body: absent fields stay as they are; null only where a field can be empty."""

    model_config = ConfigDict(extra="forbid")
    _nullable: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> _NoNulls:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self._nullable:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(max_length=workflow.TITLE_MAX * 2)
    kind: CampaignKind
    starts_at: When
    deadline: When
    unit_ids: list[UnitId] = Field(default=[], max_length=1000)
    reminder_hours: str | None = Field(
        default=None, max_length=60, description='Hours before the deadline, e.g. "24,3"'
    )


class CampaignPatch(_NoNulls):
    _nullable = frozenset({"reminder_hours"})
    title: str | None = Field(default=None, max_length=workflow.TITLE_MAX * 2)
    kind: CampaignKind | None = None
    starts_at: When | None = None
    deadline: When | None = None
    unit_ids: list[UnitId] | None = Field(default=None, max_length=1000)
    reminder_hours: str | None = Field(default=None, max_length=60)


# A platform's own text or an alternative caption; content.workflow checks the real limit.
VariantText = Annotated[str, Field(max_length=workflow.TEXT_MAX * 2)]


class PostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    master_text: str = Field(max_length=workflow.TEXT_MAX * 2)
    link: str | None = Field(default=None, max_length=workflow.LINK_MAX * 2)
    hashtags: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=100)
    platforms: list[Platform] = Field(default=list(PLATFORMS), min_length=1, max_length=10)
    official_urls: dict[Platform, Annotated[str, Field(max_length=2000)] | None] = Field(
        default={}, description="The agency's own post per platform, which ASN repost"
    )
    scheduled_at: When | None = Field(default=None, description="null: once approved")
    urgent: bool = False
    texts: dict[Platform, VariantText | None] = Field(
        default={}, description="A platform's own text instead of master_text (e.g. shorter X)"
    )
    variants: dict[Platform, Annotated[list[VariantText], Field(max_length=10)]] = Field(
        default={},
        description="Up to 5 alternative captions per platform, each written by a person",
    )


class PostPatch(_NoNulls):
    _nullable = frozenset({"link", "scheduled_at"})
    master_text: str | None = Field(default=None, max_length=workflow.TEXT_MAX * 2)
    link: str | None = Field(default=None, max_length=workflow.LINK_MAX * 2)
    hashtags: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=100
    )
    platforms: list[Platform] | None = Field(default=None, min_length=1, max_length=10)
    official_urls: dict[Platform, Annotated[str, Field(max_length=2000)] | None] | None = Field(
        default=None, description="Merged: platforms not named keep their address"
    )
    scheduled_at: When | None = None
    urgent: bool | None = None
    texts: dict[Platform, VariantText | None] | None = Field(
        default=None, description="Merged: platforms not named keep their own text, null clears it"
    )
    variants: dict[Platform, Annotated[list[VariantText], Field(max_length=10)]] | None = Field(
        default=None, description="Replaces the alternatives of the platforms named"
    )


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(max_length=workflow.NOTE_MAX * 2, description="What the author must change")


def idempotent(
    request: Request,
    session: Session,
    user: User,
    key: str | None,
    body: Any,
    produce: Callable[[], BaseModel],
    status_code: int = 200,
) -> Response:
    """Run ``produce`` once per Idempotency-Key (see kernel.idempotency); no key: just run it."""
    if key is None:
        return JSONResponse(jsonable_encoder(produce()), status_code=status_code)
    assert user.id is not None
    digest = idempotency.fingerprint(request.method, request.url.path, body)
    outcome = idempotency.reserve(session, user.id, key, digest)
    if outcome.reserved:
        try:
            answer = jsonable_encoder(produce())
        except BaseException:
            idempotency.release(session, user.id, key)
            raise
        idempotency.finish(session, user.id, key, status_code, answer)
        return JSONResponse(answer, status_code=status_code)
    if not outcome.same_request:
        message = i18n.gettext("This Idempotency-Key was already used for a different request.")
        error = {"type": "value_error", "loc": ["header", "Idempotency-Key"], "msg": message}
        return JSONResponse({"detail": [error]}, status_code=422)
    if outcome.status is None:
        message = i18n.gettext("A request with this Idempotency-Key is still running; retry soon.")
        return JSONResponse({"detail": message}, status_code=409, headers={"Retry-After": "1"})
    replayed = {"Idempotent-Replayed": "true"}
    return JSONResponse(outcome.body, status_code=outcome.status, headers=replayed)


@router.post("/campaigns", status_code=201, response_model=CampaignOut, responses=IDEMPOTENT_ERRORS)
def create_campaign(
    request: Request,
    body: CampaignIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """A new campaign of the caller's agency (editors and admins); no units: the whole agency."""

    def produce() -> CampaignOut:
        campaign = workflow.create_campaign(session, user, **body.model_dump())
        return campaign_out(session, campaign)

    return idempotent(request, session, user, key, body.model_dump(mode="json"), produce, 201)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut, responses=WRITE_ERRORS)
def update_campaign(
    campaign_id: CampaignId,
    body: CampaignPatch,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> CampaignOut:
    """Change some of a campaign's fields. Once a post went out only the title may change;
    once one is under review or approved, not the kind."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    workflow.update_campaign(session, user, campaign, **body.changes())
    return campaign_out(session, campaign)


@router.delete("/campaigns/{campaign_id}", status_code=204, responses=WRITE_ERRORS)
def delete_campaign(
    campaign_id: CampaignId,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Delete a campaign whose posts are all drafts (they are deleted with it)."""
    workflow.delete_campaign(session, user, workflow.get_campaign(session, user, campaign_id))
    return Response(status_code=204)


@router.post(
    "/campaigns/{campaign_id}/posts",
    status_code=201,
    response_model=PostOut,
    responses=IDEMPOTENT_ERRORS,
)
def create_post(
    request: Request,
    campaign_id: CampaignId,
    body: PostIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """A draft post in the campaign, written by the caller."""
    campaign = workflow.get_campaign(session, user, campaign_id)

    def produce() -> PostOut:
        return post_out(workflow.create_post(session, user, campaign, **body.model_dump()))

    return idempotent(request, session, user, key, body.model_dump(mode="json"), produce, 201)


@router.patch("/posts/{post_id}", response_model=PostOut, responses=WRITE_ERRORS)
def update_post(
    post_id: PostId,
    body: PostPatch,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> PostOut:
    """Change some fields of a draft (or rejected) post; a rejected one becomes a draft."""
    post = workflow.get_post(session, user, post_id)
    return post_out(workflow.update_post(session, user, post, **body.changes()))


@router.delete("/posts/{post_id}", status_code=204, responses=WRITE_ERRORS)
def delete_post(
    post_id: PostId, user: User = Depends(staff_write), session: Session = Depends(get_session)
) -> Response:
    """Delete a draft (or rejected) post."""
    workflow.delete_post(session, user, workflow.get_post(session, user, post_id))
    return Response(status_code=204)


@router.post("/posts/{post_id}/image", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def upload_image(
    request: Request,
    post_id: PostId,
    image: Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 8 MB")],
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Attach an image to a draft (replacing any); checked and re-encoded like the console's.

    A plain ``def``: FastAPI runs it in a worker thread, so decoding the image never holds
    up the event loop (web.uploads says why).
    """
    post = workflow.get_post(session, user, post_id)
    data = image.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise GaungError("The image is larger than %(limit)s MB.", field="image", limit=8)

    def produce() -> PostOut:
        path = save_image(data, get_settings().media_dir)
        return post_out(workflow.update_post(session, user, post, image_path=path))

    body = {"image_sha256": hashlib.sha256(data).hexdigest()}
    return idempotent(request, session, user, key, body, produce)


@router.delete("/posts/{post_id}/image", response_model=PostOut, responses=WRITE_ERRORS)
def remove_image(
    post_id: PostId, user: User = Depends(staff_write), session: Session = Depends(get_session)
) -> PostOut:
    """Take the image off a draft."""
    post = workflow.get_post(session, user, post_id)
    return post_out(workflow.update_post(session, user, post, image_path=None))


def _step(
    request: Request,
    session: Session,
    user: User,
    post_id: int,
    key: str | None,
    action: Callable[[Post], Post],
    body: Any = None,
) -> Response:
    post = workflow.get_post(session, user, post_id)
    return idempotent(request, session, user, key, body, lambda: post_out(action(post)))


@router.post("/posts/{post_id}/submit", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def submit_post(
    request: Request,
    post_id: PostId,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Send a draft for approval (its author or an admin); every rendition must fit."""
    action = partial(workflow.submit, session, user)
    return _step(request, session, user, post_id, key, action)


@router.post("/posts/{post_id}/approve", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def approve_post(
    request: Request,
    post_id: PostId,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Approve a submitted post and queue its dispatch; never by someone who shaped it."""
    action = partial(workflow.approve, session, user)
    return _step(request, session, user, post_id, key, action)


@router.post("/posts/{post_id}/reject", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def reject_post(
    request: Request,
    post_id: PostId,
    body: RejectIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Send a submitted post back to its author with a note."""
    action = partial(workflow.reject, session, user, note=body.note)
    return _step(request, session, user, post_id, key, action, body.model_dump())


@router.post("/posts/{post_id}/withdraw", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def withdraw_post(
    request: Request,
    post_id: PostId,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Take back an approved or dispatched post: a queued dispatch is cancelled; after
    dispatch open assignments close and each ASN gets a withdrawal notice."""
    action = partial(workflow.withdraw, session, user)
    return _step(request, session, user, post_id, key, action)


class OfficialLinksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    official_urls: dict[Platform, Annotated[str, Field(max_length=2000)] | None] = Field(
        description="Merged: platforms not named keep their address; null clears one"
    )


@router.post("/posts/{post_id}/official-links", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def correct_official_links(
    request: Request,
    post_id: PostId,
    links: OfficialLinksIn,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Correct an approved or dispatched post's official links (its text stays as approved)."""
    urls = {str(platform): url for platform, url in links.official_urls.items()}
    action = partial(workflow.correct_official_urls, session, user, official_urls=urls)
    return _step(request, session, user, post_id, key, action, links.model_dump(mode="json"))


@router.post("/posts/{post_id}/dispatch-now", response_model=PostOut, responses=IDEMPOTENT_ERRORS)
def dispatch_post_now(
    request: Request,
    post_id: PostId,
    key: IdempotencyKey = None,
    user: User = Depends(staff_write),
    session: Session = Depends(get_session),
) -> Response:
    """Send an approved post out now instead of at its time (its urgency is unchanged)."""
    action = partial(workflow.dispatch_now, session, user)
    return _step(request, session, user, post_id, key, action)


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

"""The Humas console: campaigns, posts with a live per-platform preview, approval.

Editors draft and submit, approvers approve or reject, admins do both, supervisors
read. The content services (content.workflow) hold every rule; this module only
turns forms into calls and errors back into forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session, col, select
from starlette.datastructures import FormData, UploadFile

from assignments import problems
from content import offers, recurrence, rendering, variants, workflow
from content.models import Campaign, CampaignKind, CampaignUnit, Post, PostStatus
from gaung import i18n
from gaung.db import get_session, utcnow
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.i18n import gettext as _
from gaung.settings import PLATFORM_NAMES, PLATFORMS, get_settings
from kernel.audit import AuditLog
from roster import agencies, networks
from roster.models import Agency, Role, Unit, User
from scheduler import dispatch
from web import notify_view
from web.deps import render, require_role, verify_csrf
from web.messages_console import campaign_delivery
from web.uploads import store_image

router = APIRouter(prefix="/console", include_in_schema=False)

writer = require_role(Role.EDITOR, Role.APPROVER)
reader = require_role(Role.EDITOR, Role.APPROVER, Role.SUPERVISOR)
approver = require_role(Role.APPROVER)

# Largest upload read into memory; content.media enforces the real limit with a message.
MAX_UPLOAD_BYTES = 9 * 1024 * 1024
CAMPAIGN_FIELDS = frozenset(
    {"title", "kind", "starts_at", "deadline", "unit_ids", "reminder_hours"}
)
POST_FIELDS = frozenset(
    {"master_text", "link", "hashtags", "platforms", "image", "scheduled_at"}
    | {f"official_url_{p}" for p in PLATFORMS}
    | {f"text_{p}" for p in PLATFORMS}
    | {f"variant_{p}_{n}" for p in PLATFORMS for n in range(1, variants.MAX_ALTERNATIVES + 2)}
)
# Numbers of the alternative-caption fields per platform in the form.
ALTERNATIVE_NUMBERS = range(1, variants.MAX_ALTERNATIVES + 1)
STATUS_CLASSES = {
    PostStatus.DRAFT: "muted",
    PostStatus.SUBMITTED: "warn",
    PostStatus.REJECTED: "bad",
    PostStatus.APPROVED: "good",
    PostStatus.DISPATCHED: "good",
    PostStatus.WITHDRAWN: "muted",
}


def kind_labels() -> dict[str, str]:
    return {
        CampaignKind.PROGRAM: _("Government program"),
        CampaignKind.ACHIEVEMENT: _("Achievement"),
        CampaignKind.HOAX_CLARIFICATION: _("Hoax clarification"),
        CampaignKind.ANNOUNCEMENT: _("Announcement"),
    }


def status_labels() -> dict[str, str]:
    return {
        PostStatus.DRAFT: _("Draft"),
        PostStatus.SUBMITTED: _("Waiting for approval"),
        PostStatus.REJECTED: _("Rejected"),
        PostStatus.APPROVED: _("Approved, scheduled"),
        PostStatus.DISPATCHED: _("Dispatched"),
        PostStatus.WITHDRAWN: _("Withdrawn"),
    }


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """Render a console page with the shared labels and a one-shot flash message."""
    base = {
        "kinds": kind_labels(),
        "statuses": status_labels(),
        "status_classes": STATUS_CLASSES,
        "platform_names": PLATFORM_NAMES,
        "flash": request.session.pop("flash", None),
    }
    return render(request, f"console/{name}", {**base, **context}, status_code=status_code)


def shown_field(error: GaungError | None, fields: frozenset[str]) -> str | None:
    """The form field to show the error next to; None puts it at the top of the page."""
    if error is None or error.field not in fields:
        return None
    return error.field


def flash(request: Request, message: str) -> None:
    request.session["flash"] = message


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- local time <-> UTC ---------------------------------------------------------------


def staff_zone(session: Session, user: User) -> str:
    """The zone a staff member types and reads times in: their agency's (else the instance's)."""
    return agencies.reader_zone(session, user.agency_id)


def parse_local(value: str, field: str, tz: str | None = None) -> datetime | None:
    """A datetime-local input (wall time in ``tz``, the staff's zone) as aware UTC, or None."""
    value = value.strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise GaungError("Enter a valid date and time.", field=field) from None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=i18n.zone(tz))
    return naive.astimezone(UTC)


def parse_required(value: str, field: str, tz: str | None = None) -> datetime:
    parsed = parse_local(value, field, tz)
    if parsed is None:
        raise GaungError("This field is required.", field=field)
    return parsed


def local_input(value: datetime | None, tz: str | None = None) -> str:
    """The value attribute of a datetime-local input for a stored UTC datetime (in ``tz``)."""
    if value is None:
        return ""
    return i18n.local_time(value, tz).strftime("%Y-%m-%dT%H:%M")


# --- campaigns ------------------------------------------------------------------------


def agency_units(session: Session, user: User) -> list[Unit]:
    statement = select(Unit).where(Unit.agency_id == user.agency_id).order_by(col(Unit.name))
    return list(session.exec(statement))


def campaign_unit_ids(session: Session, campaign: Campaign) -> list[int]:
    statement = select(CampaignUnit.unit_id).where(CampaignUnit.campaign_id == campaign.id)
    return list(session.exec(statement))


@router.get("")
def campaign_list(
    request: Request, user: User = Depends(reader), session: Session = Depends(get_session)
) -> Response:
    campaigns = workflow.list_campaigns(session, user)
    return page(request, "campaigns.html", {"campaigns": campaigns})


def campaign_form(
    request: Request,
    session: Session,
    user: User,
    values: dict[str, Any],
    error: GaungError | None = None,
    campaign: Campaign | None = None,
) -> Response:
    context = {
        "campaign": campaign,
        "values": values,
        "units": agency_units(session, user),
        "error": error.render(_) if error else None,
        "error_field": shown_field(error, CAMPAIGN_FIELDS),
        "default_reminder_hours": get_settings().reminders.default_hours,
        "zone_label": i18n.zone_label(staff_zone(session, user)),
    }
    return page(request, "campaign_form.html", context, status_code=400 if error else 200)


@router.get("/campaigns/new")
def new_campaign(
    request: Request, user: User = Depends(writer), session: Session = Depends(get_session)
) -> Response:
    values = {
        "title": "",
        "kind": CampaignKind.PROGRAM,
        "starts_at": "",
        "deadline": "",
        "unit_ids": [],
        "reminder_hours": "",
    }
    return campaign_form(request, session, user, values)


def campaign_values(form: FormData) -> dict[str, Any]:
    return {
        "title": str(form.get("title") or ""),
        "kind": str(form.get("kind") or ""),
        "starts_at": str(form.get("starts_at") or ""),
        "deadline": str(form.get("deadline") or ""),
        "unit_ids": [int(str(v)) for v in form.getlist("unit_ids") if str(v).isdigit()],
        "reminder_hours": str(form.get("reminder_hours") or ""),
    }


@router.post("/campaigns")
async def create_campaign(
    request: Request,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    values = campaign_values(await request.form())
    try:
        zone = staff_zone(session, user)
        starts_at = parse_required(values["starts_at"], "starts_at", zone)
        deadline = parse_required(values["deadline"], "deadline", zone)
        campaign = workflow.create_campaign(
            session,
            user,
            title=values["title"],
            kind=values["kind"],
            starts_at=starts_at,
            deadline=deadline,
            unit_ids=values["unit_ids"],
            reminder_hours=values["reminder_hours"],
        )
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        return campaign_form(request, session, user, values, err)
    flash(request, _("Campaign created."))
    return see_other(f"/console/campaigns/{campaign.id}")


def stored_campaign_values(session: Session, campaign: Campaign, zone: str) -> dict[str, Any]:
    return {
        "title": campaign.title,
        "kind": campaign.kind,
        "starts_at": local_input(campaign.starts_at, zone),
        "deadline": local_input(campaign.deadline, zone),
        "unit_ids": campaign_unit_ids(session, campaign),
        "reminder_hours": campaign.reminder_hours or "",
    }


@router.get("/campaigns/{campaign_id}/edit")
def edit_campaign(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    values = stored_campaign_values(session, campaign, staff_zone(session, user))
    return campaign_form(request, session, user, values, campaign=campaign)


@router.post("/campaigns/{campaign_id}/edit")
async def update_campaign(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    values = campaign_values(await request.form())
    zone = staff_zone(session, user)
    try:
        workflow.update_campaign(
            session,
            user,
            campaign,
            title=values["title"],
            kind=values["kind"],
            starts_at=parse_required(values["starts_at"], "starts_at", zone),
            deadline=parse_required(values["deadline"], "deadline", zone),
            unit_ids=values["unit_ids"],
            reminder_hours=values["reminder_hours"],
        )
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        session.refresh(campaign)
        return campaign_form(request, session, user, values, err, campaign=campaign)
    flash(request, _("Campaign saved."))
    return see_other(f"/console/campaigns/{campaign_id}")


@router.post("/campaigns/{campaign_id}/delete")
async def delete_campaign(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    try:
        workflow.delete_campaign(session, user, campaign)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        flash(request, err.render(_))
        return see_other(f"/console/campaigns/{campaign_id}")
    flash(request, _("Campaign deleted."))
    return see_other("/console")


@router.get("/campaigns/{campaign_id}")
def campaign_detail(
    request: Request,
    campaign_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    posts = session.exec(
        select(Post).where(Post.campaign_id == campaign.id).order_by(col(Post.created_at))
    ).all()
    unit_ids = campaign_unit_ids(session, campaign)
    units = [u for u in agency_units(session, user) if u.id in unit_ids]
    context: dict[str, Any] = {"campaign": campaign, "posts": posts, "units": units}
    context["can_change"] = user.role in (Role.EDITOR, Role.ADMIN)
    context["can_delete"] = context["can_change"] and all(
        p.status in workflow.DELETABLE for p in posts
    )
    context.update(campaign_delivery(session, campaign))
    context.update(recurrence_facts(session, campaign))
    context.update(network_facts(session, campaign))
    return page(request, "campaign.html", context)


def network_facts(session: Session, campaign: Campaign) -> dict[str, Any]:
    """A coordinator's campaign: its network and the offers' answers; a member's copy:
    whose offer it came from (the coordinator's campaign itself stays private)."""
    facts: dict[str, Any] = {"network": None, "offer_views": [], "offered_by": None}
    if campaign.source_campaign_id is not None:
        source = session.get(Campaign, campaign.source_campaign_id)
        facts["offered_by"] = session.get(Agency, source.agency_id) if source else None
        return facts
    network = networks.of_coordinator(session, campaign.agency_id)
    if network is not None:
        facts["network"] = network
        facts["offer_views"] = offers.offers_of(session, campaign.id or 0)
    return facts


@router.post("/campaigns/{campaign_id}/offer")
async def offer_campaign(
    request: Request,
    campaign_id: int,
    user: User = Depends(approver),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """Offer the campaign to every member of the agency's network not offered it yet."""
    campaign = workflow.get_campaign(session, user, campaign_id)
    try:
        made = offers.offer(session, user, campaign)
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        flash(request, err.render(_))
        return see_other(f"/console/campaigns/{campaign_id}")
    if made:
        message = _("Offered to the network: %(count)s agencies got the offer.")
        flash(request, message % {"count": len(made)})
    else:
        flash(request, _("Every agency of the network already has this offer."))
    return see_other(f"/console/campaigns/{campaign_id}")


def recurrence_facts(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Whether the campaign repeats (and when next), or which repeating campaign made it."""
    rule = recurrence.get_recurrence(session, campaign)
    next_time = None
    if rule is not None and rule.active:
        try:
            coming = recurrence.upcoming(rule, utcnow(), limit=1)
        except GaungError:
            coming = []
        next_time = coming[0] if coming else None
    return {
        "repeats": rule is not None and rule.active,
        "repeats_next": next_time,
        "repeated_from": recurrence.origin(session, campaign),
    }


# --- posts ----------------------------------------------------------------------------


def text_values(own: Mapping[str, Mapping[int, str]]) -> dict[str, str]:
    """Form values of the platforms' own texts (text_x) and alternatives (variant_x_1..5)."""
    values = {f"text_{p}": own.get(p, {}).get(0, "") for p in PLATFORMS}
    for p in PLATFORMS:
        alternatives = variants.alternatives({p: own.get(p, {})})[p]
        for n in ALTERNATIVE_NUMBERS:
            values[f"variant_{p}_{n}"] = alternatives[n - 1] if n <= len(alternatives) else ""
    return values


def form_variants(values: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    """The own texts and alternatives typed in the form, as {platform: {position: text}}
    (empty ones left out, alternatives numbered in order), for the preview."""
    found: dict[str, dict[int, str]] = {}
    for p in PLATFORMS:
        own = str(values.get(f"text_{p}") or "").strip()
        alternatives = [
            str(values.get(f"variant_{p}_{n}") or "").strip() for n in ALTERNATIVE_NUMBERS
        ]
        texts = {0: own} if own else {}
        texts.update(enumerate([a for a in alternatives if a], start=1))
        if texts:
            found[p] = texts
    return found


def post_values(
    post: Post | None = None,
    own: Mapping[str, Mapping[int, str]] | None = None,
    zone: str | None = None,
) -> dict[str, Any]:
    """Form values for a post and its own texts (or the defaults for a new one)."""
    if post is None:
        return {
            "master_text": "",
            "link": "",
            "hashtags": "",
            "platforms": list(PLATFORMS),
            "scheduled_at": "",
            "urgent": False,
            "image_path": None,
            **{f"official_url_{p}": "" for p in PLATFORMS},
            **text_values({}),
        }
    return {
        "master_text": post.master_text,
        "link": post.link or "",
        "hashtags": " ".join(f"#{h}" for h in post.hashtag_list()),
        "platforms": post.platform_list(),
        "scheduled_at": local_input(post.scheduled_at, zone),
        "urgent": post.urgent,
        "image_path": post.image_path,
        **{f"official_url_{p}": post.official_url(p) or "" for p in PLATFORMS},
        **text_values(own or {}),
    }


def form_post_values(form: FormData, previous: dict[str, Any]) -> dict[str, Any]:
    return {
        "master_text": str(form.get("master_text") or ""),
        "link": str(form.get("link") or "").strip(),
        "hashtags": str(form.get("hashtags") or ""),
        "platforms": [str(p) for p in form.getlist("platforms") if p in PLATFORMS],
        "scheduled_at": str(form.get("scheduled_at") or ""),
        "urgent": form.get("urgent") in ("on", "1", "true"),
        "image_path": previous.get("image_path"),
        **{
            f"official_url_{p}": str(form.get(f"official_url_{p}") or "").strip() for p in PLATFORMS
        },
        **{name: str(form.get(name) or "") for name in text_values({})},
    }


async def store_upload(form: FormData) -> str | None:
    """Save an uploaded image (content.media checks type and size); None when none was sent."""
    upload = form.get("image")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(MAX_UPLOAD_BYTES)
    if not data:
        return None
    return await store_image(data)


def service_fields(values: dict[str, Any], zone: str) -> dict[str, Any]:
    """Arguments shared by workflow.create_post and workflow.update_post."""
    return {
        "master_text": values["master_text"],
        "link": values["link"] or None,
        "hashtags": values["hashtags"].split(),
        "platforms": values["platforms"],
        "scheduled_at": parse_local(values["scheduled_at"], "scheduled_at", zone),
        "urgent": values["urgent"],
        "image_path": values["image_path"],
        "official_urls": {p: values[f"official_url_{p}"] or None for p in PLATFORMS},
        "texts": {p: values[f"text_{p}"] or None for p in PLATFORMS},
        "variants": {
            p: [values[f"variant_{p}_{n}"] for n in ALTERNATIVE_NUMBERS] for p in PLATFORMS
        },
    }


def transient_post(campaign: Campaign, user: User, values: dict[str, Any]) -> Post:
    """An unsaved Post carrying form values, for previews."""
    hashtags = " ".join(h.lstrip("#") for h in str(values.get("hashtags", "")).split())
    post = Post(
        campaign_id=campaign.id or 0,
        author_id=user.id or 0,
        master_text=str(values.get("master_text", "")),
        link=str(values.get("link") or "").strip() or None,
        hashtags=hashtags,
        platforms=",".join(p for p in values.get("platforms", []) if p in PLATFORMS),
        image_path=values.get("image_path"),
    )
    return post


def renditions(
    session: Session,
    campaign: Campaign,
    post: Post,
    own: Mapping[str, Mapping[int, str]] | None = None,
) -> list[dict[str, Any]]:
    """Every text of every platform rendered, each labelled (main text or alternative n)."""
    agency = session.get(Agency, campaign.agency_id)
    assert agency is not None
    found = rendering.preview(
        post,
        kind=campaign.kind,
        disclosure_tag=rendering.disclosure_tag_for(agency),
        variants=own,
    )
    shown = []
    for r in found:
        label = (
            _("Alternative %(number)s") % {"number": r.position}
            if r.position
            else _("Own text")
            if (own or {}).get(r.platform, {}).get(0)
            else _("Main text")
        )
        shown.append({**asdict(r), "label": label})
    return shown


def post_form(
    request: Request,
    session: Session,
    campaign: Campaign,
    user: User,
    values: dict[str, Any],
    *,
    post: Post | None = None,
    error: GaungError | None = None,
) -> Response:
    preview = renditions(
        session, campaign, transient_post(campaign, user, values), form_variants(values)
    )
    context = {
        "campaign": campaign,
        "post": post,
        "values": values,
        "platforms": PLATFORMS,
        "preview": preview,
        "error": error.render(_) if error else None,
        "error_field": shown_field(error, POST_FIELDS),
        "zone_label": i18n.zone_label(staff_zone(session, user)),
    }
    return page(request, "post_form.html", context, status_code=400 if error else 200)


@router.get("/campaigns/{campaign_id}/posts/new")
def new_post(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    return post_form(request, session, campaign, user, post_values())


@router.post("/campaigns/{campaign_id}/posts")
async def create_post(
    request: Request,
    campaign_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    campaign = workflow.get_campaign(session, user, campaign_id)
    form = await request.form()
    values = form_post_values(form, {})
    try:
        values["image_path"] = await store_upload(form) or values["image_path"]
        post = workflow.create_post(
            session, user, campaign, **service_fields(values, staff_zone(session, user))
        )
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        return post_form(request, session, campaign, user, values, error=err)
    flash(request, _("Draft saved."))
    return see_other(f"/console/posts/{post.id}")


def load_post(session: Session, user: User, post_id: int) -> tuple[Post, Campaign]:
    post = workflow.get_post(session, user, post_id)
    campaign = workflow.get_campaign(session, user, post.campaign_id)
    return post, campaign


@router.get("/posts/{post_id}/edit")
def edit_post(
    request: Request,
    post_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
) -> Response:
    post, campaign = load_post(session, user, post_id)
    own = workflow.get_variants(session, user, post)
    values = post_values(post, own, staff_zone(session, user))
    return post_form(request, session, campaign, user, values, post=post)


@router.post("/posts/{post_id}/edit")
async def update_post(
    request: Request,
    post_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    post, campaign = load_post(session, user, post_id)
    form = await request.form()
    previous = post_values(post, workflow.get_variants(session, user, post))
    values = form_post_values(form, previous)
    if form.get("remove_image") == "on":
        values["image_path"] = None
    try:
        values["image_path"] = await store_upload(form) or values["image_path"]
        workflow.update_post(
            session, user, post, **service_fields(values, staff_zone(session, user))
        )
    except (NotFoundError, ForbiddenError):
        raise
    except GaungError as err:
        session.rollback()
        return post_form(request, session, campaign, user, values, post=post, error=err)
    flash(request, _("Changes saved."))
    return see_other(f"/console/posts/{post_id}")


def post_page(
    request: Request,
    session: Session,
    user: User,
    post: Post,
    campaign: Campaign,
    *,
    error: GaungError | None = None,
    status_code: int = 200,
) -> Response:
    author = session.get(User, post.author_id)
    is_author = post.author_id == user.id
    reviewer = user.role in (Role.APPROVER, Role.ADMIN)
    context = {
        "post": post,
        "campaign": campaign,
        "author": author,
        "preview": renditions(session, campaign, post, workflow.get_variants(session, user, post)),
        "can_edit": (user.role == Role.ADMIN or (user.role == Role.EDITOR and is_author))
        and post.status in (PostStatus.DRAFT, PostStatus.REJECTED),
        "can_submit": (user.role == Role.ADMIN or (user.role == Role.EDITOR and is_author))
        and post.status == PostStatus.DRAFT,
        # The author never gets the buttons; the service refuses anyway.
        "can_review": user.role in (Role.APPROVER, Role.ADMIN)
        and post.status == PostStatus.SUBMITTED
        and not is_author,
        "can_dispatch": reviewer and post.status == PostStatus.APPROVED,
        "can_withdraw": reviewer and post.status in (PostStatus.APPROVED, PostStatus.DISPATCHED),
        "can_correct_links": user.role in (Role.EDITOR, Role.APPROVER, Role.ADMIN)
        and post.status in workflow.CORRECTABLE,
        "can_delete": (user.role == Role.ADMIN or (user.role == Role.EDITOR and is_author))
        and post.status in workflow.DELETABLE,
        "official_urls": [(p, post.official_url(p)) for p in post.platform_list()],
        "problems": problems.for_post(session, post),
        "error": error.render(_) if error else None,
        "error_field": None,
        # Before it goes out: the estimate; after: the measured time to notify.
        "estimate_view": notify_view.estimate_view(session, post, campaign),
        "times_view": notify_view.times_view(session.connection(), post),
        # A dispatch under way (or stopped by a withdrawal): done/total over its parts.
        "dispatch_progress": dispatch.progress(session, post.id or 0)
        if post.dispatched_at is None
        else None,
    }
    return page(request, "post.html", context, status_code=status_code)


@router.get("/posts/{post_id}")
def post_detail(
    request: Request,
    post_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    post, campaign = load_post(session, user, post_id)
    return post_page(request, session, user, post, campaign)


async def transition(
    request: Request, session: Session, user: User, post_id: int, action: str
) -> Response:
    """Run one workflow step; a refusal re-renders the post page with the reason."""
    post, campaign = load_post(session, user, post_id)
    form = await request.form()
    try:
        if action == "submit":
            workflow.submit(session, user, post)
            message = _("Submitted for approval.")
        elif action == "approve":
            workflow.approve(session, user, post)
            message = _("Approved. The post is scheduled.")
        elif action == "reject":
            workflow.reject(session, user, post, str(form.get("note") or "").strip())
            message = _("Rejected. The author can revise the post.")
        elif action == "withdraw":
            workflow.withdraw(session, user, post)
            message = _("Withdrawn. Nothing more goes out for this post.")
        elif action == "links":
            urls = {
                platform: str(form.get(f"official_url_{platform}") or "").strip() or None
                for platform in post.platform_list()
            }
            workflow.correct_official_urls(session, user, post, urls)
            message = _("Official links saved. Verification uses them from its next round.")
        elif action == "delete":
            workflow.delete_post(session, user, post)
            flash(request, _("Draft deleted."))
            return see_other(f"/console/campaigns/{campaign.id}")
        else:
            workflow.dispatch_now(session, user, post)
            message = _("The post will be dispatched now.")
    except NotFoundError:
        raise
    except GaungError as err:
        session.rollback()
        session.refresh(post)
        status = 403 if isinstance(err, ForbiddenError) else 400
        return post_page(request, session, user, post, campaign, error=err, status_code=status)
    flash(request, message)
    return see_other(f"/console/posts/{post_id}")


@router.post("/posts/{post_id}/submit")
async def submit_post(
    request: Request,
    post_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return await transition(request, session, user, post_id, "submit")


@router.post("/posts/{post_id}/approve")
async def approve_post(
    request: Request,
    post_id: int,
    user: User = Depends(approver),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return await transition(request, session, user, post_id, "approve")


@router.post("/posts/{post_id}/reject")
async def reject_post(
    request: Request,
    post_id: int,
    user: User = Depends(approver),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return await transition(request, session, user, post_id, "reject")


@router.post("/posts/{post_id}/dispatch-now")
async def dispatch_post_now(
    request: Request,
    post_id: int,
    user: User = Depends(approver),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return await transition(request, session, user, post_id, "dispatch")


@router.post("/posts/{post_id}/withdraw")
async def withdraw_post(
    request: Request,
    post_id: int,
    user: User = Depends(approver),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return await transition(request, session, user, post_id, "withdraw")


@router.post("/posts/{post_id}/official-links")
async def correct_official_links(
    request: Request,
    post_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """Fix a wrong official post link after approval, so verification can go on."""
    return await transition(request, session, user, post_id, "links")


@router.post("/posts/{post_id}/delete")
async def delete_post(
    request: Request,
    post_id: int,
    user: User = Depends(writer),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    return await transition(request, session, user, post_id, "delete")


@router.get("/approvals")
def approval_queue(
    request: Request, user: User = Depends(approver), session: Session = Depends(get_session)
) -> Response:
    posts = workflow.list_posts(session, user, status=PostStatus.SUBMITTED)
    campaigns = {c.id: c for c in workflow.list_campaigns(session, user)}
    authors = {u.id: u for u in session.exec(select(User).where(User.agency_id == user.agency_id))}
    # How long until everyone is notified, per messenger, and what WhatsApp would cost.
    estimates = {
        p.id: notify_view.estimate_view(session, p, campaigns[p.campaign_id])
        for p in posts
        if p.campaign_id in campaigns
    }
    context = {"posts": posts, "campaigns": campaigns, "authors": authors, "estimates": estimates}
    return page(request, "approvals.html", context)


@router.get("/posts/{post_id}/audit")
def post_audit(
    request: Request,
    post_id: int,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
) -> Response:
    post, campaign = load_post(session, user, post_id)
    entries = session.exec(
        select(AuditLog)
        .where(AuditLog.entity == "post", AuditLog.entity_id == post.id)
        .where(AuditLog.agency_id == user.agency_id)
        .order_by(col(AuditLog.at), col(AuditLog.id))
    ).all()
    return page(request, "audit.html", {"post": post, "campaign": campaign, "entries": entries})


# --- live preview ---------------------------------------------------------------------


@router.post("/preview")
async def live_preview(
    request: Request,
    user: User = Depends(reader),
    session: Session = Depends(get_session),
    _csrf: None = Depends(verify_csrf),
) -> Response:
    """JSON in (form values + campaign_id), JSON out: text, length, limit, error per platform."""
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("campaign_id"), int):
        return JSONResponse({"detail": _("Some fields are missing or invalid.")}, 400)
    campaign = workflow.get_campaign(session, user, data["campaign_id"])
    values: dict[str, Any] = {
        "master_text": str(data.get("master_text") or ""),
        "link": str(data.get("link") or ""),
        "hashtags": str(data.get("hashtags") or ""),
        "platforms": [p for p in data.get("platforms") or [] if isinstance(p, str)],
        "image_path": None,
    }
    for name, value in _typed_texts(data).items():
        values[name] = value
    post_id = data.get("post_id")
    if isinstance(post_id, int):
        values["image_path"] = workflow.get_post(session, user, post_id).image_path
    if data.get("has_image") is True and not values["image_path"]:
        values["image_path"] = "pending-upload"  # chosen in the form, not uploaded yet
    preview = renditions(
        session, campaign, transient_post(campaign, user, values), form_variants(values)
    )
    return JSONResponse({"renditions": preview})


def _typed_texts(data: dict[str, Any]) -> dict[str, str]:
    """The form's own-text and alternative fields (text_x, variant_x_1) in a preview request."""
    return {
        name: data[name][: workflow.TEXT_MAX * 2]
        for name in text_values({})
        if isinstance(data.get(name), str)
    }

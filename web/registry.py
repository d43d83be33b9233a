"""The public registry of official ASN influencer accounts, and their badges. No sign-in.

``/registry`` looks a handle up; ``/registry/{platform}/{handle}`` is an account's entry
(the link an ASN puts in their bio); ``/registry/badge/{platform}/{handle}.svg`` its badge.
A handle that is not listed gets a "not an official ASN account" badge, so a look-alike
account copying someone's badge markup still shows the truth.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from gaung import i18n
from gaung.db import get_session
from gaung.errors import N_, GaungError, NotFoundError
from gaung.fields import handle_key
from gaung.settings import PLATFORMS, get_settings
from kernel.limits import display_name
from roster import registry
from web.deps import render

router = APIRouter(prefix="/registry", include_in_schema=False)
# Badges are fetched by every visitor of a bio: let browsers and proxies keep them a while.
BADGE_CACHE = "public, max-age=3600"
_ = i18n.gettext


def _platforms() -> list[tuple[str, str]]:
    return [(p, display_name(p)) for p in PLATFORMS]


@router.get("")
def registry_search(
    request: Request, platform: str = "", handle: str = "", session: Session = Depends(get_session)
) -> Response:
    """The look-up form; a valid query goes straight to the account's entry."""
    context = {"platforms": _platforms(), "platform": platform or "x", "handle": handle}
    if not handle.strip():
        return render(request, "registry/search.html", {**context, "error": None})
    try:
        slug, name = registry.parse_query(platform, handle)
    except GaungError as exc:
        return render(
            request, "registry/search.html", {**context, "error": exc.render(_)}, status_code=400
        )
    return RedirectResponse(registry.entry_path(slug, name), status_code=303)


@router.get("/badge/{platform}/{handle}.svg")
def badge(
    platform: str, handle: str, lang: str = "", session: Session = Depends(get_session)
) -> Response:
    if platform not in PLATFORMS:
        raise NotFoundError(N_("We could not find what you were looking for."))
    name = handle_key(handle)
    entry = registry.lookup(session, platform, name)
    # One language per URL (default, or ?lang=en), so a cached badge never changes tongue.
    with i18n.use_locale(i18n.coerce_locale(lang) or get_settings().default_locale):
        svg = registry.badge_svg(entry, platform, name)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": BADGE_CACHE, "X-Content-Type-Options": "nosniff"},
    )


@router.get("/{platform}/{handle}")
def entry_page(
    request: Request, platform: str, handle: str, session: Session = Depends(get_session)
) -> Response:
    if platform not in PLATFORMS:
        raise NotFoundError(N_("We could not find what you were looking for."))
    name = handle_key(handle)
    entry = registry.lookup(session, platform, name)
    context = {
        "platforms": _platforms(),
        "platform": platform,
        "platform_name": display_name(platform),
        "handle": name,
        "entry": entry,
        "badge_path": registry.badge_path(platform, name),
        "entry_url": registry.entry_url(platform, name),
        "error": None,
    }
    return render(request, "registry/entry.html", context, status_code=200 if entry else 404)

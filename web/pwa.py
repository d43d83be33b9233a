"""The inbox as an installable web app: the manifest and the install guide.

- ``GET /manifest.webmanifest``: the Web App Manifest (``application/manifest+json``;
  public, as browsers fetch it without cookies): name, ``short_name`` "Gaung", the inbox
  as ``start_url`` and ``scope``, ``display: standalone``, theme colour and icons (192 and
  512 px, and a maskable 512 px one whose drawing keeps inside the safe circle). Every
  inbox page links it, with an apple-touch-icon and the iOS meta tags
  (``templates/pages/inbox/_app_head.html``, included by ``base.html``).
- ``GET /inbox/app``: how to install it on Android (Chrome's install prompt, offered by
  ``web/static/pwa.js`` when the browser fires ``beforeinstallprompt``; or *Tambahkan ke
  layar utama* from the menu) and on an iPhone (Safari, *Bagikan* → *Tambahkan ke Layar
  Utama*; iOS 16.4 or later, and needed before notifications work there), and where to
  turn notifications on (the inbox's message settings, ``web/static/push.js``).

The service worker (``web/static/sw.js``, served at ``/sw.js`` by web.inbox_push) keeps the
last assignment list seen for offline use; ``pwa.js`` registers it for ``/inbox`` and clears
that copy on sign-out and when another person signs in on the device.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gaung import i18n
from gaung.i18n import gettext as _
from gaung.settings import get_settings
from roster.models import Asn
from web.deps import current_asn, render

router = APIRouter(include_in_schema=False)

THEME_COLOUR = "#0b5cad"  # --accent in web/static/gaung.css
BACKGROUND_COLOUR = "#f6f7f9"  # --bg
START_URL = "/inbox"
ICONS = (
    ("/static/icons/icon-192.png", "192x192", "any"),
    ("/static/icons/icon-512.png", "512x512", "any"),
    ("/static/icons/maskable-512.png", "512x512", "maskable"),
)
APPLE_TOUCH_ICON = "/static/icons/apple-touch-icon.png"


def manifest(locale: str) -> dict[str, Any]:
    with i18n.use_locale(locale):
        return {
            "id": START_URL,
            "name": _("Gaung: my assignments"),
            "short_name": "Gaung",
            "description": _("Your repost assignments from your agency's public relations office."),
            "lang": locale,
            "start_url": START_URL,
            "scope": START_URL,
            "display": "standalone",
            "orientation": "portrait",
            "theme_color": THEME_COLOUR,
            "background_color": BACKGROUND_COLOUR,
            "icons": [
                {"src": src, "sizes": sizes, "type": "image/png", "purpose": purpose}
                for src, sizes, purpose in ICONS
            ],
        }


@router.get("/manifest.webmanifest")
def web_manifest(request: Request) -> Response:
    locale = i18n.negotiate(request.headers.get("accept-language"))
    return JSONResponse(
        manifest(locale),
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600", "Vary": "Accept-Language"},
    )


def session_tag(asn: Asn) -> str:
    """Who is signed in, as the offline copy's owner: a different tag on the same device
    (another person, or the same person after *sign out everywhere*) discards the copy.
    Opaque: an HMAC under the instance's secret, so it tells nobody the ASN's id."""
    key = get_settings().resolved_secret_key().encode()
    message = f"pwa:{asn.id}:{asn.login_epoch}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:24]


@router.get("/inbox/app")
def install_guide(request: Request, asn: Asn = Depends(current_asn)) -> Response:
    """How to put the inbox on the home screen, on Android and on an iPhone."""
    return render(request, "inbox/app.html", {})


def install(env: Any) -> None:
    """Give the pages' Jinja environment the ``pwa_session`` filter (_app_head.html)."""
    env.filters["pwa_session"] = session_tag

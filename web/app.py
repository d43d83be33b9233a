"""The FastAPI application: middleware, error pages, routers, static files.

Run with ``uvicorn web.app:create_app --factory``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from gaung import i18n
from gaung.db import get_session
from gaung.errors import ForbiddenError, GaungError, NotFoundError
from gaung.settings import PROJECT_ROOT, get_settings
from roster.models import Asn, Role, User
from web import (
    account,
    agency_console,
    api,
    audit_console,
    auth,
    calendar_console,
    channels_console,
    channels_status,
    console,
    dashboard,
    enrol,
    evidence,
    feedback,
    inbox,
    inbox_push,
    inbox_settings,
    leaderboard,
    messages_console,
    network_dashboard,
    networks_console,
    not_acted,
    not_acted_api,
    notify_api,
    offers_api,
    offers_console,
    privacy,
    pwa,
    registry,
    roster_console,
    sso,
    staff_console,
    telegram_webhook,
    tokens_console,
    tracking,
    two_factor,
    webhooks_console,
)
from web.auth import asn_home, safe_next
from web.deps import LoginRequired, optional_user, render, templates, verify_csrf
from web.guards import guard_input
from web.headers import SecurityHeadersMiddleware
from web.metrics import MetricsMiddleware
from web.metrics import router as metrics_router
from wiring import wire

STATIC_DIR = PROJECT_ROOT / "web" / "static"
MAX_BODY_BYTES = 10 * 1024 * 1024
BUSY_RETRY_SECONDS = 5
LANG_COOKIE = "lang"
ONE_YEAR = 365 * 24 * 3600


class LocaleMiddleware:
    """Pick the reader's language: session "locale" > cookie "lang" > Accept-Language > default.

    A plain ASGI middleware (not BaseHTTPMiddleware) so the context variable it sets is
    the one the endpoint and the templates see.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            i18n.set_locale(choose_locale(Request(scope)))
        await self.app(scope, receive, send)


def choose_locale(request: Request) -> str:
    session = request.scope.get("session") or {}
    for candidate in (session.get("locale"), request.cookies.get(LANG_COOKIE)):
        found = i18n.coerce_locale(candidate if isinstance(candidate, str) else None)
        if found:
            return found
    return i18n.negotiate(request.headers.get("accept-language"))


def is_api(request: Request) -> bool:
    return request.url.path == "/api" or request.url.path.startswith("/api/")


def error_page(request: Request, status: int, message: str) -> Response:
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    titles = {
        400: i18n.gettext("The request could not be processed"),
        401: i18n.gettext("Please sign in"),
        403: i18n.gettext("Access denied"),
        404: i18n.gettext("Page not found"),
        405: i18n.gettext("This action is not allowed here"),
        503: i18n.gettext("Please try again in a moment"),
    }
    title = titles.get(status, i18n.gettext("Something went wrong"))
    context = {"status": status, "title": title, "message": message}
    return render(request, "error.html", context, status_code=status)


async def on_login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if is_api(request):
        return JSONResponse({"detail": i18n.gettext("Please sign in.")}, status_code=401)
    if exc.kind == "asn":
        return RedirectResponse("/inbox/login", status_code=303)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def on_gaung_error(request: Request, exc: Exception) -> Response:
    """Routes re-render their own forms; this is the fallback for everything they don't catch."""
    assert isinstance(exc, GaungError)
    message = exc.render(i18n.gettext)
    if isinstance(exc, NotFoundError):
        return error_page(request, 404, message)
    if isinstance(exc, ForbiddenError):
        return error_page(request, 403, message)
    if is_api(request):
        return JSONResponse({"detail": message, "field": exc.field}, status_code=400)
    return error_page(request, 400, message)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    generic = {
        404: i18n.gettext("We could not find what you were looking for."),
        405: i18n.gettext("This action is not allowed here."),
    }
    # Starlette's own details ("Not Found") are English; ours are translated when raised.
    message = generic.get(exc.status_code) or str(exc.detail)
    response = error_page(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if is_api(request):
        return await request_validation_exception_handler(request, exc)
    return error_page(request, 400, i18n.gettext("Some fields are missing or invalid."))


async def on_database_busy(request: Request, exc: Exception) -> Response:
    """SQLite's one writer is busy (a long import): ask to come back instead of failing."""
    assert isinstance(exc, OperationalError)
    if "database is locked" not in str(exc.orig):
        return await on_server_error(request, exc)
    message = i18n.gettext("Gaung is busy saving other changes. Please try again in a moment.")
    response = error_page(request, 503, message)
    response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


async def on_server_error(request: Request, exc: Exception) -> Response:
    """The last resort: a page in the reader's language, not a trace.

    Starlette's ServerErrorMiddleware sends this, then re-raises so the server logs it.
    """
    message = i18n.gettext("Something went wrong on our side. Please try again later.")
    return error_page(request, 500, message)


def home(
    request: Request,
    user: User | None = Depends(optional_user),
    session: Session = Depends(get_session),
) -> RedirectResponse:
    """Send each reader to their own starting page."""
    asn_id = request.session.get("asn")
    asn = session.get(Asn, asn_id) if isinstance(asn_id, int) else None
    if user is not None:
        target = "/dashboard" if user.role == Role.SUPERVISOR else "/console"
    elif asn is not None:
        target = asn_home(asn)
    else:
        target = "/login"
    return RedirectResponse(target, status_code=303)


def healthz(session: Session = Depends(get_session)) -> JSONResponse:
    """Liveness and database reachability, for load balancers and systemd."""
    try:
        session.exec(select(1)).one()
    except SQLAlchemyError:
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def _lang_redirect(request: Request, code: str, target: str | None) -> RedirectResponse:
    locale = i18n.coerce_locale(code) or get_settings().default_locale
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(LANG_COOKIE, locale, max_age=ONE_YEAR, samesite="lax", httponly=True)
    return response


async def switch_language(request: Request, code: str, _: None = Depends(verify_csrf)) -> Response:
    """POST with CSRF: remember the language in the session and a cookie."""
    form = await request.form()
    locale = i18n.coerce_locale(code) or get_settings().default_locale
    request.session["locale"] = locale
    target = form.get("next")
    return _lang_redirect(request, locale, target if isinstance(target, str) else None)


def switch_language_link(request: Request, code: str, next: str | None = None) -> Response:
    """GET for plain links: only sets the cookie (a forged link can at worst change the
    language), and drops the session choice so the cookie takes effect."""
    request.session.pop("locale", None)
    return _lang_redirect(request, code, next)


class GaungApp(FastAPI):
    """FastAPI, with cached tracking redirects answered before any of its own layers.

    A click on a tracking link is the public's traffic (bench/redirect.py): FastAPI's
    telemetry, body-limit and error wrappers and our middleware would cost more than
    the redirect itself, so :class:`web.tracking.TrackingFastPath` sees every request
    first and passes on all but a known ``/r/{code}``.
    """

    def __init__(self, *, hsts: bool, **options: Any) -> None:
        super().__init__(**options)
        self.hsts = hsts
        self.fast_path = tracking.TrackingFastPath(super().__call__, hsts=hsts)

    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, so a 500 carries the same headers too.
        return SecurityHeadersMiddleware(super().build_middleware_stack(), hsts=self.hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.fast_path(scope, receive, send)


def create_app() -> FastAPI:
    wire()  # every uvicorn worker process builds its app here
    settings = get_settings()
    https = settings.base_url.startswith("https://")
    secure_cookies = https if settings.auth.secure_cookies is None else settings.auth.secure_cookies
    app = GaungApp(
        hsts=https,
        title="Gaung",
        description="Amplification scheduler for government public relations (Humas).",
        openapi_url="/api/openapi.json",
        # /api/docs is served by web.api from the schema: Swagger UI would load a CDN.
        docs_url=None,
        redoc_url=None,
        # Starts the click writer; on shutdown (SIGTERM included) writes what is pending.
        lifespan=tracking.lifespan,
        # Prometheus /metrics instead: the per-request OpenTelemetry probe costs more than
        # a cached tracking redirect.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # The largest body a page takes: an image (9 MiB) with its multipart framing.
        max_body_size=MAX_BODY_BYTES,
        dependencies=[Depends(guard_input)],
    )
    # Added first = innermost: the locale middleware reads the session set up around it.
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie="gaung_session",
        max_age=settings.auth.session_max_age_seconds,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_middleware(MetricsMiddleware)  # times everything below it
    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(GaungError, on_gaung_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(OperationalError, on_database_busy)
    app.add_exception_handler(Exception, on_server_error)

    app.add_api_route("/", home, methods=["GET"], include_in_schema=False)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/lang/{code}", switch_language, methods=["POST"], include_in_schema=False)
    app.add_api_route(
        "/lang/{code}", switch_language_link, methods=["GET"], include_in_schema=False
    )
    # auth before inbox: /inbox/login must not be taken for an assignment id.
    # Enrolment first: inbox's /inbox/{assignment_id} must not claim /inbox/accounts.
    # Leaderboard: /inbox/leaderboard before inbox's /inbox/{assignment_id} too.
    for extra in (enrol, privacy, registry, roster_console, leaderboard):
        app.include_router(extra.router)
    # The installable inbox: /manifest.webmanifest, /inbox/app (before /inbox/{assignment_id}).
    app.include_router(pwa.router)
    pwa.install(templates.env)
    # Delivery: /inbox/settings before inbox's /inbox/{assignment_id}.
    for delivery in (inbox_settings, inbox_push, feedback, messages_console, telegram_webhook):
        app.include_router(delivery.router)
    app.include_router(sso.router)  # single sign-on: /login/sso/…, /console/sso
    app.include_router(tokens_console.router)  # /console/tokens: API tokens
    for module in (auth, console, api, inbox, tracking, dashboard, channels_console):
        app.include_router(module.router)
    for measure in (evidence, channels_status):  # campaign evidence, channel status panel
        app.include_router(measure.router)
    # Who has not acted yet, and reminding them: the page and the JSON API.
    for waiting in (not_acted, not_acted_api):
        app.include_router(waiting.router)
    app.include_router(notify_api.router)  # time to notify: estimate, measured times
    # Staff administration: second sign-in step, own account, staff, agency, audit log.
    for admin in (two_factor, account, staff_console, agency_console, audit_console):
        app.include_router(admin.router)
    app.include_router(webhooks_console.router)  # /console/webhooks: outbound webhooks
    app.include_router(calendar_console.router)  # /console/calendar, campaigns' repeat rules
    # Cross-agency campaigns: networks (operator), offers (members), network reach, JSON API.
    for network in (networks_console, offers_console, network_dashboard, offers_api):
        app.include_router(network.router)
    offers_console.install(templates.env)  # the menu's open-offer count
    networks_console.install(templates.env)  # the menu's "Agency networks" for operators
    network_dashboard.install(templates.env)  # the dashboard's link to the network reach
    app.include_router(metrics_router)  # /metrics (Prometheus)

    settings.media_dir.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount("/media", StaticFiles(directory=settings.media_dir), name="media")
    return app

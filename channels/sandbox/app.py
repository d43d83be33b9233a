"""The sandbox as one ASGI app: X, Graph (Facebook, Instagram, WhatsApp), Telegram, its page."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from channels.sandbox.graph_api import GraphApi
from channels.sandbox.messengers_api import MessengersApi
from channels.sandbox.page import SandboxPage
from channels.sandbox.push import PUSH, PushService
from channels.sandbox.state import World
from channels.sandbox.x_api import XApi
from channels.sandbox.x_shapes import problem


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(problem(404, "Not Found", f"The sandbox has no {request.url.path}"), 404)


def create_app(world: World) -> Starlette:
    # Order matters: fixed paths first, Graph's catch-all "/{version}/{node}" last.
    routes = [
        *SandboxPage(world).routes(),
        *XApi(world).routes(),
        *MessengersApi(world).routes(),
        *PushService(PUSH).routes(),  # Web Push (RFC 8030): /push/...
        *GraphApi(world).routes(),
    ]
    return Starlette(routes=routes, exception_handlers={404: _not_found})

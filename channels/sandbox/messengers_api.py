"""Telegram Bot API and WhatsApp Cloud API sends, accepted and kept for the sandbox page."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.sandbox.state import World, stable_int

BOT = {"id": 1, "is_bot": True, "first_name": "Gaung Sandbox", "username": "gaung_sandbox_bot"}


class MessengersApi:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            Route("/bot{token}/{method}", self.telegram, methods=["GET", "POST"]),
            Route("/{version}/{phone_id}/messages", self.whatsapp, methods=["POST"]),
        ]

    async def _body(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            return dict(request.query_params)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def telegram(self, request: Request) -> Response:
        method = request.path_params["method"]
        body = await self._body(request)
        if method == "sendMessage":
            chat, text = str(body.get("chat_id", "")), str(body.get("text", ""))
            if not chat or not text:
                return _telegram_error(400, "Bad Request: message text is empty or no chat_id")
            if not self._knows("telegram", chat):
                # As Telegram: a bot can only write to chats that started it.
                return _telegram_error(400, "Bad Request: chat not found")
            sent = self.world.record_message("telegram", chat, text)
            result: Any = {
                "message_id": len(self.world.messages),
                "from": BOT,
                "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat,
                         "type": "private"},
                "date": int(sent.at.timestamp()),
                "text": text,
            }  # fmt: skip
        elif method == "getMe":
            result = BOT
        elif method == "getUpdates":
            result = []  # nobody writes to the sandbox bot
        elif method in ("setWebhook", "deleteWebhook"):
            result = True
        elif method == "getWebhookInfo":
            result = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        else:
            return _telegram_error(404, "Not Found")
        return JSONResponse({"ok": True, "result": result})

    def _knows(self, channel: str, address: str) -> bool:
        """Following a database, only its linked chats exist; standalone, any chat does."""
        if self.world.source is None or self.world.contact(channel, address):
            return True
        self.world.refresh(miss=True)
        return self.world.contact(channel, address) is not None

    async def whatsapp(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            error = {"message": "An access token is required.", "type": "OAuthException",
                     "code": 104}  # fmt: skip
            return JSONResponse({"error": error}, 401)
        body = await self._body(request)
        to = str(body.get("to", ""))
        template = body.get("template") or {}
        text = str(template.get("name", "")) if isinstance(template, dict) else ""
        if not to or not text:
            error = {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}
            return JSONResponse({"error": error}, 400)
        self.world.record_message("whatsapp", to, f"template {text}: {_params(template)}")
        message_id = f"wamid.SANDBOX{stable_int('wamid', to, len(self.world.messages)):020d}"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": message_id}],
            }
        )


def _params(template: dict[str, Any]) -> str:
    values = [
        str(parameter.get("text", ""))
        for component in template.get("components") or []
        if isinstance(component, dict)
        for parameter in component.get("parameters") or []
        if isinstance(parameter, dict)
    ]
    return " | ".join(values)


def _telegram_error(code: int, description: str) -> Response:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, code)

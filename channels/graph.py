"""A thin Meta Graph API client over httpx.

Why not facebook-sdk: its last release (2018) hard-codes Graph versions <= 3.1, all long
retired. This client pins the version from settings.toml, adds ``appsecret_proof`` to every
call, maps Graph's documented error object to a few exception classes and honours the usage
headers so a near-limit app stops calling before Meta blocks it.

The access token travels in the ``Authorization`` header, never in the URL, so it cannot leak
through httpx's request logging, exception text or ``paging.next`` links.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import httpx

from channels import http
from channels.platforms import AuthError, ChannelError, PostGone, RateLimited, Unverifiable

# Graph's rate limits use a rolling one-hour window; without an estimate, wait a slice of it.
DEFAULT_RETRY = timedelta(minutes=5)
USAGE_LIMIT_PERCENT = 95
USAGE_HEADERS = ("x-app-usage", "x-page-usage", "x-business-use-case-usage")
THROTTLE_CODES = frozenset({4, 17, 32, 613}) | frozenset(range(80001, 80015))
PERMISSION_CODES = frozenset({10}) | frozenset(range(200, 300))
TOKEN_CODES = frozenset({102, 190})
VERSION_RETIRED_CODE = 2635
NOT_FOUND_SUBCODE = 33  # with code 100: "object does not exist or was deleted"
ALIAS_NOT_FOUND_CODE = 803  # "Some of the aliases you requested do not exist"
MAX_PAGES = 1000  # a server that keeps returning ``next`` must not loop us forever

Params = Mapping[str, str | int]


class GraphError(Exception):
    """A Graph call failed. The text is for operators and logs; it never holds the token."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.status = status


class GraphTokenError(GraphError):
    """The access token is expired, revoked or invalid (code 190)."""


class GraphThrottled(GraphError):  # noqa: N818 - names Meta's condition
    """A rate limit was hit or is about to be; try again at ``reset_at`` (aware UTC)."""

    def __init__(self, message: str, *, reset_at: datetime, **details: Any) -> None:
        super().__init__(message, **details)
        self.reset_at = reset_at


class GraphVersionRetired(GraphError):  # noqa: N818 - names Meta's condition
    """The Graph version in settings is no longer served (code 2635)."""


class GraphPermissionError(GraphError):
    """The token lacks a permission or the object is not visible to it (10, 200-299)."""


class GraphNotFound(GraphError):  # noqa: N818 - names Meta's condition
    """The object does not exist or was deleted (100 with subcode 33, or 803)."""


def appsecret_proof(app_secret: str, access_token: str) -> str:
    """HMAC-SHA256 of the token keyed by the app secret, hex: Meta's proof of app identity."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GraphClient:
    """Synchronous Graph client; use as a context manager or call ``close()``.

    ``calls`` counts HTTP requests actually sent (a pre-emptive throttle sends none).
    """

    def __init__(
        self,
        version: str,
        access_token: str,
        app_secret: str = "",
        base_url: str = "https://graph.facebook.com",
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.version = version.strip("/")
        self.base_url = base_url.rstrip("/")
        self.calls = 0
        self._token = access_token
        self._app_secret = app_secret
        self._clock = clock
        self._blocked_until: datetime | None = None
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:  # the default would be harmless, but be explicit: no token
        return f"GraphClient(version={self.version!r}, base_url={self.base_url!r})"

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET ``/{version}/{path}`` and return the decoded JSON object."""
        return self._request(f"/{self.version}/{path.lstrip('/')}", dict(params or {}))

    def paged(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list edge, following ``paging`` until there is no ``next`` page."""
        url_path = f"/{self.version}/{path.lstrip('/')}"
        query: dict[str, str | int] = dict(params or {})
        for _ in range(MAX_PAGES):
            page = self._request(url_path, query)
            yield from page.get("data", [])
            paging = page.get("paging") or {}
            if not paging.get("next"):  # Graph omits ``next`` on the last page
                return
            after = (paging.get("cursors") or {}).get("after")
            if after:
                query = {**query, "after": after}
            else:
                url_path, query = self._split_next(paging["next"])

    def _split_next(self, next_url: str) -> tuple[str, dict[str, str | int]]:
        """Path and query of a ``paging.next`` URL; refuse other hosts (the token header)."""
        url = httpx.URL(next_url)
        if url.host != httpx.URL(self.base_url).host:
            raise GraphError(f"Graph paging link points to another host: {url.host}")
        query: dict[str, str | int] = dict(url.params.items())
        query.pop("access_token", None)
        query.pop("appsecret_proof", None)
        return url.path, query

    def _request(self, url_path: str, params: dict[str, str | int]) -> dict[str, Any]:
        self._check_blocked()
        query = dict(params)
        if self._app_secret:
            query["appsecret_proof"] = appsecret_proof(self._app_secret, self._token)
        headers = {"Authorization": f"Bearer {self._token}"}
        self.calls += 1
        try:
            response = self._http().get(url_path, params=query, headers=headers)
        except httpx.HTTPError as exc:
            # httpx messages may quote the URL; keep only the class and the path.
            raise GraphError(f"Graph request to {url_path} failed: {type(exc).__name__}") from None
        self._note_usage(response.headers)
        body = self._decode(response, url_path)
        if "error" in body or response.is_error:
            raise self._error(body.get("error") or {}, response)
        return body

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = http.client(self.base_url)
        return self._client

    def _decode(self, response: httpx.Response, url_path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphError(
                f"Graph returned a non-JSON-object answer for {url_path}",
                status=response.status_code,
            )
        return body

    def _check_blocked(self) -> None:
        if self._blocked_until is None:
            return
        if self._clock() >= self._blocked_until:
            self._blocked_until = None
            return
        raise GraphThrottled(
            f"Graph usage reached {USAGE_LIMIT_PERCENT}% of the limit; not calling again yet",
            reset_at=self._blocked_until,
        )

    def _note_usage(self, headers: httpx.Headers) -> None:
        """Block further calls when any usage percentage reached the limit."""
        peak, wait = usage_from_headers(headers)
        if peak >= USAGE_LIMIT_PERCENT:
            self._blocked_until = self._clock() + (wait or DEFAULT_RETRY)

    def _error(self, error: Mapping[str, Any], response: httpx.Response) -> GraphError:
        code = _int_or_none(error.get("code"))
        subcode = _int_or_none(error.get("error_subcode"))
        details: dict[str, Any] = {
            "code": code,
            "subcode": subcode,
            "error_type": error.get("type"),
            "fbtrace_id": error.get("fbtrace_id"),
            "status": response.status_code,
        }
        text = self._redact(str(error.get("message") or f"HTTP {response.status_code}"))
        message = f"Graph error {code}/{subcode}: {text}"
        return _classify(code, subcode, message, details, self._clock(), response.headers)

    def _redact(self, text: str) -> str:
        for secret in (self._token, self._app_secret):
            if secret:
                text = text.replace(secret, "[redacted]")
        return text


def _classify(
    code: int | None,
    subcode: int | None,
    message: str,
    details: dict[str, Any],
    now: datetime,
    headers: httpx.Headers,
) -> GraphError:
    if code in TOKEN_CODES:
        return GraphTokenError(message, **details)
    if code in THROTTLE_CODES:
        _, wait = usage_from_headers(headers)
        return GraphThrottled(message, reset_at=now + (wait or DEFAULT_RETRY), **details)
    if code == VERSION_RETIRED_CODE:
        hint = (
            "; this Graph API version is retired: raise graph.version in settings.toml "
            "(or GAUNG_GRAPH__VERSION) to a current version"
        )
        return GraphVersionRetired(message + hint, **details)
    if code in PERMISSION_CODES:
        return GraphPermissionError(message, **details)
    if (code == 100 and subcode == NOT_FOUND_SUBCODE) or code == ALIAS_NOT_FOUND_CODE:
        return GraphNotFound(message, **details)
    return GraphError(message, **details)


def usage_from_headers(headers: Mapping[str, str]) -> tuple[int, timedelta | None]:
    """(highest usage percentage, longest estimated time to regain access) in the headers.

    X-App-Usage / X-Page-Usage: ``{"call_count": 28, "total_time": 25, "total_cputime": 25}``.
    X-Business-Use-Case-Usage: ``{"<object id>": [{"type": "pages", "call_count": 100, ...,
    "estimated_time_to_regain_access": 19}]}`` with the estimate in minutes.
    """
    peak = 0
    wait_minutes = 0
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue  # a malformed header must not break a successful call
        for entry in _usage_entries(value):
            peak = max(peak, *(_int_or_zero(entry.get(key)) for key in _PERCENT_KEYS))
            regain = _int_or_zero(entry.get("estimated_time_to_regain_access"))
            wait_minutes = max(wait_minutes, regain)
    return peak, (timedelta(minutes=wait_minutes) if wait_minutes else None)


_PERCENT_KEYS = ("call_count", "total_time", "total_cputime")


def _usage_entries(value: Any) -> Iterator[Mapping[str, Any]]:
    """The flat app/page usage object, or every entry of a business-use-case object."""
    if not isinstance(value, dict):
        return
    if any(key in value for key in _PERCENT_KEYS):
        yield value
        return
    for entries in value.values():
        if isinstance(entries, list):
            yield from (entry for entry in entries if isinstance(entry, dict))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _int_or_zero(value: Any) -> int:
    return _int_or_none(value) or 0


def to_channel_error(platform: str, exc: GraphError) -> ChannelError:
    """The platform-neutral error a caller of a SocialPlatform expects for a Graph failure."""
    detail = str(exc)
    if isinstance(exc, GraphTokenError | GraphVersionRetired):
        # Both need an operator to change settings; the detail says which.
        return AuthError(platform, detail)
    if isinstance(exc, GraphThrottled):
        return RateLimited(platform, exc.reset_at, detail)
    if isinstance(exc, GraphNotFound):
        return PostGone(platform, detail)
    if isinstance(exc, GraphPermissionError):
        return Unverifiable(platform, detail)
    return ChannelError(platform, detail)

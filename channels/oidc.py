"""OpenID Connect relying party: discovery, the authorization-code request, the ID token.

Authorization code flow with PKCE (S256), ``state`` and ``nonce``. The protocol pieces
are Authlib's: the authorization URL (``prepare_grant_uri``), the PKCE challenge, the
token request body and client authentication (``ClientAuth``), and the ID token check
(``OpenIDMixin.parse_id_token``: signature against the provider's JWKS, with a fresh
fetch when the key id is unknown, e.g. after Keycloak rotates its keys; then ``iss``,
``aud``, ``exp``, ``iat``, ``nonce``, ``azp`` and ``at_hash``).

Every HTTP call goes through ``channels.http.client()``. Authlib's own HTTP clients are
not used: ``authlib.integrations.httpx_client.OAuth2Client`` *is* an HTTP client (it
subclasses the client class rather than taking one, so it cannot be handed ours), and
since Authlib 1.7 it subclasses ``httpx2`` when that is installed, whose transports are
not httpx's, so ``channels.http.set_transport`` could not reach it either.

Discovery: ``<issuer>/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0
section 4; Keycloak serves it under the realm URL), and the document must name exactly
the configured issuer (section 4.3). Documents and key sets are cached in the process
for :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client.sync_openid import OpenIDMixin
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.errors import JoseError

from channels import http

SCOPE = "openid email profile"
CACHE_SECONDS = 600
# Clock skew allowed on exp / iat between Gaung and the provider.
LEEWAY_SECONDS = 60
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


class OidcError(Exception):
    """The provider could not be used. ``kind``: ``unreachable`` (network, 5xx),
    ``misconfigured`` (discovery), ``rejected`` (the token endpoint said no) or
    ``invalid_token`` (the ID token failed a check). The text never holds a secret."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


@dataclass(frozen=True)
class Pending:
    """What the callback needs to finish a sign-in; kept in the signed session."""

    state: str
    nonce: str
    code_verifier: str


def _get_json(url: str) -> dict[str, Any]:
    try:
        with http.client() as client:
            response = client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise OidcError("unreachable", f"GET {url}: {type(exc).__name__}") from exc
    if response.status_code >= 500:
        raise OidcError("unreachable", f"GET {url}: HTTP {response.status_code}")
    if response.status_code != 200:
        raise OidcError("misconfigured", f"GET {url}: HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise OidcError("misconfigured", f"GET {url}: not JSON") from exc
    if not isinstance(body, dict):
        raise OidcError("misconfigured", f"GET {url}: not a JSON object")
    return body


def _cached(url: str, *, force: bool = False) -> dict[str, Any]:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(url)
    if hit is not None and not force and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    body = _get_json(url)
    with _lock:
        _cache[url] = (now, body)
    return body


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata, checked: the same issuer, the endpoints, PKCE S256."""
    metadata = _cached(discovery_url(issuer))
    if metadata.get("issuer") != issuer:
        raise OidcError(
            "misconfigured",
            f"the provider names itself {str(metadata.get('issuer'))[:200]!r}, not {issuer!r}",
        )
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(key), str):
            raise OidcError("misconfigured", f"discovery has no {key}")
    methods = metadata.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise OidcError("misconfigured", "the provider does not offer PKCE S256")
    return metadata


def authorization_url(
    issuer: str, client_id: str, redirect_uri: str, *, locale: str | None = None
) -> tuple[str, Pending]:
    """Where to send the browser, and the secrets the callback checks against."""
    metadata = discover(issuer)
    pending = Pending(
        state=generate_token(32), nonce=generate_token(32), code_verifier=generate_token(64)
    )
    extra = {"ui_locales": locale} if locale else {}
    url = prepare_grant_uri(
        metadata["authorization_endpoint"],
        client_id,
        "code",
        redirect_uri=redirect_uri,
        scope=SCOPE,
        state=pending.state,
        nonce=pending.nonce,
        code_challenge=create_s256_code_challenge(pending.code_verifier),
        code_challenge_method="S256",
        **extra,
    )
    return str(url), pending


def _auth_method(metadata: dict[str, Any], secret: str | None) -> str:
    """client_secret_basic where allowed (Keycloak's default), else _post; none without one."""
    if not secret:
        return "none"
    offered = metadata.get("token_endpoint_auth_methods_supported")
    if (
        isinstance(offered, list)
        and "client_secret_basic" not in offered
        and "client_secret_post" in offered
    ):
        return "client_secret_post"
    return "client_secret_basic"


def _exchange(
    metadata: dict[str, Any],
    client_id: str,
    secret: str | None,
    redirect_uri: str,
    code: str,
    code_verifier: str,
) -> dict[str, Any]:
    url = metadata["token_endpoint"]
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    auth = ClientAuth(client_id, secret or "", _auth_method(metadata, secret))
    url, headers, body = auth.prepare("POST", url, headers, body)
    try:
        with http.client() as client:
            response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise OidcError("unreachable", f"token endpoint: {type(exc).__name__}") from exc
    try:
        token = response.json()
    except ValueError:
        token = None
    if response.status_code >= 500:
        raise OidcError("unreachable", f"token endpoint: HTTP {response.status_code}")
    if response.status_code != 200 or not isinstance(token, dict):
        error = token.get("error") if isinstance(token, dict) else None
        raise OidcError("rejected", f"token endpoint: HTTP {response.status_code} {error}")
    if not isinstance(token.get("id_token"), str):
        raise OidcError("invalid_token", "the token response has no id_token")
    return token


class _IdTokenCheck(OpenIDMixin):  # type: ignore[misc]  # Authlib is untyped
    """Authlib's ID token validation, with metadata and keys fetched through our client."""

    def __init__(self, issuer: str, client_id: str, metadata: dict[str, Any]) -> None:
        self.client_id = client_id
        self.server_metadata = {**metadata, "issuer": issuer}

    def load_server_metadata(self) -> dict[str, Any]:
        return self.server_metadata

    def fetch_jwk_set(self, force: bool = False) -> dict[str, Any]:
        return _cached(self.server_metadata["jwks_uri"], force=force)


def finish(
    issuer: str,
    client_id: str,
    secret: str | None,
    redirect_uri: str,
    *,
    code: str,
    pending: Pending,
) -> dict[str, Any]:
    """Redeem the code (with the PKCE verifier) and return the validated ID token's claims."""
    metadata = discover(issuer)
    token = _exchange(metadata, client_id, secret, redirect_uri, code, pending.code_verifier)
    return validate_id_token(issuer, client_id, metadata, token, pending.nonce)


def validate_id_token(
    issuer: str, client_id: str, metadata: dict[str, Any], token: dict[str, Any], nonce: str
) -> dict[str, Any]:
    """The claims of ``token["id_token"]`` once Authlib has checked its signature (the
    provider's JWKS), ``iss``, ``aud``, ``exp``/``iat`` (with :data:`LEEWAY_SECONDS`),
    ``nonce``, ``azp`` and ``at_hash``; OidcError("invalid_token") otherwise."""
    check = _IdTokenCheck(issuer, client_id, metadata)
    # Authlib checks aud only through azp unless told: name the audience and the issuer.
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "exp": {"essential": True},
    }
    try:
        claims = check.parse_id_token(token, nonce, claims_options=options, leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        raise OidcError("invalid_token", f"{type(exc).__name__}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:  # malformed key sets and headers
        raise OidcError("invalid_token", f"{type(exc).__name__}") from exc
    if claims is None:
        raise OidcError("invalid_token", "no id_token")
    return dict(claims)

"""A real OpenID provider for the SSO tests: oidc-provider-mock on 127.0.0.1, in a thread.

The mock names itself by ``request.host_url``, i.e. always ``http://HOST:PORT``. Keycloak's
issuer is the realm URL, ``http://HOST:PORT/realms/<realm>``: to get that shape the mock's
Flask app is mounted under the realm path (werkzeug's DispatcherMiddleware sets
SCRIPT_NAME) and given a request class whose ``host_url`` includes that path, so its
discovery document, endpoints and the ``iss`` of its ID tokens all carry the realm, as
Keycloak's do. Mounting one app under two realms gives two issuers sharing one key.

Every request is recorded (method, full path, Authorization header, body) so a test can
check what Gaung sent, e.g. the PKCE verifier, which the mock itself does not verify.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import flask
import httpx
import oidc_provider_mock
import werkzeug.serving
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class _RealmRequest(flask.Request):
    """``host_url`` with the mount path, so the mock's issuer is the realm URL."""

    @property
    def host_url(self) -> str:
        return self.root_url


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    authorization: str
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class _Recorder:
    app: WSGIApplication
    requests: list[Recorded] = field(default_factory=list)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        self.requests.append(Recorded(environ["REQUEST_METHOD"], path, auth, body))
        return self.app(environ, start_response)


@dataclass(frozen=True)
class Provider:
    base: str  # http://127.0.0.1:PORT
    issuer: str  # base + realm path, if any
    requests: list[Recorded]

    def at(self, realm_path: str) -> str:
        return self.base + realm_path

    def set_user(self, sub: str, claims: dict[str, Any], issuer: str | None = None) -> None:
        """The claims the provider returns for ``sub`` (it adds ``sub`` itself)."""
        response = httpx.put(f"{issuer or self.issuer}/users/{quote(sub, safe='')}", json=claims)
        assert response.status_code == 204, response.text

    def authorize(self, authorization_url: str, sub: str) -> str:
        """The user signs in as ``sub`` and consents; returns the redirect back to Gaung."""
        response = httpx.post(authorization_url, data={"sub": sub})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def tokens(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/oauth2/token")]


@contextmanager
def run_provider(
    *, realms: tuple[str, ...] = (), token_max_age: timedelta = timedelta(hours=1)
) -> Iterator[Provider]:
    """Start the provider; with ``realms`` (e.g. ``("/realms/bkn",)``) the same provider
    answers under each path, with the path in its issuer, and nothing at the root."""
    mock = oidc_provider_mock.app(require_nonce=True, access_token_max_age=token_max_age)
    wsgi: WSGIApplication = mock
    if realms:
        mock.request_class = _RealmRequest
        wsgi = DispatcherMiddleware(NotFound(), dict.fromkeys(realms, mock))
    recorder = _Recorder(wsgi)
    server = werkzeug.serving.make_server("127.0.0.1", 0, recorder, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield Provider(base, base + (realms[0] if realms else ""), recorder.requests)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()

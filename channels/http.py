"""The one factory for outbound HTTP clients.

Every channel gets its httpx client here, so tests swap the transport in one place
(respx patches httpx globally; ``set_transport`` covers a local fake server).
"""

from __future__ import annotations

import ssl
from functools import lru_cache

import certifi
import httpx

USER_AGENT = "Gaung/0.1"
_transport: list[httpx.BaseTransport] = []


@lru_cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one loads the CA bundle (~50 ms)."""
    return ssl.create_default_context(cafile=certifi.where())


def set_transport(transport: httpx.BaseTransport | None) -> None:
    """Route every client made from now on through ``transport`` (None: the network)."""
    _transport.clear()
    if transport is not None:
        _transport.append(transport)


def client(base_url: str = "", *, timeout: float = 15.0) -> httpx.Client:
    """A synchronous client with sane timeouts; close it (use it as a context manager)."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=5.0),
        headers={"User-Agent": USER_AGENT},
        transport=_transport[-1] if _transport else None,
        follow_redirects=False,
        verify=_tls_context(),
    )

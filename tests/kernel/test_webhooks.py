"""The webhook vocabulary: endpoint addresses, event choices, ids and secrets."""

from __future__ import annotations

import base64

import pytest

from gaung.errors import GaungError
from gaung.settings import get_settings
from kernel import webhooks
from kernel.webhooks import EventType


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.go.id/in", "http://127.0.0.1:9000/hook", "http://localhost/x"],
)
def test_accepted_addresses(url: str) -> None:
    assert webhooks.check_url(f"  {url} ") == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://hooks.example.go.id/in",  # plain http off this machine
        "ftp://127.0.0.1/x",
        "https://user:pw@hooks.example.go.id/",
        "https://hooks.example.go.id/#frag",
        "https:///nohost",
        "https://hooks.example.go.id:99999/",
        "https://hooks.example.go.id/a b",
        "https://example.go.id/" + "a" * 500,
    ],
)
def test_refused_addresses(url: str) -> None:
    with pytest.raises(GaungError) as caught:
        webhooks.check_url(url)
    assert caught.value.field == "url"


def test_plain_http_to_loopback_only_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "base_url", "https://gaung.kominfo.go.id")
    with pytest.raises(GaungError):
        webhooks.check_url("http://127.0.0.1:9000/hook")


def test_events_must_be_known_and_chosen() -> None:
    assert webhooks.check_events(["post.approved", "feedback.received", "post.approved"]) == (
        "feedback.received,post.approved"
    )
    for bad in ([], ["post.deleted"], ["webhook.test"]):
        with pytest.raises(GaungError):
            webhooks.check_events(bad)
    assert len(set(EventType)) == 7


def test_ids_sort_by_time_and_secrets_have_the_spec_form() -> None:
    first, second = webhooks.new_event_id(), webhooks.new_event_id()
    assert first.startswith("msg_")
    assert len(first) == 30
    assert first[:14] <= second[:14]
    secret = webhooks.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32

"""The Graph client against respx-faked responses shaped like Meta's documented ones."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from channels.graph import (
    DEFAULT_RETRY,
    GraphClient,
    GraphError,
    GraphNotFound,
    GraphPermissionError,
    GraphThrottled,
    GraphTokenError,
    GraphVersionRetired,
    appsecret_proof,
    usage_from_headers,
)

BASE = "https://graph.test"
TOKEN = "EAAB-secret-page-token-123"
SECRET = "app-secret-456"
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def graph(clock: Clock) -> Iterator[GraphClient]:
    with GraphClient("v24.0", TOKEN, SECRET, BASE, clock=clock) as client:
        yield client


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def error_body(code: int, subcode: int | None = None, message: str = "boom") -> dict[str, object]:
    error: dict[str, object] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def test_get_returns_the_object_and_counts_the_call(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/123").respond(json={"id": "123", "name": "Humas"})

    assert graph.get("123", {"fields": "id,name"}) == {"id": "123", "name": "Humas"}
    assert graph.calls == 1
    assert mock.calls.last.request.url.params["fields"] == "id,name"


def test_token_travels_in_header_and_proof_is_hmac_of_token(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/me").respond(json={"id": "1"})

    graph.get("me")

    request = mock.calls.last.request
    expected = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    assert request.url.params["appsecret_proof"] == expected
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(request.url)


def test_no_proof_without_app_secret(mock: respx.MockRouter) -> None:
    mock.get("/v24.0/me").respond(json={"id": "1"})

    with GraphClient("v24.0", TOKEN, "", BASE) as client:
        client.get("me")

    assert "appsecret_proof" not in mock.calls.last.request.url.params


def test_paged_follows_cursors_until_no_next(graph: GraphClient, mock: respx.MockRouter) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("after") == "CURSOR2":
            return httpx.Response(200, json={"data": [{"id": "3"}], "paging": {"cursors": {}}})
        return httpx.Response(
            200,
            json={
                "data": [{"id": "1"}, {"id": "2"}],
                "paging": {
                    "cursors": {"before": "CURSOR1", "after": "CURSOR2"},
                    "next": f"{BASE}/v24.0/123/feed?after=CURSOR2&limit=2",
                },
            },
        )

    mock.get("/v24.0/123/feed").mock(side_effect=page)

    items = list(graph.paged("123/feed", {"limit": 2}))

    assert [item["id"] for item in items] == ["1", "2", "3"]
    assert graph.calls == 2
    assert mock.calls.last.request.url.params["limit"] == "2"


def test_paged_follows_a_next_link_without_cursors(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    def page(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("offset") == "2":
            return httpx.Response(200, json={"data": [{"id": "3"}]})
        next_link = f"{BASE}/v24.0/123/feed?offset=2&access_token=LEAKED"
        return httpx.Response(200, json={"data": [{"id": "1"}], "paging": {"next": next_link}})

    mock.get("/v24.0/123/feed").mock(side_effect=page)

    assert [item["id"] for item in graph.paged("123/feed")] == ["1", "3"]
    assert "access_token" not in mock.calls.last.request.url.params


def test_paged_refuses_a_next_link_to_another_host(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/123/feed").respond(
        json={"data": [{"id": "1"}], "paging": {"next": "https://evil.test/v24.0/x?offset=1"}}
    )

    with pytest.raises(GraphError, match="another host"):
        list(graph.paged("123/feed"))


def test_expired_token_raises_token_error(graph: GraphClient, mock: respx.MockRouter) -> None:
    mock.get("/v24.0/me").respond(
        400, json=error_body(190, 463, "Error validating access token: Session has expired")
    )

    with pytest.raises(GraphTokenError) as caught:
        graph.get("me")

    assert caught.value.code == 190
    assert caught.value.subcode == 463
    assert caught.value.fbtrace_id == "AbCdEf"


def test_retired_version_tells_operator_to_raise_the_setting(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/me").respond(
        400, json=error_body(2635, message="You are calling a deprecated version of the API")
    )

    with pytest.raises(GraphVersionRetired, match=r"graph\.version in settings\.toml"):
        graph.get("me")


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 80004, 80014])
def test_throttling_codes_raise_throttled_with_reset_from_usage_header(
    graph: GraphClient, mock: respx.MockRouter, code: int
) -> None:
    usage = {
        "1234": [
            {
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 19,
            }
        ]
    }
    mock.get("/v24.0/me").respond(
        400,
        json=error_body(code, message="Application request limit reached"),
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )

    with pytest.raises(GraphThrottled) as caught:
        graph.get("me")

    assert caught.value.reset_at == NOW + timedelta(minutes=19)


def test_throttled_without_estimate_waits_the_default(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/me").respond(400, json=error_body(4))

    with pytest.raises(GraphThrottled) as caught:
        graph.get("me")

    assert caught.value.reset_at == NOW + DEFAULT_RETRY


@pytest.mark.parametrize("code", [10, 200, 299])
def test_permission_codes_raise_permission_error(
    graph: GraphClient, mock: respx.MockRouter, code: int
) -> None:
    mock.get("/v24.0/me").respond(403, json=error_body(code))

    with pytest.raises(GraphPermissionError):
        graph.get("me")


def test_missing_object_raises_not_found(graph: GraphClient, mock: respx.MockRouter) -> None:
    mock.get("/v24.0/1_2").respond(
        400, json=error_body(100, 33, "Object with ID '1_2' does not exist")
    )

    with pytest.raises(GraphNotFound):
        graph.get("1_2")


def test_other_code_100_is_a_plain_graph_error(graph: GraphClient, mock: respx.MockRouter) -> None:
    mock.get("/v24.0/1/insights").respond(
        400, json=error_body(100, message="(#100) The value must be a valid insights metric")
    )

    with pytest.raises(GraphError) as caught:
        graph.get("1/insights", {"metric": "post_impressions"})

    assert type(caught.value) is GraphError
    assert caught.value.code == 100


def test_app_usage_at_95_percent_blocks_the_next_call_until_reset(
    graph: GraphClient, mock: respx.MockRouter, clock: Clock
) -> None:
    usage = {"call_count": 95, "total_time": 10, "total_cputime": 10}
    route = mock.get("/v24.0/me").respond(
        json={"id": "1"}, headers={"X-App-Usage": json.dumps(usage)}
    )

    graph.get("me")
    with pytest.raises(GraphThrottled) as caught:
        graph.get("me")

    assert route.call_count == 1
    assert graph.calls == 1
    assert caught.value.reset_at == NOW + DEFAULT_RETRY
    clock.now = caught.value.reset_at
    graph.get("me")
    assert route.call_count == 2


def test_usage_below_limit_does_not_block(graph: GraphClient, mock: respx.MockRouter) -> None:
    usage = {"call_count": 94, "total_time": 50, "total_cputime": 3}
    route = mock.get("/v24.0/me").respond(
        json={"id": "1"}, headers={"X-App-Usage": json.dumps(usage)}
    )

    graph.get("me")
    graph.get("me")

    assert route.call_count == 2


def test_token_and_secret_never_appear_in_error_text(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/me").respond(
        400, json=error_body(190, 467, f"Invalid OAuth access token {TOKEN} (secret {SECRET})")
    )

    with pytest.raises(GraphTokenError) as caught:
        graph.get("me")

    assert TOKEN not in str(caught.value)
    assert SECRET not in str(caught.value)
    assert TOKEN not in repr(graph)


def test_transport_failure_is_a_graph_error_without_the_token(
    graph: GraphClient, mock: respx.MockRouter
) -> None:
    mock.get("/v24.0/me").mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(GraphError) as caught:
        graph.get("me")

    assert TOKEN not in str(caught.value)


def test_non_json_answer_is_a_graph_error(graph: GraphClient, mock: respx.MockRouter) -> None:
    mock.get("/v24.0/me").respond(502, text="<html>Bad gateway</html>")

    with pytest.raises(GraphError) as caught:
        graph.get("me")

    assert caught.value.status == 502


def test_appsecret_proof_matches_the_rfc_4231_hmac_sha256_vector() -> None:
    proof = appsecret_proof("Jefe", "what do ya want for nothing?")

    assert proof == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


@given(
    st.dictionaries(
        st.sampled_from(["call_count", "total_time", "total_cputime"]),
        st.integers(min_value=0, max_value=200),
        min_size=1,
    )
)
def test_usage_peak_is_the_highest_percentage(usage: dict[str, int]) -> None:
    peak, wait = usage_from_headers({"x-app-usage": json.dumps(usage)})

    assert peak == max(usage.values())
    assert wait is None


def test_malformed_usage_header_is_ignored() -> None:
    assert usage_from_headers({"x-app-usage": "not json"}) == (0, None)

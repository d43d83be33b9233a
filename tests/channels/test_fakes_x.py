"""The fake X API speaks X API v2 as documented: the shapes every X test relies on."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.channels import fakes_x
from tests.channels.fakes_x import BASE_URL, FakeX

OFFICIAL = "1895000000000000001"
LINK = "https://www.kominfo.go.id/berita/palapa-ring-menjangkau-57-kabupaten"


@pytest.fixture
def api(fake_x: FakeX) -> requests.Session:
    session = requests.Session()
    session.mount(BASE_URL + "/", fake_x)
    session.headers["Authorization"] = f"Bearer {fakes_x.TOKEN}"
    return session


def _get(api: requests.Session, path: str, **params: str) -> Any:
    response = api.get(BASE_URL + path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_links_are_t_co_links_described_in_the_entities() -> None:
    posted = fakes_x.tweet("1", "7", f"Baca {LINK} #PalapaRing", unwound={LINK: "https://a.id/x"})

    short = fakes_x.t_co(LINK)
    assert posted["text"] == f"Baca {short} #PalapaRing"
    [url] = posted["entities"]["urls"]
    assert posted["text"][url["start"] : url["end"]] == short == url["url"]
    assert (url["expanded_url"], url["unwound_url"]) == (LINK, "https://a.id/x")
    assert url["display_url"].startswith("kominfo.go.id/berita/")
    assert url["display_url"].endswith("…")
    assert posted["entities"]["hashtags"] == [{"start": 29, "end": 40, "tag": "PalapaRing"}]


def test_a_retweet_reads_rt_handle_and_carries_the_originals_retweet_count() -> None:
    original = fakes_x.tweet(OFFICIAL, "7", "Palapa Ring " * 12 + LINK, retweets=40, likes=900)

    shared = fakes_x.retweet("2", "8", original, "kemkominfo")

    assert shared["text"].startswith("RT @kemkominfo: Palapa Ring ")
    assert len(shared["text"]) == 140
    assert shared["text"].endswith("…")
    assert "urls" not in shared["entities"]  # the link was cut off with the text
    assert shared["entities"]["mentions"][0]["username"] == "kemkominfo"
    assert shared["referenced_tweets"] == [{"type": "retweeted", "id": OFFICIAL}]
    assert shared["public_metrics"]["retweet_count"] == 40
    assert shared["public_metrics"]["like_count"] == 0


def test_lookups_return_the_fields_asked_for_and_errors_for_missing_ids(
    fake_x: FakeX, api: requests.Session
) -> None:
    fake_x.post(fakes_x.reply("10", "7", "Mantap", OFFICIAL, likes=2))
    fake_x.sign_up(fakes_x.user("7", "ani_asn"))

    one = _get(api, "/2/tweets/10", expansions="author_id")
    batch = _get(api, "/2/tweets", ids="10,11", **{"tweet.fields": "public_metrics"})
    missing = _get(api, "/2/tweets/11")

    assert one == {
        "data": {"id": "10", "text": "Mantap", "edit_history_tweet_ids": ["10"]},
        "includes": {"users": [{"id": "7", "name": "Ani Asn", "username": "ani_asn"}]},
    }
    assert batch["data"][0]["public_metrics"]["like_count"] == 2
    assert "referenced_tweets" not in batch["data"][0]
    assert batch["errors"] == [fakes_x.not_found("11", "tweet", "ids")]
    assert missing == {"errors": [fakes_x.not_found("11", "tweet", "id")]}
    assert missing["errors"][0]["detail"] == "Could not find tweet with id: [11]."


def test_search_pages_newest_first_and_resumes_after_since_id(
    fake_x: FakeX, api: requests.Session
) -> None:
    original = fakes_x.tweet(OFFICIAL, "7")
    fake_x.post(
        original,
        *(fakes_x.retweet(str(900 + n), str(n), original, "kominfo") for n in range(25)),
        fakes_x.quote("930", "40", "Setuju", OFFICIAL),
        fakes_x.reply("931", "41", "Kapan?", OFFICIAL),  # a reply is neither
    )
    query = f"retweets_of_tweet_id:{OFFICIAL} OR quotes_of_tweet_id:{OFFICIAL}"

    first = _get(api, fakes_x.SEARCH, query=query, max_results="10", expansions="author_id")
    token = first["meta"]["next_token"]
    rest = _get(api, fakes_x.SEARCH, query=query, max_results="100", next_token=token)
    later = _get(api, fakes_x.SEARCH, query=query, max_results="10", since_id="930")

    assert [t["id"] for t in first["data"]] == ["930", *(str(n) for n in range(924, 915, -1))]
    assert first["meta"] == {
        "result_count": 10,
        "newest_id": "930",
        "oldest_id": "916",
        "next_token": token,
    }
    assert [u["id"] for u in first["includes"]["users"]] == ["40", *map(str, range(24, 15, -1))]
    assert [t["id"] for t in rest["data"]] == [str(n) for n in range(915, 899, -1)]
    assert "next_token" not in rest["meta"]
    assert "includes" not in rest  # no expansions asked for
    assert later == {"meta": {"result_count": 0}}


def test_a_spent_window_answers_429_with_the_rate_limit_headers(
    fake_x: FakeX, api: requests.Session
) -> None:
    fake_x.limit(fakes_x.USERS, 1, reset=1_767_225_600)

    allowed = api.get(f"{BASE_URL}/2/users", params={"ids": "1"})
    refused = api.get(f"{BASE_URL}/2/users", params={"ids": "1"})
    fake_x.new_window()
    again = api.get(f"{BASE_URL}/2/users", params={"ids": "1"})

    assert allowed.status_code == 200
    assert allowed.headers["x-rate-limit-remaining"] == "0"
    assert refused.status_code == 429
    assert refused.json() == fakes_x.problem(429, "Too Many Requests", "Too Many Requests")
    assert {h: refused.headers[h] for h in fakes_x.RATE_LIMIT_HEADERS} == {
        "x-rate-limit-limit": str(fakes_x.WINDOW_LIMIT),
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": "1767225600",
    }
    assert again.status_code == 200
    assert again.json() == {"errors": [fakes_x.not_found("1", "user", "ids")]}


def test_without_a_bearer_token_x_answers_401(api: requests.Session) -> None:
    del api.headers["Authorization"]

    answer = api.get(f"{BASE_URL}/2/tweets/1")

    assert answer.status_code == 401
    assert answer.json() == fakes_x.problem(401, "Unauthorized", "Unauthorized")

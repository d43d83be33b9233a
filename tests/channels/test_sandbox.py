"""The demo sandbox, on a real loopback port, driven by the REAL channel modules.

X through tweepy, Facebook and Instagram through the Graph client, Telegram and WhatsApp
through their messengers: each talks HTTP to the sandbox exactly as to the platform. The
sandbox's clock is a test clock, so "an hour later" needs no waiting. Raw answers are compared
with the shapes the tests' fake of X builds (tests/channels/fakes_x.py), so both speak the same
documented X API v2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from assignments.metrics import Metrics
from channels import sandbox
from channels.facebook import from_settings as facebook_from
from channels.instagram import from_settings as instagram_from
from channels.messaging import OutgoingMessage
from channels.platforms import AccountGone, AuthError, PostGone, RateLimited, Unverifiable
from channels.sandbox import behaviour, fields
from channels.sandbox.behaviour import Assignee, Official
from channels.sandbox.server import SandboxServer
from channels.sandbox.state import Account, Post, World, set_bio
from channels.telegram import TelegramMessenger
from channels.whatsapp import WhatsAppMessenger
from channels.x import XPlatform
from gaung.settings import GraphSettings, TelegramSettings, WhatsAppSettings, get_settings
from tests.channels import fakes_x

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
OFFICIAL_ID = "11234567890"
IG_VANTAGE = "17841400000000001"
TOKEN = "sandbox-test-token"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Campaign:
    official: Post
    owner: Account
    assignees: list[Assignee]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def world(clock: Clock) -> World:
    return World(clock=clock, rate_limit=1000)


@pytest.fixture
def server(world: World) -> Iterator[SandboxServer]:
    running = SandboxServer(world, 0).start()
    yield running
    running.stop()


@pytest.fixture
def x(server: SandboxServer) -> XPlatform:
    return XPlatform(TOKEN, server.url)


@pytest.fixture
def graph(server: SandboxServer) -> GraphSettings:
    return GraphSettings(access_token=TOKEN, base_url=server.url, ig_user_id=IG_VANTAGE)


def x_campaign(world: World, people: int = 30) -> Campaign:
    """An official X post of the agency, assigned to ``people`` enrolled accounts."""
    owner = behaviour.agency_account(world, "x", "kemkominfo", "Kementerian Kominfo")
    text = "Palapa Ring menjangkau 57 kabupaten #PalapaRing https://www.kominfo.go.id/palapa"
    official = behaviour.official_post(
        world, Official("x", OFFICIAL_ID, "kemkominfo", "Kominfo", text, START), owner
    )
    assignees = []
    for n in range(people):
        account = world.upsert_account(
            Account("x", str(1_400_000_000_000_000_000 + n), f"asn_{n}", f"ASN {n}", 900 + n)
        )
        assignees.append(Assignee(account.user_id, f"http://testserver/r/code{n}"))
    behaviour.play_out(world, official, owner, assignees)
    return Campaign(official, owner, assignees)


def reported(campaign: Campaign, index: int, status_id: str, at: datetime) -> Assignee:
    """The assignee at ``index`` after reporting ``x.com/.../status/status_id``."""
    base = campaign.assignees[index]
    url = f"https://x.com/asn_{index}/status/{status_id}"
    return Assignee(base.user_id, base.tracking_url, url, status_id, at)


def search_all(x: XPlatform, since: str | None = None) -> tuple[set[str], str | None, int]:
    matches, newest, calls = x.find_reposts(OFFICIAL_ID, since)
    return {m.post.post_id for m in matches}, newest, calls


# --- X -------------------------------------------------------------------------------------


def test_repost_search_finds_assigned_reposts_as_they_appear_and_resumes_with_since_id(
    world: World, clock: Clock, x: XPlatform
) -> None:
    campaign = x_campaign(world)
    enrolled = {a.user_id for a in campaign.assignees}

    at_once, newest, _ = search_all(x)
    clock.advance(hours=1)
    first_hour, newest, _ = search_all(x)
    clock.advance(hours=12)
    later, newest_later, _ = search_all(x, newest)

    assert at_once == set()  # nobody reposts in the same second
    assert first_hour
    assert later
    assert not first_hour & later  # since_id: only what is new
    assert all(int(p) > int(newest or 0) for p in later)
    matches, _, _ = x.find_reposts(OFFICIAL_ID)
    authors = {m.post.author_id for m in matches}
    assert authors & enrolled  # assigned ASN reposted ...
    assert authors - enrolled  # ... and so did the public, which verify ignores
    assert {m.kind for m in matches} == {"repost", "quote"}
    assert all(OFFICIAL_ID in m.post.referenced_post_ids for m in matches)
    assert newest_later is not None


def test_repost_search_pages_through_more_than_one_hundred_reposts(
    world: World, clock: Clock, x: XPlatform
) -> None:
    x_campaign(world, people=300)
    clock.advance(days=1)

    found, _, calls = search_all(x)

    expected = {
        p.post_id
        for p in world.posts.values()
        if ("retweeted", OFFICIAL_ID) in p.references or ("quoted", OFFICIAL_ID) in p.references
        if p.visible(clock.now)
    }
    assert found == expected
    assert len(found) > 200
    assert calls == -(-len(found) // 100)  # one call per page of 100


def test_a_reported_link_is_served_as_the_asns_repost_of_the_official_post(
    world: World, clock: Clock, x: XPlatform
) -> None:
    campaign = x_campaign(world)
    clock.advance(hours=2)
    # Status ids whose deterministic outcome is a genuine, still visible repost.
    genuine = []
    for n in range(40):
        status = str(900_000_000_000_000_000 + n)
        post = behaviour.materialise(
            world, campaign.official, campaign.owner, reported(campaign, n % 30, status, clock.now)
        )
        assert post is not None
        if post.references and post.author_id == campaign.assignees[n % 30].user_id:
            genuine.append((n % 30, post))

    index, post = genuine[0]
    seen = x.fetch_post(f"https://x.com/asn_{index}/status/{post.post_id}")

    assert len(genuine) > 30  # most reported links are what they claim to be
    assert seen.author_id == campaign.assignees[index].user_id
    assert seen.author_handle == f"asn_{index}"
    assert OFFICIAL_ID in seen.referenced_post_ids
    assert seen.created_at is not None
    assert seen.created_at <= clock.now


def test_some_reported_links_are_unrelated_or_someone_elses(world: World, clock: Clock) -> None:
    campaign = x_campaign(world)
    posts = [
        behaviour.materialise(
            world,
            campaign.official,
            campaign.owner,
            reported(campaign, n % 30, str(800_000_000_000_000_000 + n), clock.now),
        )
        for n in range(300)
    ]

    unrelated = [p for p in posts if p is not None and not p.references]
    foreign = [
        p
        for p in posts
        if p is not None and p.author_id not in {a.user_id for a in campaign.assignees}
    ]
    # The demo shows "not a repost" and "wrong author" too.
    assert unrelated
    assert foreign


def test_a_deleted_repost_answers_xs_not_found_problem(
    world: World, clock: Clock, x: XPlatform, server: SandboxServer
) -> None:
    x_campaign(world, people=200)
    deleted = [(p.deleted_at, p) for p in world.posts.values() if p.deleted_at is not None]
    deleted_at, doomed = min(deleted, key=lambda pair: pair[0])
    clock.now = doomed.created_at + timedelta(seconds=1)
    assert x.fetch_post(doomed.post_id).post_id == doomed.post_id

    clock.now = deleted_at
    raw = requests.get(
        f"{server.url}/2/tweets/{doomed.post_id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert raw.status_code == 200  # X answers a deleted post with 200 and an error object
    assert raw.json() == {"errors": [fakes_x.not_found(doomed.post_id, "tweet", "id")]}
    with pytest.raises(PostGone):
        x.fetch_post(doomed.post_id)
    assert doomed.post_id not in search_all(x)[0]


def test_metrics_grow_over_time_and_a_retweet_shows_the_originals(
    world: World, clock: Clock, x: XPlatform
) -> None:
    campaign = x_campaign(world)
    clock.advance(hours=3)
    matches, _, _ = x.find_reposts(OFFICIAL_ID)
    quotes = sorted(m.post.post_id for m in matches if m.kind == "quote")
    retweet = next(m.post.post_id for m in matches if m.kind == "repost")

    early = x.metrics([*quotes, OFFICIAL_ID, retweet])
    clock.advance(hours=24)
    late = x.metrics([*quotes, OFFICIAL_ID])

    assert set(late) <= set(quotes) | {OFFICIAL_ID}  # deleted meanwhile: absent
    assert all((late[i].impressions or 0) > (early[i].impressions or 0) for i in late)
    # X reports the retweeted post's counts on a retweet; the channel leaves them out.
    assert early[retweet] == Metrics()
    assert (
        campaign.official.counts(START + timedelta(hours=3)).views == early[OFFICIAL_ID].impressions
    )


def test_x_budget_exhausted_answers_429_with_its_reset_time(clock: Clock) -> None:
    world = World(clock=clock, rate_limit=2, rate_window=timedelta(minutes=15))
    x_campaign(world)
    with SandboxServer(world, 0).start() as running:
        x = XPlatform(TOKEN, running.url)
        search_all(x)
        search_all(x)
        with pytest.raises(RateLimited) as limited:
            search_all(x)
        x.fetch_post(OFFICIAL_ID)  # another endpoint has its own window

        assert limited.value.reset_at == START + timedelta(minutes=15)
        raw = requests.get(
            f"{running.url}/2/tweets/search/recent",
            params={"query": f"retweets_of_tweet_id:{OFFICIAL_ID}"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        assert raw.status_code == 429
        assert raw.json() == fakes_x.problem(429, "Too Many Requests", "Too Many Requests")
        assert set(fakes_x.RATE_LIMIT_HEADERS) <= set(raw.headers)
        assert raw.headers["x-rate-limit-remaining"] == "0"
        assert raw.headers["x-rate-limit-reset"] == str(
            int((START + timedelta(minutes=15)).timestamp())
        )
        clock.advance(minutes=15)
        search_all(x)  # a new window


def test_x_without_a_token_is_unauthorized(server: SandboxServer) -> None:
    raw = requests.get(f"{server.url}/2/tweets/{OFFICIAL_ID}", timeout=5)

    assert raw.status_code == 401
    assert raw.json() == fakes_x.problem(401, "Unauthorized", "Unauthorized")


def test_unknown_handles_are_made_up_except_notfound_ones(x: XPlatform) -> None:
    first = x.lookup_account("@budi_demo")
    again = x.lookup_account("budi_demo")

    assert first == again  # the same made-up account every time
    assert first.followers is not None
    assert first.followers >= 500
    with pytest.raises(AccountGone):
        x.lookup_account("notfound_anyone")


def test_a_bio_set_in_the_sandbox_is_the_accounts_x_description(
    world: World, x: XPlatform, server: SandboxServer
) -> None:
    form = httpx.post(
        f"{server.url}/sandbox/bio",
        data={"platform": "x", "handle": "@budi_demo", "text": "Kode Gaung: GA-7F3K"},
    )
    page = httpx.get(f"{server.url}/sandbox")

    assert form.status_code == 303
    assert x.lookup_account("budi_demo").bio == "Kode Gaung: GA-7F3K"
    assert "GA-7F3K" in page.text
    bad = httpx.post(f"{server.url}/sandbox/bio", json={"platform": "myspace", "handle": "a"})
    assert bad.status_code == 400
    assert "Choose one of" in bad.json()["error"]


# --- Facebook and Instagram ------------------------------------------------------------------


def graph_campaign(world: World) -> tuple[Post, Post]:
    """The agency's official Facebook post and Instagram media, three hours old."""
    start = START - timedelta(hours=3)
    page = behaviour.agency_account(world, "facebook", "kemkominfo", "Kementerian Kominfo")
    ig = behaviour.agency_account(
        world, "instagram", "kemkominfo", "Kementerian Kominfo", IG_VANTAGE
    )
    text = "Palapa Ring #PalapaRing"
    fb_post = behaviour.official_post(
        world, Official("facebook", "1234567", "kemkominfo", "Kominfo", text, start), page
    )
    media = behaviour.official_post(
        world, Official("instagram", "CabcDEF1234", "kemkominfo", "Kominfo", text, start), ig
    )
    return fb_post, media


def test_facebook_reads_the_agency_page_post_and_its_metrics(
    world: World, clock: Clock, graph: GraphSettings
) -> None:
    fb_post, _ = graph_campaign(world)
    facebook = facebook_from(graph)

    seen = facebook.fetch_post("https://www.facebook.com/kemkominfo/posts/1234567")
    early = facebook.metrics([fb_post.post_id])[fb_post.post_id]
    clock.advance(hours=10)
    late = facebook.metrics([fb_post.post_id])[fb_post.post_id]

    assert seen.post_id == fb_post.post_id
    assert seen.author_id == fb_post.author_id
    assert (early.impressions or 0) > 0
    assert (early.likes or 0) > 0
    assert (late.impressions or 0) > (early.impressions or 0)


def test_facebook_personal_profiles_are_unreadable_as_on_the_real_api(
    world: World, graph: GraphSettings
) -> None:
    graph_campaign(world)
    facebook = facebook_from(graph)

    with pytest.raises(Unverifiable):
        facebook.fetch_post("https://www.facebook.com/budi.santoso.7/posts/998877")
    with pytest.raises(PostGone):
        facebook.fetch_post("555_666")


def test_instagram_business_discovery_sees_professional_accounts_only(
    world: World, graph: GraphSettings
) -> None:
    graph_campaign(world)
    world.upsert_account(Account("instagram", "5000000031", "siti.pro", "Siti", 4321))
    world.upsert_account(
        Account("instagram", "5000000062", "budi.pribadi", "Budi", 999, public=False)
    )
    set_bio_in(world, "instagram", "siti.pro", "Kode: GA-1234")
    instagram = instagram_from(graph)

    account = instagram.lookup_account("@siti.pro")

    assert (account.user_id, account.followers) == ("5000000031", 4321)
    assert account.bio == "Kode: GA-1234"
    with pytest.raises(Unverifiable):
        instagram.lookup_account("budi.pribadi")


def set_bio_in(world: World, platform: str, handle: str, text: str) -> None:
    world.set_bio(platform, handle, text)


def test_instagram_finds_media_by_permalink_and_reads_its_insights(
    world: World, clock: Clock, graph: GraphSettings
) -> None:
    _, media = graph_campaign(world)
    instagram = instagram_from(graph)

    seen = instagram.fetch_post("https://www.instagram.com/kemkominfo/p/CabcDEF1234/")
    metrics = instagram.metrics([media.post_id])[media.post_id]

    assert seen.post_id == media.post_id
    assert seen.author_handle == "kemkominfo"
    assert metrics.impressions
    assert metrics.likes
    assert metrics.reposts is not None


def test_graph_budget_exhausted_is_a_rate_limit(clock: Clock) -> None:
    world = World(clock=clock, rate_limit=3)
    fb_post, _ = graph_campaign(world)
    with SandboxServer(world, 0).start() as running:
        settings = GraphSettings(access_token=TOKEN, base_url=running.url, ig_user_id=IG_VANTAGE)
        for _ in range(3):
            httpx.get(
                f"{running.url}/v24.0/{fb_post.post_id}", headers={"Authorization": "Bearer t"}
            )

        with pytest.raises(RateLimited):
            facebook_from(settings).fetch_post(fb_post.post_id)
        raw = httpx.get(
            f"{running.url}/v24.0/{fb_post.post_id}", headers={"Authorization": "Bearer t"}
        )
        assert raw.status_code == 403
        assert raw.json()["error"]["code"] == 4


def test_business_discovery_is_metered_per_instagram_account_as_meta_documents(
    clock: Clock,
) -> None:
    world = World(clock=clock, rate_limit=2)
    graph_campaign(world)
    world.upsert_account(Account("instagram", "5000000031", "siti.pro", "Siti", 4321))
    with SandboxServer(world, 0).start() as running:
        settings = GraphSettings(access_token=TOKEN, base_url=running.url, ig_user_id=IG_VANTAGE)
        instagram = instagram_from(settings)
        instagram.lookup_account("siti.pro")
        raw = httpx.get(
            f"{running.url}/v24.0/{IG_VANTAGE}",
            params={"fields": "business_discovery.username(siti.pro){followers_count}"},
            headers={"Authorization": "Bearer t"},
        )  # the second call spends the budget: the header says so
        usage = json.loads(raw.headers["x-business-use-case-usage"])
        assert usage[IG_VANTAGE][0]["type"] == "instagram"
        assert "x-app-usage" not in raw.headers

        with pytest.raises(RateLimited) as limited:
            instagram.lookup_account("siti.pro")
        spent = httpx.get(
            f"{running.url}/v24.0/{IG_VANTAGE}",
            params={"fields": "business_discovery.username(siti.pro){followers_count}"},
            headers={"Authorization": "Bearer t"},
        )
        assert spent.json()["error"]["code"] == 80002
        wait = json.loads(spent.headers["x-business-use-case-usage"])[IG_VANTAGE][0]
        assert wait["estimated_time_to_regain_access"] >= 1
        assert limited.value.reset_at > clock()


def test_a_retired_graph_version_is_refused(world: World, graph: GraphSettings) -> None:
    fb_post, _ = graph_campaign(world)
    retired = graph.model_copy(update={"version": "v3.1"})

    with pytest.raises(AuthError) as refused:
        facebook_from(retired).fetch_post(fb_post.post_id)
    assert "2635" in str(refused.value)


NAME_CHARS = "abcdefghijklmnopqrstuvwxyz_0123456789"
ARG_CHARS = NAME_CHARS + "ABCXYZ.=-"


@st.composite
def field_specs(draw: st.DrawFn, depth: int = 1) -> fields.FieldSpec:
    name = draw(st.text(NAME_CHARS, min_size=1, max_size=12))
    modifiers = draw(
        st.dictionaries(
            st.sampled_from(["limit", "after", "summary", "username"]),
            st.text(ARG_CHARS, max_size=10),
            max_size=2,
        )
    )
    children: tuple[fields.FieldSpec, ...] = ()
    if depth:
        children = tuple(draw(st.lists(field_specs(depth - 1), max_size=3)))
    return fields.FieldSpec(name, modifiers, children)


@settings(max_examples=50)
@given(st.lists(field_specs(), min_size=1, max_size=3))
def test_graph_fields_parse_what_they_render(specs: list[fields.FieldSpec]) -> None:
    text = ",".join(spec.render() for spec in specs)

    assert fields.parse(text) == tuple(specs)


@pytest.mark.parametrize("text", ["", "a,", "a{b", "a.limit(1", "a}", "{a}", "a..b"])
def test_malformed_graph_fields_are_refused(text: str) -> None:
    with pytest.raises(fields.FieldsError):
        fields.parse(text)


# --- messengers, settings, determinism -------------------------------------------------------


def test_messenger_sends_are_accepted_and_listed_on_the_sandbox_page(
    world: World, server: SandboxServer
) -> None:
    message = OutgoingMessage(
        to="+6281200000001",
        subject="Tugas baru",
        text="Ada tugas baru untuk Anda",
        html=None,
        idempotency_key="k1",
        template="gaung_assignment",
        params={"name": "Siti"},
    )
    telegram = TelegramMessenger(TelegramSettings(bot_token="1:" + TOKEN, api_base_url=server.url))
    whatsapp = WhatsAppMessenger(
        WhatsAppSettings(
            access_token=TOKEN, phone_number_id="100000000000001", api_base_url=server.url
        )
    )

    sent_tg = telegram.send(OutgoingMessage(**{**message.__dict__, "to": "424242"}))
    sent_wa = whatsapp.send(message)

    assert sent_tg.provider_id.startswith("424242:")
    assert sent_wa.provider_id.startswith("wamid.")
    assert [m.channel for m in world.messages] == ["telegram", "whatsapp"]
    assert "Ada tugas baru" in httpx.get(f"{server.url}/sandbox").text


def test_the_sandbox_takes_over_only_channels_without_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAUNG_SANDBOX__ENABLED", "true")
    monkeypatch.setenv("GAUNG_SANDBOX__PORT", "8799")
    monkeypatch.setenv("GAUNG_X__BEARER_TOKEN", "a-real-token")
    monkeypatch.delenv("GAUNG_GRAPH__ACCESS_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.graph.base_url == "http://127.0.0.1:8799"
        assert sandbox.sandboxed("facebook")
        assert sandbox.sandboxed("instagram")
        assert not sandbox.sandboxed("x")
        assert settings.x.bearer_token == "a-real-token"
        assert sandbox.active()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert not sandbox.active()


def test_the_same_world_plays_out_the_same_way_every_time(clock: Clock) -> None:
    first, second = World(clock=clock), World(clock=clock)

    x_campaign(first)
    x_campaign(second)

    def summary(world: World) -> list[tuple[str, str, datetime, datetime | None]]:
        return sorted(
            (p.post_id, p.author_id, p.created_at, p.deleted_at) for p in world.posts.values()
        )

    assert summary(first) == summary(second)


def test_set_bio_on_the_process_world_needs_a_known_platform() -> None:
    account = set_bio("instagram", "demo.bio.check", "GA-0001")

    assert account.bio == "GA-0001"
    with pytest.raises(ValueError, match="unknown platform"):
        set_bio("myspace", "demo", "x")


# --- X answers in the documented shapes (t.co links, retweets, quotes, paging) --------------


def _raw(server: SandboxServer, path: str, **params: str) -> requests.Response:
    return requests.get(
        f"{server.url}{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )  # fmt: skip


FIELDS = "author_id,created_at,referenced_tweets,public_metrics,entities"


def test_post_text_has_t_co_links_described_in_entities_urls(
    world: World, clock: Clock, server: SandboxServer, x: XPlatform
) -> None:
    campaign = x_campaign(world)

    raw = _raw(server, f"/2/tweets/{OFFICIAL_ID}", **{"tweet.fields": FIELDS}).json()["data"]

    link = "https://www.kominfo.go.id/palapa"
    assert link not in raw["text"]
    assert fakes_x.t_co(link) in raw["text"]
    [url] = raw["entities"]["urls"]
    assert url["url"] == fakes_x.t_co(link)
    assert (url["expanded_url"], url["unwound_url"]) == (link, link)
    assert url["display_url"] == fakes_x.display_url(link)
    assert raw["text"][url["start"] : url["end"]] == url["url"]
    assert raw["entities"]["hashtags"][0]["tag"] == "PalapaRing"
    built = fakes_x.tweet(OFFICIAL_ID, campaign.owner.user_id, campaign.official.text)
    assert (raw["text"], raw["entities"]) == (built["text"], built["entities"])
    assert x.fetch_post(OFFICIAL_ID).text == campaign.official.text  # as the author wrote it


def test_a_quote_shows_the_tracking_link_as_t_co_and_the_channel_restores_it(
    world: World, clock: Clock, server: SandboxServer, x: XPlatform
) -> None:
    campaign = x_campaign(world)
    clock.advance(hours=12)
    quotes = [m.post for m in x.find_reposts(OFFICIAL_ID)[0] if m.kind == "quote"]
    enrolled = {a.user_id: a.tracking_url for a in campaign.assignees}
    seen = next(q for q in quotes if q.author_id in enrolled)

    raw = _raw(server, f"/2/tweets/{seen.post_id}", **{"tweet.fields": FIELDS}).json()["data"]

    tracking = enrolled[seen.author_id or ""]
    assert tracking not in raw["text"]
    assert fakes_x.t_co(tracking) in raw["text"]
    assert {"type": "quoted", "id": OFFICIAL_ID} in raw["referenced_tweets"]
    expanded = {u["expanded_url"] for u in raw["entities"]["urls"]}
    assert tracking in expanded
    assert f"https://x.com/kemkominfo/status/{OFFICIAL_ID}" in expanded
    assert tracking in seen.text  # what verification reads: the link as written


def test_a_retweet_is_rt_handle_cut_at_140_with_the_originals_retweet_count(
    world: World, clock: Clock, server: SandboxServer, x: XPlatform
) -> None:
    campaign = x_campaign(world)
    campaign.official.text = "Palapa Ring " + "menjangkau 57 kabupaten " * 6 + "#PalapaRing"
    clock.advance(hours=12)
    retweet = next(m.post for m in x.find_reposts(OFFICIAL_ID)[0] if m.kind == "repost")

    raw = _raw(server, f"/2/tweets/{retweet.post_id}", **{"tweet.fields": FIELDS}).json()["data"]
    original = _raw(server, f"/2/tweets/{OFFICIAL_ID}", **{"tweet.fields": FIELDS}).json()["data"]

    assert raw["text"].startswith("RT @kemkominfo: ")
    assert len(raw["text"]) == 140
    assert raw["text"].endswith("…")
    assert raw["referenced_tweets"] == [{"type": "retweeted", "id": OFFICIAL_ID}]
    built = fakes_x.retweet(
        retweet.post_id, raw["author_id"], original, "kemkominfo", created_at=raw["created_at"]
    )
    assert raw == {k: v for k, v in built.items() if k in raw}  # the fields asked for
    assert raw["public_metrics"]["retweet_count"] == original["public_metrics"]["retweet_count"]
    assert raw["public_metrics"]["like_count"] == 0


def test_search_pages_carry_next_token_includes_users_and_rate_headers(
    world: World, clock: Clock, server: SandboxServer
) -> None:
    x_campaign(world, people=300)
    clock.advance(days=1)
    query = f"retweets_of_tweet_id:{OFFICIAL_ID} OR quotes_of_tweet_id:{OFFICIAL_ID}"

    first = _raw(
        server, "/2/tweets/search/recent", query=query, max_results="100",
        expansions="author_id", **{"tweet.fields": FIELDS},
    )  # fmt: skip
    body = first.json()
    token = body["meta"]["next_token"]
    second = _raw(server, "/2/tweets/search/recent", query=query, next_token=token).json()

    assert body["meta"]["result_count"] == 100
    assert body["meta"]["newest_id"] == body["data"][0]["id"]
    assert body["meta"]["oldest_id"] == body["data"][-1]["id"]
    assert {u["id"] for u in body["includes"]["users"]} == {t["author_id"] for t in body["data"]}
    assert token == fakes_x.next_token(body["data"][-1]["id"])
    assert int(second["data"][0]["id"]) < int(body["meta"]["oldest_id"])
    assert set(fakes_x.RATE_LIMIT_HEADERS) <= set(first.headers)
    bad = _raw(server, "/2/tweets/search/recent", query=query, max_results="5")
    assert bad.status_code == 400
    assert bad.json()["type"] == fakes_x.INVALID_REQUEST

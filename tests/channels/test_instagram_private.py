"""The opt-in instagrapi backend with a fake client at the network edge (instagrapi itself is
not needed): session stored encrypted and reused, cluster-wide pacing, mapping, errors."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import String, select, type_coerce
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels import instagram, platforms
from channels.instagram_private import INSTALL_HINT, ChannelSession, InstagrapiPlatform
from channels.platforms import (
    AccountGone,
    AuthError,
    NotConnected,
    PostGone,
    RateLimited,
    Unverifiable,
)
from gaung import crypto
from gaung.settings import InstagramSettings, get_settings

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
LINK = "https://www.instagram.com/p/CxYz123abcd/?igsh=abc"
COOKIE = "sessionid-very-secret-cookie"
PASSWORD = "institution-password"


# instagrapi's exception classes are matched by name (the module is optional): same names here.
class ClientError(Exception):
    pass


class PrivateError(ClientError):
    pass


class NotFoundError(PrivateError):
    pass


class MediaNotFound(NotFoundError):  # noqa: N818 - instagrapi's name
    pass


class UserNotFound(NotFoundError):  # noqa: N818 - instagrapi's name
    pass


class MediaUnavailable(PrivateError):  # noqa: N818 - instagrapi's name
    pass


class PleaseWaitFewMinutes(PrivateError):  # noqa: N818 - instagrapi's name
    pass


class LoginRequired(PrivateError):  # noqa: N818 - instagrapi's name
    pass


class ChallengeError(PrivateError):
    pass


class ChallengeRequired(ChallengeError):  # noqa: N818 - instagrapi's name
    pass


class PrivateAccount(PrivateError):  # noqa: N818 - instagrapi's name
    pass


class FakeClient:
    """Shaped like instagrapi.Client: settings dict, login, media and user look-ups."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.settings: dict[str, Any] = {"uuids": {"phone_id": "p-1"}, "cookies": {}}
        self.loaded: dict[str, Any] | None = None
        self.logins: list[tuple[str, str]] = []
        self.requests: list[str] = []

    def get_settings(self) -> dict[str, Any]:
        copied: dict[str, Any] = json.loads(json.dumps(self.settings))
        return copied

    def set_settings(self, settings: dict[str, Any]) -> bool:
        self.loaded = settings
        self.settings = settings
        return True

    def login(self, username: str, password: str) -> bool:
        self.logins.append((username, password))
        self.settings = {**self.settings, "cookies": {"sessionid": COOKIE}}
        return True

    def media_pk_from_url(self, url: str) -> str:
        assert url == "https://www.instagram.com/p/CxYz123abcd/"
        return "3141592653589793238"

    def _request(self, what: str) -> None:
        self.requests.append(what)
        if self.fail is not None:
            raise self.fail

    def media_info(self, media_pk: str) -> Any:
        self._request(f"media:{media_pk}")
        return SimpleNamespace(
            pk=media_pk,
            code="CxYz123abcd",
            taken_at=datetime(2026, 3, 1, 9, 30),  # instagrapi answers naive UTC
            caption_text="Palapa Ring #PalapaRing http://testserver/r/abc123",
            user=SimpleNamespace(pk="5000000031", username="siti.pro", full_name="Siti"),
        )

    def user_info_by_username(self, username: str) -> Any:
        self._request(f"user:{username}")
        return SimpleNamespace(
            pk="5000000031", username=username, follower_count=4321, biography="Kode GA-77"
        )


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def settings(password: str = PASSWORD) -> InstagramSettings:
    return InstagramSettings(
        backend="instagrapi",
        username="humas.kominfo",
        password=password,
        min_call_interval_seconds=20,
    )


def platform(
    db: Engine, clock: Clock, client: FakeClient, password: str = PASSWORD
) -> InstagrapiPlatform:
    return InstagrapiPlatform(settings(password), db, client_factory=lambda: client, clock=clock)


def logged_in(db: Engine, clock: Clock) -> FakeClient:
    """A first login happened a while ago: its session is stored and the slot is free."""
    client = FakeClient()
    with pytest.raises(RateLimited):  # the login used the slot; the read waits for the next
        platform(db, clock, client).fetch_post(LINK)
    clock.now += timedelta(minutes=1)
    return client


def test_first_use_logs_in_once_and_stores_the_session_encrypted(db: Engine, clock: Clock) -> None:
    first = FakeClient()
    with pytest.raises(RateLimited) as paced:
        platform(db, clock, first).fetch_post(LINK)

    clock.now += timedelta(seconds=20)
    second = FakeClient()  # another worker, later: no password needed any more
    seen = platform(db, clock, second, password="").fetch_post(LINK)

    assert first.logins == [("humas.kominfo", "institution-password")]
    assert paced.value.reset_at == T0 + timedelta(seconds=20)
    assert second.logins == []
    assert second.loaded is not None
    assert second.loaded["cookies"]["sessionid"] == COOKIE
    assert seen.author_handle == "siti.pro"
    with Session(db) as session:
        table = ChannelSession.__table__  # type: ignore[attr-defined]
        raw = session.execute(select(type_coerce(table.c.settings, String))).scalar_one()
    assert COOKIE not in raw
    assert "institution-password" not in raw
    assert COOKIE in crypto.decrypt(raw)


def test_fetch_post_reads_author_and_caption_from_any_post_link(db: Engine, clock: Clock) -> None:
    client = logged_in(db, clock)

    seen = platform(db, clock, client).fetch_post(LINK)

    assert seen.platform == "instagram"
    assert seen.post_id == "3141592653589793238"
    assert seen.url == "https://www.instagram.com/p/CxYz123abcd/"
    assert (seen.author_id, seen.author_handle) == ("5000000031", "siti.pro")
    assert seen.created_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert "#PalapaRing" in seen.text
    assert client.requests == ["media:3141592653589793238"]


def test_lookup_account_reads_followers_and_biography(db: Engine, clock: Clock) -> None:
    client = logged_in(db, clock)

    account = platform(db, clock, client).lookup_account("@siti.pro")

    assert (account.user_id, account.handle, account.followers) == ("5000000031", "siti.pro", 4321)
    assert account.bio == "Kode GA-77"


def test_calls_are_paced_across_workers(db: Engine, clock: Clock) -> None:
    client = logged_in(db, clock)
    one, other = platform(db, clock, client), platform(db, clock, client)

    one.fetch_post(LINK)
    clock.now += timedelta(seconds=5)
    with pytest.raises(RateLimited) as paced:
        other.lookup_account("siti.pro")
    clock.now = paced.value.reset_at
    other.lookup_account("siti.pro")

    assert paced.value.reset_at == clock.now
    assert client.requests == ["media:3141592653589793238", "user:siti.pro"]


def test_instagram_asking_to_slow_down_holds_every_worker_back(db: Engine, clock: Clock) -> None:
    client = logged_in(db, clock)
    client.fail = PleaseWaitFewMinutes("Please wait a few minutes before you try again.")
    start = clock.now

    with pytest.raises(RateLimited) as slowed:
        platform(db, clock, client).fetch_post(LINK)
    client.fail = None
    clock.now = start + timedelta(minutes=25)
    with pytest.raises(RateLimited):
        platform(db, clock, client).fetch_post(LINK)

    assert slowed.value.reset_at == start + timedelta(minutes=30)
    assert len(client.requests) == 1  # the held-back call never reached Instagram


def test_an_expired_session_is_forgotten_and_reported_to_the_operator(
    db: Engine, clock: Clock
) -> None:
    client = logged_in(db, clock)
    client.fail = LoginRequired("login_required password=hunter2")

    with pytest.raises(AuthError) as refused:
        platform(db, clock, client).fetch_post(LINK)

    assert "hunter2" not in str(refused.value)
    with Session(db) as session:
        row = session.get(ChannelSession, "instagram")
        assert row is not None
        assert row.settings is None  # the next call logs in again with the password
        assert row.last_error == "instagrapi LoginRequired"


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (ChallengeRequired("challenge_required"), AuthError),
        (MediaNotFound("Media not found"), PostGone),
        (MediaUnavailable("Sorry, this photo has been deleted"), PostGone),
        (UserNotFound("User not found"), AccountGone),
        (PrivateAccount("Not authorized to view user"), Unverifiable),
    ],
)
def test_instagrapi_errors_map_to_the_channel_contract(
    db: Engine, clock: Clock, failure: Exception, expected: type[Exception]
) -> None:
    client = logged_in(db, clock)
    client.fail = failure

    with pytest.raises(expected):
        platform(db, clock, client).fetch_post(LINK)


def test_other_links_are_unverifiable_without_a_call(db: Engine, clock: Clock) -> None:
    client = FakeClient()

    with pytest.raises(Unverifiable):
        platform(db, clock, client).fetch_post("https://x.com/siti/status/1")
    assert client.requests == []
    assert client.logins == []


def test_without_a_session_or_password_it_is_not_connected(db: Engine, clock: Clock) -> None:
    with pytest.raises(NotConnected, match="GAUNG_INSTAGRAM__PASSWORD"):
        platform(db, clock, FakeClient(), password="").fetch_post(LINK)


@pytest.mark.skipif(
    importlib.util.find_spec("instagrapi") is not None, reason="instagrapi is installed"
)
def test_without_instagrapi_installed_it_says_how_to_install(db: Engine) -> None:
    backend = InstagrapiPlatform(settings(), db)

    assert not backend.connected()
    with pytest.raises(NotConnected) as missing:
        backend.fetch_post(LINK)
    assert INSTALL_HINT in str(missing.value)


def test_the_registry_returns_the_private_backend_when_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GAUNG_INSTAGRAM__BACKEND", "instagrapi")
    monkeypatch.setenv("GAUNG_INSTAGRAM__USERNAME", "humas.kominfo")
    get_settings.cache_clear()
    try:
        chosen = platforms.get_platform("instagram")
        assert isinstance(chosen, InstagrapiPlatform)
        assert chosen.find_reposts("1") == ([], None, 0)
        assert chosen.metrics(["1"]) == {}
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert isinstance(instagram.from_settings(), instagram.InstagramPlatform)

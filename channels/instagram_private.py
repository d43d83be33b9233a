"""Instagram through instagrapi (Instagram's private mobile API): opt-in, off by default.

Enabled with ``instagram.backend = "instagrapi"`` and the extra ``gaung[instagrapi]``. It reads
a public post from a submitted link (author, caption) and an account (followers, bio), which
the official API cannot do for personal accounts. Instagram's Terms of Use forbid automated
access to its private API: the institution account used here can be challenged, locked or
banned. So:

- ONE dedicated institution account logs in, never an ASN's. The password (environment or a
  file) is only used for the first login; afterwards the session (instagrapi's
  ``get_settings()`` JSON) is reused from the database, encrypted (``channel_session``).
- Requests are paced cluster-wide: ``channel_session.next_call_at`` is claimed atomically
  before every call; too soon raises ``RateLimited`` (the job retries then, never sleeps).
- An Instagram "slow down" pushes ``next_call_at`` further out; a challenge, a bad password
  or an expired session is an ``AuthError`` for the operator, never retried in a loop.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import Column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from assignments.metrics import Metrics
from channels.instagram import parse_permalink
from channels.platforms import (
    AccountGone,
    AccountInfo,
    AuthError,
    ChannelError,
    NotConnected,
    PostGone,
    PostRef,
    RateLimited,
    RepostMatch,
    Unverifiable,
)
from gaung.crypto import EncryptedString
from gaung.db import get_engine, utcnow
from gaung.settings import InstagramSettings, get_settings

log = logging.getLogger(__name__)

SLUG = "instagram"
SESSION = "instagram"  # the one institution account's row
SLOW_DOWN = timedelta(minutes=30)  # after Instagram says "please wait"
INSTALL_HINT = "instagrapi is not installed: pip install 'gaung[instagrapi]'"
_T = TypeVar("_T")
# instagrapi's exception classes, by name: the module is optional, so nothing imports them.
_GONE = {
    "MediaNotFound", "UserNotFound", "NotFoundError", "ClientNotFoundError",
    "MediaUnavailable", "InvalidMediaId",  # "Sorry, this photo has been deleted"
}  # fmt: skip
_SLOW = {"PleaseWaitFewMinutes", "RateLimitError", "ClientThrottledError", "FeedbackRequired"}
_AUTH = {
    "LoginRequired", "ClientLoginRequired", "ChallengeError", "BadPassword",
    "TwoFactorRequired", "ReloginAttemptExceeded", "SentryBlock", "ProxyAddressIsBlocked",
}  # fmt: skip
_HIDDEN = {"PrivateAccount", "InvalidTargetUser"}


class ChannelSession(SQLModel, table=True):
    """A logged-in platform session shared by every worker, and when it may call next."""

    __tablename__ = "channel_session"
    name: str = Field(primary_key=True, max_length=40)
    username: str = Field(default="", max_length=100)
    # instagrapi's session settings (cookies, device ids) as JSON, Fernet-encrypted.
    settings: str | None = Field(default=None, sa_column=Column(EncryptedString(), nullable=True))
    next_call_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(default_factory=utcnow)


class InstagrapiClient(Protocol):
    """The part of ``instagrapi.Client`` used here (tests pass a fake)."""

    def get_settings(self) -> dict[str, Any]: ...
    def set_settings(self, settings: dict[str, Any]) -> Any: ...
    def login(self, username: str, password: str) -> bool: ...
    def media_pk_from_url(self, url: str) -> Any: ...
    def media_info(self, media_pk: Any) -> Any: ...
    def user_info_by_username(self, username: str) -> Any: ...


class ChallengeError(Exception):
    """Instagram wants a code or a new password: only a person can answer (named like
    instagrapi's class, so it is reported the same way)."""


def _refuse_challenge(*_args: object) -> str:
    raise ChallengeError("Instagram asked for a verification step; log in by hand once")


def _instagrapi_client() -> InstagrapiClient:
    """A real client, set up never to sleep or prompt: pacing and retries are the queue's."""
    try:
        module = importlib.import_module("instagrapi")
        adapters = importlib.import_module("requests.adapters")
    except ImportError:
        raise NotConnected(SLUG, INSTALL_HINT) from None
    client = module.Client()
    client.delay_range = []  # no random sleeps between requests
    client.request_timeout = 0  # no sleep before each private request
    client.challenge_code_handler = _refuse_challenge  # never input() in a worker
    client.change_password_handler = _refuse_challenge
    for name in ("private", "public"):
        session = getattr(client, name, None)
        if session is not None:  # its urllib3 Retry backs off by sleeping on 429
            for prefix in ("https://", "http://"):
                session.mount(prefix, adapters.HTTPAdapter(max_retries=0))
    typed: InstagrapiClient = client
    return typed


class InstagrapiPlatform:
    """The SocialPlatform for Instagram over instagrapi, as one institution account."""

    slug = SLUG

    def __init__(
        self,
        settings: InstagramSettings,
        engine: Engine | None = None,
        *,
        client_factory: Callable[[], InstagrapiClient] = _instagrapi_client,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.calls = 0
        self._engine = engine
        self._factory = client_factory
        self._clock = clock
        self._client: InstagrapiClient | None = None
        self._saved_settings = ""

    @property
    def engine(self) -> Engine:
        return self._engine or get_engine()

    def connected(self) -> bool:
        return bool(self.settings.username) and importlib.util.find_spec("instagrapi") is not None

    # --- the contract ---------------------------------------------------------------------

    def lookup_account(self, handle: str) -> AccountInfo:
        user = self._call(lambda c: c.user_info_by_username(handle.strip().lstrip("@")))
        return AccountInfo(
            platform=SLUG,
            user_id=str(user.pk),
            handle=str(user.username),
            followers=_int(getattr(user, "follower_count", None)),
            bio=getattr(user, "biography", None),
        )

    def fetch_post(self, post_id_or_url: str, author_handle: str | None = None) -> PostRef:
        """A public post by link (the link need not name its author, unlike the Graph API)."""
        _, shortcode = parse_permalink(post_id_or_url)  # Unverifiable for other links
        url = f"https://www.instagram.com/p/{shortcode}/"
        media = self._call(lambda c: c.media_info(c.media_pk_from_url(url)))
        author = media.user
        return PostRef(
            platform=SLUG,
            post_id=str(media.pk),
            url=f"https://www.instagram.com/p/{media.code or shortcode}/",
            author_id=str(author.pk),
            author_handle=author.username,
            created_at=_aware(getattr(media, "taken_at", None)),
            text=str(getattr(media, "caption_text", "") or ""),
        )

    def find_reposts(
        self, official_post_id: str, since_id: str | None = None
    ) -> tuple[list[RepostMatch], str | None, int]:
        """Unsupported: Instagram has no list of who reshared a post."""
        return [], None, 0

    def metrics(self, post_ids: Sequence[str]) -> dict[str, Metrics]:
        """Not offered: the agency's own media are measured through the official Graph API,
        and every private call here puts the institution account at risk."""
        return {}

    # --- session, pacing, errors ----------------------------------------------------------

    def _call(self, request: Callable[[InstagrapiClient], _T]) -> _T:
        client = self._logged_in()
        result = self._paced(lambda: request(client))
        self._save_if_changed(client)
        return result

    def _logged_in(self) -> InstagrapiClient:
        if not self.settings.username:
            raise NotConnected(SLUG, "instagram.username is not set")
        if self._client is not None:
            return self._client
        client = self._factory()
        stored = _load(self.engine)
        if stored is not None and stored.username == self.settings.username and stored.settings:
            client.set_settings(json.loads(stored.settings))
            self._saved_settings = stored.settings
        else:
            password = self._password()
            self._paced(lambda: client.login(self.settings.username, password))
            self._save_if_changed(client)
            log.info("instagrapi: logged in as the institution account; session stored")
        self._client = client
        return client

    def _password(self) -> str:
        """The password, only for a first login: environment first, else the password file."""
        if self.settings.password:
            return self.settings.password
        path = self.settings.password_file
        if path is not None and path.is_file():
            return path.read_text().strip()
        raise NotConnected(
            SLUG, "no stored session: set GAUNG_INSTAGRAM__PASSWORD or instagram.password_file"
        )

    def _paced(self, request: Callable[[], _T]) -> _T:
        """One private API request, at most one per interval across every worker."""
        now = self._clock()
        _claim(self.engine, now, timedelta(seconds=self.settings.min_call_interval_seconds))
        self.calls += 1
        try:
            return request()
        except Exception as exc:
            raise self._translate(exc, now) from None

    def _translate(self, exc: Exception, now: datetime) -> Exception:
        names = {cls.__name__ for cls in type(exc).__mro__}
        detail = f"instagrapi {type(exc).__name__}"  # never the message: it may echo secrets
        if names & _SLOW:
            until = now + SLOW_DOWN
            _hold(self.engine, until, detail)
            return RateLimited(SLUG, until, detail)
        if names & _AUTH:
            if "LoginRequired" in names or "ClientLoginRequired" in names:
                _forget(self.engine)  # the next call logs in again (if a password is set)
            self._client = None
            _hold(self.engine, None, detail)
            return AuthError(SLUG, detail)
        if names & _GONE:
            gone = AccountGone if "UserNotFound" in names else PostGone
            return gone(SLUG, detail)
        if names & _HIDDEN:
            return Unverifiable(SLUG, detail)
        if isinstance(exc, ChannelError):
            return exc
        return ChannelError(SLUG, detail)

    def _save_if_changed(self, client: InstagrapiClient) -> None:
        current = json.dumps(client.get_settings(), sort_keys=True)
        if current != self._saved_settings:
            _store(self.engine, self.settings.username, current)
            self._saved_settings = current


def _claim(engine: Engine, now: datetime, interval: timedelta) -> None:
    """Take the next call slot atomically, or raise RateLimited with when it frees up."""
    table = ChannelSession.__table__  # type: ignore[attr-defined]
    with Session(engine) as session, session.begin():
        _ensure_row(session)
        taken = session.execute(
            update(table)
            .where(
                table.c.name == SESSION,
                or_(table.c.next_call_at.is_(None), table.c.next_call_at <= now),
            )
            .values(next_call_at=now + interval)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return
        free_at = session.execute(
            select(table.c.next_call_at).where(table.c.name == SESSION)
        ).scalar_one()
    raise RateLimited(SLUG, _aware(free_at) or now + interval, "paced private API calls")


def _ensure_row(session: Session) -> None:
    table = ChannelSession.__table__  # type: ignore[attr-defined]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    row = {"name": SESSION, "username": "", "updated_at": utcnow()}
    session.execute(insert(table).values(**row).on_conflict_do_nothing(index_elements=["name"]))


def _load(engine: Engine) -> ChannelSession | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.get(ChannelSession, SESSION)


def _store(engine: Engine, username: str, settings_json: str) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(ChannelSession, SESSION) or ChannelSession(name=SESSION)
        row.username, row.settings, row.updated_at = username, settings_json, utcnow()
        row.last_error = None
        session.add(row)


def _hold(engine: Engine, until: datetime | None, error: str) -> None:
    """Record the error; with ``until``, no call before then (Instagram asked to slow down)."""
    with Session(engine) as session, session.begin():
        row = session.get(ChannelSession, SESSION) or ChannelSession(name=SESSION)
        if until is not None:
            row.next_call_at = max(until, _aware(row.next_call_at) or until)
        row.last_error = error[:500]
        session.add(row)


def _forget(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(ChannelSession, SESSION)
        if row is not None:
            row.settings = None
            session.add(row)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def from_settings() -> InstagrapiPlatform:
    return InstagrapiPlatform(get_settings().instagram)

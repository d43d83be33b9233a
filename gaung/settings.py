"""Settings from settings.toml, overridden by GAUNG_* environment variables."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("x", "facebook", "instagram")
# How people write each platform's name; brand names read the same in every language.
PLATFORM_NAMES = {"x": "X", "facebook": "Facebook", "instagram": "Instagram"}


def _settings_file() -> Path:
    return Path(os.environ.get("GAUNG_SETTINGS_FILE", PROJECT_ROOT / "settings.toml"))


class Eligibility(BaseModel):
    min_followers: dict[str, int] = Field(default_factory=lambda: dict.fromkeys(PLATFORMS, 500))

    def minimum(self, platform: str) -> int:
        return self.min_followers.get(platform, 500)


class SchedulerSettings(BaseModel):
    enabled: bool = True
    poll_seconds: float = 2.0
    lease_seconds: int = 300
    max_attempts: int = 5
    # Most items of a kind running at once across the whole cluster (an X rate limit is per
    # app, not per worker); kinds not listed are unlimited.
    concurrency: dict[str, int] = Field(
        default_factory=lambda: {"verify_post": 1, "verify_link": 2, "measure": 1}
    )
    # Messages a worker claims at once for a messenger that sends whole batches (Web Push,
    # not bound by a shared rate window): one claim, one push round, one write of outcomes.
    batch_claim: int = Field(default=1000, ge=1, le=10_000)


class AuthSettings(BaseModel):
    # Absolute lifetime of a sign-in, enforced on the server (not only the cookie's max-age).
    session_max_age_seconds: int = Field(default=43200, gt=0)
    # A session unused for this long is ended.
    session_idle_seconds: int = Field(default=7200, gt=0)
    magic_link_max_age_seconds: int = 604800
    # Failed sign-ins allowed per e-mail and per client address within the window.
    max_failures_per_account: int = Field(default=5, ge=1)
    max_failures_per_address: int = Field(default=20, ge=1)
    failure_window_seconds: int = Field(default=900, gt=0)
    # Secure session cookies; None = only when base_url is https.
    secure_cookies: bool | None = None
    # Reverse proxies (IPs or CIDR networks) whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Staff e-mails that manage the instance's channel credentials (roster.operators);
    # empty: the admins, while the instance has one agency.
    operators: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value


class GraphSettings(BaseModel):
    version: str = "v24.0"
    base_url: str = "https://graph.facebook.com"
    access_token: str = ""  # secret: set GAUNG_GRAPH__ACCESS_TOKEN
    app_secret: str = ""  # secret: set GAUNG_GRAPH__APP_SECRET (for appsecret_proof)
    ig_user_id: str = ""  # the agency's Instagram professional account id


class XSettings(BaseModel):
    bearer_token: str = ""  # secret: set GAUNG_X__BEARER_TOKEN
    api_base_url: str = "https://api.x.com"


class SmtpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""
    password: str = ""  # secret: set GAUNG_SMTP__PASSWORD
    starttls: bool = False
    sender: str = "Gaung <gaung@localhost>"


class TelegramSettings(BaseModel):
    bot_token: str = ""  # secret: set GAUNG_TELEGRAM__BOT_TOKEN
    api_base_url: str = "https://api.telegram.org"
    # The bot's @username (without "@"): ASN link their chat through t.me/<bot_username>.
    bot_username: str = ""
    # secret: set GAUNG_TELEGRAM__WEBHOOK_SECRET to take updates at /telegram/webhook/<secret>
    # (Telegram sends it back in X-Telegram-Bot-Api-Secret-Token); empty = poll getUpdates.
    webhook_secret: str = ""


class RemindersSettings(BaseModel):
    # Hours before the deadline at which pending ASN are reminded, unless a campaign sets its own.
    default_hours: str = "24,3"
    # When the daily digest goes out, in hours after midnight UTC (0 = 07:00 WIB).
    digest_hour_utc: int = Field(default=0, ge=0, le=23)
    # "Send reminder" by hand (scheduler.manual_reminders): at most once per campaign and unit
    # in this many hours; people who got the assignment notice or any reminder of the
    # campaign within recent_hours are skipped (and scheduled reminders skip those reminded
    # by hand within it).
    manual_interval_hours: int = Field(default=3, ge=1, le=168)
    recent_hours: int = Field(default=3, ge=0, le=168)


class WhatsAppSettings(BaseModel):
    access_token: str = ""  # secret: set GAUNG_WHATSAPP__ACCESS_TOKEN
    phone_number_id: str = ""
    api_base_url: str = "https://graph.facebook.com"
    api_version: str = "v24.0"
    template_language: str = "id"
    # What Meta charges per delivered template message, in Rupiah, per category (the
    # approval page's cost estimate; check your rate card: prices change and volume tiers
    # lower them). Assignment notices and reminders are utility templates.
    prices: dict[str, float] = Field(
        default_factory=lambda: {"utility": 356.65, "marketing": 586.33, "authentication": 356.65}
    )
    notice_category: str = "utility"


class WebhookSettings(BaseModel):
    """The agency's own message gateway (e.g. an SMS bridge): JSON POST with Idempotency-Key."""

    url: str = ""
    token: str = ""  # secret: set GAUNG_WEBHOOK__TOKEN (sent as a bearer token)
    timeout_seconds: float = 15.0


class WebPushSettings(BaseModel):
    """Web Push to the devices ASN subscribe from the inbox (channels.webpush)."""

    # Who sends, for push services to contact (VAPID "sub"): a mailto: or https: URL.
    subject: str = "mailto:humas@localhost"
    ttl_seconds: int = Field(default=86400, ge=0, le=2419200)  # push service keeps it this long
    # Requests in flight per push service: HTTP/2 streams on one or two connections (push
    # services take 100 streams per connection); over HTTP/1.1, connections.
    concurrency: int = Field(default=100, ge=1, le=256)
    timeout_seconds: float = Field(default=10.0, gt=0)
    # HTTP/2 without TLS to http:// push services (only the sandbox's may be one): for
    # bench/push.py, whose local push service speaks it (channels/sandbox/push_h2.py).
    cleartext_http2: bool = False
    # Pushes per second one worker gets accepted (bench/push.py measures it); the approval
    # page's time-to-notify estimate for devices with notifications on.
    estimated_rate: float = Field(default=200.0, gt=0)


class MetricsSettings(BaseModel):
    # When set, GET /metrics needs "Authorization: Bearer <token>" (GAUNG_METRICS__TOKEN).
    token: str = ""


class TrackingSettings(BaseModel):
    # Tracking codes kept in each web process's memory (LRU) and for how long.
    cache_size: int = Field(default=100_000, ge=0)
    cache_seconds: float = Field(default=300.0, ge=0)
    # Clicks are written in batches: every flush_seconds or flush_clicks, whichever first.
    flush_seconds: float = Field(default=0.5, gt=0)
    flush_clicks: int = Field(default=1000, ge=1)


class InstagramSettings(BaseModel):
    # "graph" (official API, professional accounts only) or "instagrapi" (opt-in extra
    # gaung[instagrapi]: Instagram's private API through one institution account; see README).
    backend: str = "graph"
    username: str = ""  # the institution account, never an ASN's
    password: str = ""  # secret, first login only: set GAUNG_INSTAGRAM__PASSWORD
    password_file: Path | None = None  # or a file holding it (mode 600)
    min_call_interval_seconds: float = Field(default=20.0, ge=0)


SANDBOX_TOKEN = "sandbox-token-not-a-secret"  # noqa: S105 - the local sandbox accepts any


class SandboxSettings(BaseModel):
    """The demo's local fake of X, Facebook, Instagram, Telegram and WhatsApp."""

    enabled: bool = False
    port: int = Field(default=8765, gt=0, lt=65536)
    # Calls per endpoint per window; small, so the demo shows the rate-limit path too.
    rate_limit: int = Field(default=180, ge=1)
    rate_window_seconds: int = Field(default=900, gt=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"  # loopback only: nothing leaves the machine

    @property
    def mail_port(self) -> int:
        """The sandbox's mail catcher (SMTP on loopback) listens next to its web port."""
        return self.port + 1 if self.port else 0

    def take_over(self, settings: Settings) -> None:
        """Point every channel without a token in settings/env at the sandbox.

        SMTP has no token: without a login (an operator's real relay) it goes to the
        mail catcher, so the demo's made-up addresses never reach a real mail server.
        """
        url, token = self.url, SANDBOX_TOKEN
        if not settings.smtp.username:
            settings.smtp = settings.smtp.model_copy(
                update={"host": "127.0.0.1", "port": self.mail_port, "starttls": False}
            )
        if not settings.x.bearer_token:
            settings.x = settings.x.model_copy(update={"bearer_token": token, "api_base_url": url})
        if not settings.graph.access_token:
            settings.graph = settings.graph.model_copy(
                update={"access_token": token, "base_url": url,
                        "ig_user_id": settings.graph.ig_user_id or "17841400000000001"}
            )  # fmt: skip
        if not settings.telegram.bot_token:
            settings.telegram = settings.telegram.model_copy(
                update={"bot_token": "1:" + token, "api_base_url": url}
            )
        if not settings.whatsapp.access_token:
            settings.whatsapp = settings.whatsapp.model_copy(
                update={"access_token": token, "phone_number_id": "100000000000001",
                        "api_base_url": url}
            )  # fmt: skip


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GAUNG_", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str = "sqlite:///var/gaung.db"
    base_url: str = "http://127.0.0.1:8000"
    default_locale: str = "id"
    timezone: str = "Asia/Jakarta"
    media_dir: Path = Path("var/media")
    disclosure_tag: str = "#InfoResmiASN"
    secret_key: str = ""
    secret_key_file: Path = Path("var/secret_key")
    eligibility: Eligibility = Field(default_factory=Eligibility)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    graph: GraphSettings = Field(default_factory=GraphSettings)
    x: XSettings = Field(default_factory=XSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    reminders: RemindersSettings = Field(default_factory=RemindersSettings)
    instagram: InstagramSettings = Field(default_factory=InstagramSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    webpush: WebPushSettings = Field(default_factory=WebPushSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    # "auto": text on a terminal, JSON lines otherwise (journald, containers).
    log_format: Literal["auto", "text", "json"] = "auto"
    log_level: str = "INFO"
    # Messages per second per messenger, shared by every worker.
    rate_limits: dict[str, float] = Field(
        default_factory=lambda: {"email": 10.0, "telegram": 30.0, "whatsapp": 20.0, "webhook": 20.0}
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_settings_file())
        return (init_settings, env_settings, toml)

    @model_validator(mode="after")
    def _sandbox_takes_over(self) -> Settings:
        if self.sandbox.enabled:
            self.sandbox.take_over(self)
        return self

    def resolved_secret_key(self) -> str:
        """The signing key: from the environment, else a file made on first use."""
        if self.secret_key:
            return self.secret_key
        path = self.secret_key_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()

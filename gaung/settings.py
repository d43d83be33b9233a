"""Settings from settings.toml, overridden by GAUNG_* environment variables."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ("x", "facebook", "instagram")


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


class AuthSettings(BaseModel):
    session_max_age_seconds: int = 43200
    magic_link_max_age_seconds: int = 604800


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


class WhatsAppSettings(BaseModel):
    access_token: str = ""  # secret: set GAUNG_WHATSAPP__ACCESS_TOKEN
    phone_number_id: str = ""
    api_base_url: str = "https://graph.facebook.com"
    api_version: str = "v24.0"
    template_language: str = "id"


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
    # Messages per second per messenger, shared by every worker.
    rate_limits: dict[str, float] = Field(
        default_factory=lambda: {"email": 10.0, "telegram": 30.0, "whatsapp": 20.0}
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

"""Settings, read once from the environment and a `.env` file."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from flows.usecases import Limits

# Bot API tokens look like "123456789:AA...": a numeric bot id, a colon, then 30+ URL-safe chars.
TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
ENV_FILE = ".env"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(BaseSettings):
    """Everything an operator can set. `.env.example` lists each one with its default."""

    model_config = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str | None = None
    telegram_api_base_url: str | None = None
    telegram_api_file_url: str | None = None
    database_url: str = "sqlite+aiosqlite:///linkpilot.db"
    request_expiry_days: float = Field(default=7.0, gt=0)
    expiry_check_seconds: float = Field(default=60.0, gt=0)
    reminder_hours_before: float = Field(default=24.0, ge=0)
    send_max_attempts: int = Field(default=8, ge=1)
    flood_messages: int = Field(default=20, ge=1)
    flood_seconds: float = Field(default=10.0, gt=0)
    max_pending_requests: int = Field(default=5, ge=1)
    max_requests_per_day: int = Field(default=20, ge=1)
    rejected_retry_hours: float = Field(default=24.0, ge=0)
    worker_id: str = Field(default="main", min_length=1, max_length=64)
    webhook_listen: str = "127.0.0.1:8080"
    webhook_secret: str | None = None
    webhook_url: str | None = None
    webhook_path: str = "/telegram"
    retention_days: float = Field(default=180.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Teams (issue 10): how long a team invite link works.
    team_invite_hours: float = Field(default=48.0, gt=0)
    # Trust (issue 11): verified owners (platform logins) and operators.
    tiktok_client_key: str | None = None
    tiktok_client_secret: str | None = None
    facebook_app_id: str | None = None
    facebook_app_secret: str | None = None
    oauth_redirect_base_url: str | None = None
    oauth_listen: str = "127.0.0.1:8090"
    oauth_api_base_url: str | None = None
    login_minutes: float = Field(default=15.0, gt=0)
    operator_ids: str = ""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("telegram_bot_token", "telegram_api_base_url", "telegram_api_file_url",
                     "webhook_secret", "webhook_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("tiktok_client_key", "tiktok_client_secret", "facebook_app_id",
                     "facebook_app_secret", "oauth_redirect_base_url", "oauth_api_base_url",
                     mode="before")
    @classmethod
    def _blank_login_setting_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("operator_ids")
    @classmethod
    def _operator_ids(cls, value: str) -> str:
        if any(not part.strip().isdigit() for part in value.split(",") if part.strip()):
            raise ValueError("a comma-separated list of Telegram user ids (digits)")
        return value

    @property
    def request_lifetime(self) -> timedelta:
        return timedelta(days=self.request_expiry_days)

    @property
    def limits(self) -> Limits:
        return Limits(self.max_pending_requests, self.max_requests_per_day,
                      timedelta(hours=self.rejected_retry_hours))

    @property
    def reminder_ahead(self) -> timedelta:
        return timedelta(hours=self.reminder_hours_before)

    @property
    def retention(self) -> timedelta:
        """How long free text is kept: questions asked, rejection reasons."""
        return timedelta(days=self.retention_days)

    @property
    def inbox_keep(self) -> timedelta:
        """How long processed update ids are remembered (Telegram redelivers within a day)."""
        return timedelta(days=2)

    @property
    def team_invite_lifetime(self) -> timedelta:
        """Teams (issue 10): how long an invite link stays usable."""
        return timedelta(hours=self.team_invite_hours)

    def webhook_address(self) -> tuple[str, int]:
        """WEBHOOK_LISTEN as (host, port), or SettingsError."""
        host, _, port = self.webhook_listen.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError("WEBHOOK_LISTEN must be host:port, e.g. 0.0.0.0:8080.")
        return host.strip("[]"), int(port)

    def require_webhook_secret(self) -> str:
        """The secret Telegram sends with every webhook request (1-256 of A-Z a-z 0-9 _ -)."""
        secret = self.webhook_secret
        if secret is None:
            raise SettingsError("WEBHOOK_SECRET is not set; webhook mode checks it on every "
                                "request (1-256 characters of A-Z, a-z, 0-9, _ and -).")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise SettingsError("WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and - "
                                "(1-256 characters).")
        return secret

    def require_token(self) -> str:
        """The bot token, or SettingsError saying exactly what is wrong with it."""
        token = self.telegram_bot_token
        if token is None:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set. Put the token from @BotFather in the environment "
                "or in .env, or run `linkpilot chat` to try the bot without Telegram."
            )
        if not TOKEN_PATTERN.match(token.strip()):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (expected "
                "'<digits>:<at least 30 letters, digits, - or _>' as @BotFather gives it)."
            )
        return token.strip()


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning validation errors into one readable SettingsError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:
        # Only the .env file is decoded here; name the line, never show it (it may hold the token).
        line = exc.object[:exc.start].count(b"\n") + 1
        raise SettingsError(f"{ENV_FILE} is not UTF-8 text (line {line}); save it as UTF-8") \
            from None
    except OSError as exc:
        raise SettingsError(f"{ENV_FILE} can't be read: {exc.strerror or exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"Invalid settings: {problems}") from None


# --- trust (issue 11): platform logins and operators ---------------------------------------------

def operators(settings: Settings) -> frozenset[int]:
    """OPERATOR_IDS as a set of Telegram user ids."""
    return frozenset(int(p) for p in settings.operator_ids.split(",") if p.strip())


def login_credentials(settings: Settings, provider: str) -> tuple[str, str] | None:
    """The client id and secret of a platform login, or None when it is not configured (or
    there is no redirect address to come back to): then /verify says the feature is off."""
    if not settings.oauth_redirect_base_url:
        return None
    pairs = {"tiktok": (settings.tiktok_client_key, settings.tiktok_client_secret),
             "facebook": (settings.facebook_app_id, settings.facebook_app_secret)}
    client_id, secret = pairs.get(provider, (None, None))
    return (client_id, secret) if client_id and secret else None


def logins_enabled(settings: Settings) -> bool:
    return any(login_credentials(settings, p) for p in ("tiktok", "facebook"))


def oauth_address(settings: Settings) -> tuple[str, int]:
    """OAUTH_LISTEN as (host, port), or SettingsError."""
    host, _, port = settings.oauth_listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError("OAUTH_LISTEN must be host:port, e.g. 0.0.0.0:8090.")
    return host.strip("[]"), int(port)

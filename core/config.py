"""Configuration, read and validated once at start-up.

Every setting comes from an environment variable (see the README's
configuration table). A missing or malformed setting raises `ConfigError`,
whose message names each offending variable.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    UrlConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import MultiHostUrl, Url
from pydantic_settings import BaseSettings, SettingsConfigDict

MongoUrl = Annotated[MultiHostUrl, UrlConstraints(allowed_schemes=["mongodb", "mongodb+srv"])]
RedisUrl = Annotated[Url, UrlConstraints(allowed_schemes=["redis", "rediss", "unix"])]


_ORIGIN = r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/?"
_ORIGINS = rf"^\s*({_ORIGIN}(\s*,\s*{_ORIGIN})*)?\s*$"  # exact origins, comma-separated; no *
_DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class StorageEngine(StrEnum):
    """What MONGODB_URL points at; `auto` asks the server at start-up (storage/engine.py)."""

    AUTO = "auto"
    MONGODB = "mongodb"
    FERRETDB = "ferretdb"


class ConfigError(Exception):
    """The environment does not hold a usable configuration."""


class Settings(BaseSettings):
    """All of Sightline's settings. Field names are the environment variables."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")

    MONGODB_URL: MongoUrl
    MONGODB_DATABASE: str = Field(default="sightline", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    SIGHTLINE_STORAGE_ENGINE: StorageEngine = StorageEngine.AUTO
    SIGHTLINE_STORAGE_SELECTION_TIMEOUT_MS: int = Field(default=5000, ge=100, le=120_000)
    SIGHTLINE_STORAGE_QUERY_TIMEOUT_MS: int = Field(default=5000, ge=100, le=600_000)
    REDIS_URL: RedisUrl

    SIGHTLINE_HOST: str = Field(default="127.0.0.1", min_length=1)
    SIGHTLINE_PORT: int = Field(default=8000, gt=0, lt=65536)
    SIGHTLINE_PUBLIC_URL: str | None = None

    SIGHTLINE_ENV: Environment = Environment.PRODUCTION
    SIGHTLINE_LOG_FORMAT: LogFormat | None = None
    SIGHTLINE_LOG_LEVEL: str = Field(
        default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"
    )
    SIGHTLINE_QUEUE_NAME: str = Field(default="sightline:queue", min_length=1)

    SIGHTLINE_SECRET_KEY: SecretStr | None = Field(default=None, min_length=32)
    SIGHTLINE_SESSION_TTL_HOURS: int = Field(default=24 * 30, ge=1, le=24 * 365)
    SIGHTLINE_CORS_ORIGINS: str = Field(default="", pattern=_ORIGINS)

    SIGHTLINE_LOGIN_MAX_FAILURES: int = Field(default=5, ge=1, le=1000)  # per email and address
    SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS: int = Field(default=50, ge=1, le=100_000)
    SIGHTLINE_LOGIN_MAX_FAILURES_PER_EMAIL: int = Field(default=100, ge=1, le=100_000)
    SIGHTLINE_LOGIN_WINDOW_S: int = Field(default=900, ge=1, le=86_400)
    SIGHTLINE_AUTHENTICATION_TIMEOUT_S: float = Field(default=5.0, gt=0, le=60)

    SIGHTLINE_INGEST_MAX_BODY_BYTES: int = Field(default=5 * 2**20, ge=1024, le=100 * 2**20)
    SIGHTLINE_INGEST_MAX_DECOMPRESSED_BYTES: int = Field(
        default=25 * 2**20, ge=1024, le=500 * 2**20
    )
    SIGHTLINE_INGEST_RATE_LIMIT: str = Field(default="600/minute", pattern=r"^\d+ ?/ ?\d* ?[a-z]+$")
    SIGHTLINE_INGEST_MAX_CLOCK_SKEW_S: int = Field(default=86_400, ge=60, le=7 * 86_400)
    SIGHTLINE_INGEST_STORAGE_TIMEOUT_S: float = Field(default=3.0, gt=0, le=60)

    SIGHTLINE_PROCESS_DELAY_S: float = Field(default=5.0, ge=0, le=3600)
    SIGHTLINE_COMPACT_QUIET_S: int = Field(default=1800, ge=1, le=7 * 86_400)
    SIGHTLINE_COMPACT_MAX_CHUNKS: int = Field(default=100, ge=2, le=100_000)
    SIGHTLINE_COMPACT_PART_BYTES: int = Field(default=4 * 2**20, ge=1024, le=12 * 2**20)
    SIGHTLINE_COMPACT_LEASE_S: int = Field(default=60, ge=1, le=3600)
    SIGHTLINE_WORKER_MAX_JOBS: int = Field(default=10, ge=1, le=1000)

    SIGHTLINE_GRAPHIQL: bool | None = None
    SIGHTLINE_GRAPHQL_MAX_DEPTH: int = Field(default=12, ge=2, le=50)
    SIGHTLINE_GRAPHQL_MAX_TOKENS: int = Field(default=2000, ge=100, le=100_000)
    SIGHTLINE_GRAPHQL_MAX_ALIASES: int = Field(default=15, ge=1, le=1000)
    SIGHTLINE_GRAPHQL_MAX_COST: int = Field(default=100_000, ge=1000, le=100_000_000)
    SIGHTLINE_GRAPHQL_QUERY_TIMEOUT_S: float = Field(default=30.0, ge=0.001, le=600)
    SIGHTLINE_FUNNEL_COMPUTE_BUDGET_S: float = Field(default=30.0, ge=0.001, le=600)
    SIGHTLINE_GRAPHQL_INTROSPECTION: bool | None = None
    SIGHTLINE_GRAPHQL_MAX_BODY_BYTES: int = Field(default=2**20, ge=1024, le=100 * 2**20)

    @field_validator("SIGHTLINE_PUBLIC_URL")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        if any(ch.isspace() or not ch.isprintable() for ch in value.strip()):
            raise ValueError("give a URL without spaces or control characters")
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("give an http:// or https:// URL with a host name")
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("give the base URL only, without a query or fragment")
        if parts.username is not None or parts.password is not None:
            raise ValueError("give the base URL without user name or password")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _production_needs_a_secret_and_a_public_url(self) -> "Settings":
        if self.is_development:
            return self
        missing = []
        if self.SIGHTLINE_SECRET_KEY is None:
            missing.append(
                "SIGHTLINE_SECRET_KEY is not set (required in production: 32+ random characters)"
            )
        if self.SIGHTLINE_PUBLIC_URL is None:
            missing.append(
                "SIGHTLINE_PUBLIC_URL is not set (required in production: the address "
                "clients reach the API at, such as https://analytics.example.com)"
            )
        if missing:
            raise ValueError("; ".join(missing))
        return self

    @property
    def secret_key(self) -> bytes:
        """Key for signed URLs and salted hashes; a fixed one only in development."""
        if self.SIGHTLINE_SECRET_KEY is None:
            return _DEVELOPMENT_SECRET.encode()
        return self.SIGHTLINE_SECRET_KEY.get_secret_value().encode()

    @property
    def public_url(self) -> str:
        """Base of every link the API hands out, without a trailing slash.

        Links never come from the request's Host header, which the caller chooses; in
        development, without a setting, they point at the address the API listens on.
        """
        if self.SIGHTLINE_PUBLIC_URL is not None:
            return self.SIGHTLINE_PUBLIC_URL
        host = self.SIGHTLINE_HOST
        return f"http://{f'[{host}]' if ':' in host else host}:{self.SIGHTLINE_PORT}"

    @property
    def mongodb_url(self) -> str:
        return str(self.MONGODB_URL)

    @property
    def redis_url(self) -> str:
        return str(self.REDIS_URL)

    @property
    def is_development(self) -> bool:
        return self.SIGHTLINE_ENV is Environment.DEVELOPMENT

    @property
    def log_format(self) -> LogFormat:
        if self.SIGHTLINE_LOG_FORMAT is not None:
            return self.SIGHTLINE_LOG_FORMAT
        return LogFormat.CONSOLE if self.is_development else LogFormat.JSON

    @property
    def graphiql_enabled(self) -> bool:
        if self.SIGHTLINE_GRAPHIQL is not None:
            return self.SIGHTLINE_GRAPHIQL
        return self.is_development

    @property
    def graphql_introspection_enabled(self) -> bool:
        if self.SIGHTLINE_GRAPHQL_INTROSPECTION is not None:
            return self.SIGHTLINE_GRAPHQL_INTROSPECTION
        return self.is_development


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build `Settings` from `environ` (the process environment by default).

    `overrides` win over the environment; tests use them to point at their own
    database. Raises `ConfigError` naming every missing or malformed variable.
    """
    try:
        if environ is None:
            return Settings(**overrides)
        values: dict[str, Any] = {k: v for k, v in environ.items() if k in Settings.model_fields}
        values.update(overrides)
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        if not name:
            problems.append(
                str(error["ctx"].get("error", error["msg"])) if "ctx" in error else error["msg"]
            )
        elif error["type"] == "missing":
            problems.append(f"{name} is not set")
        else:
            problems.append(f"{name} is invalid: {error['msg']}")
    return "configuration error: " + "; ".join(problems)

"""Configuration, read and validated once at start-up.

Every setting comes from an environment variable (see the README's
configuration table). A missing or malformed setting raises `ConfigError`,
whose message names each offending variable.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, UrlConstraints, ValidationError
from pydantic_core import MultiHostUrl, Url
from pydantic_settings import BaseSettings, SettingsConfigDict

MongoUrl = Annotated[MultiHostUrl, UrlConstraints(allowed_schemes=["mongodb", "mongodb+srv"])]
RedisUrl = Annotated[Url, UrlConstraints(allowed_schemes=["redis", "rediss", "unix"])]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class ConfigError(Exception):
    """The environment does not hold a usable configuration."""


class Settings(BaseSettings):
    """All of Sightline's settings. Field names are the environment variables."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")

    MONGODB_URL: MongoUrl
    MONGODB_DATABASE: str = Field(default="sightline", pattern=r"^[A-Za-z0-9_-]{1,63}$")
    REDIS_URL: RedisUrl

    SIGHTLINE_HOST: str = Field(default="127.0.0.1", min_length=1)
    SIGHTLINE_PORT: int = Field(default=8000, gt=0, lt=65536)

    SIGHTLINE_ENV: Environment = Environment.PRODUCTION
    SIGHTLINE_LOG_FORMAT: LogFormat | None = None
    SIGHTLINE_LOG_LEVEL: str = Field(
        default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"
    )
    SIGHTLINE_QUEUE_NAME: str = Field(default="sightline:queue", min_length=1)

    SIGHTLINE_GRAPHIQL: bool | None = None
    SIGHTLINE_GRAPHQL_MAX_DEPTH: int = Field(default=12, ge=2, le=50)
    SIGHTLINE_GRAPHQL_MAX_TOKENS: int = Field(default=2000, ge=100, le=100_000)
    SIGHTLINE_GRAPHQL_MAX_ALIASES: int = Field(default=15, ge=1, le=1000)

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
        name = ".".join(str(part) for part in error["loc"]) or "configuration"
        if error["type"] == "missing":
            problems.append(f"{name} is not set")
        else:
            problems.append(f"{name} is invalid: {error['msg']}")
    return "configuration error: " + "; ".join(problems)

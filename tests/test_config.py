import subprocess
import sys
from pathlib import Path

import pytest

from core.config import ConfigError, load_settings

VALID = {
    "MONGODB_URL": "mongodb://127.0.0.1:27017",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SIGHTLINE_SECRET_KEY": "x" * 32,
    "SIGHTLINE_PUBLIC_URL": "https://analytics.example.com",
}


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({})
    assert "MONGODB_URL is not set" in str(caught.value)
    assert "REDIS_URL is not set" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGODB_URL", "http://127.0.0.1:27017"),
        ("REDIS_URL", "not a url"),
        ("SIGHTLINE_PORT", "eighty"),
        ("SIGHTLINE_ENV", "staging"),
        ("SIGHTLINE_GRAPHQL_MAX_DEPTH", "1"),
        ("MONGODB_DATABASE", "bad/name"),
        ("SIGHTLINE_PUBLIC_URL", "analytics.example.com"),
        ("SIGHTLINE_PUBLIC_URL", "ftp://analytics.example.com"),
        ("SIGHTLINE_PUBLIC_URL", "https://analytics.example.com/?next=/"),
        ("SIGHTLINE_PUBLIC_URL", "https://analytics.example.com/#top"),
        ("SIGHTLINE_PUBLIC_URL", "https://user:pass@analytics.example.com"),
        ("SIGHTLINE_PUBLIC_URL", "https://analytics.example.com:99999"),
        ("SIGHTLINE_PUBLIC_URL", "https://analytics example.com"),
    ],
)
def test_malformed_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**VALID, name: value})
    assert f"{name} is invalid" in str(caught.value)


def test_valid_settings_load_with_defaults() -> None:
    settings = load_settings(VALID)
    assert settings.MONGODB_DATABASE == "sightline"
    assert settings.SIGHTLINE_PORT == 8000
    assert settings.graphiql_enabled is False


SECRET = "correct-horse-battery-staple-" + "9" * 10


def test_the_secret_key_is_never_shown() -> None:
    settings = load_settings({**VALID, "SIGHTLINE_SECRET_KEY": SECRET})
    assert settings.secret_key == SECRET.encode()
    shown = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())]
    assert not [text for text in shown if SECRET in text]
    with pytest.raises(ConfigError) as caught:  # too short: refused without echoing it
        load_settings({**VALID, "SIGHTLINE_SECRET_KEY": SECRET[:20]})
    assert "SIGHTLINE_SECRET_KEY is invalid" in str(caught.value)
    assert SECRET[:20] not in str(caught.value)


@pytest.mark.parametrize("module", [["api"], ["workers", "run"]])
def test_processes_refuse_to_start_without_configuration(
    module: list[str], repo_root: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *module],
        cwd=repo_root,
        env={"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:6379/0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "MONGODB_URL is not set" in result.stderr


def test_production_requires_a_secret_key() -> None:
    without = {k: v for k, v in VALID.items() if k != "SIGHTLINE_SECRET_KEY"}
    with pytest.raises(ConfigError) as caught:
        load_settings(without)
    assert "SIGHTLINE_SECRET_KEY is not set" in str(caught.value)
    assert load_settings({**without, "SIGHTLINE_ENV": "development"}).secret_key


def test_production_requires_a_public_url() -> None:
    without = {k: v for k, v in VALID.items() if k != "SIGHTLINE_PUBLIC_URL"}
    with pytest.raises(ConfigError) as caught:
        load_settings(without)
    assert "SIGHTLINE_PUBLIC_URL is not set" in str(caught.value)


def test_production_names_every_missing_requirement() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"MONGODB_URL": VALID["MONGODB_URL"], "REDIS_URL": VALID["REDIS_URL"]})
    assert "SIGHTLINE_SECRET_KEY is not set" in str(caught.value)
    assert "SIGHTLINE_PUBLIC_URL is not set" in str(caught.value)


@pytest.mark.parametrize(
    ("environ", "public_url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"SIGHTLINE_HOST": "localhost", "SIGHTLINE_PORT": "9000"}, "http://localhost:9000"),
        ({"SIGHTLINE_HOST": "::1"}, "http://[::1]:8000"),
        ({"SIGHTLINE_PUBLIC_URL": "https://a.example/sightline/"}, "https://a.example/sightline"),
    ],
)
def test_development_links_default_to_the_listen_address(
    environ: dict[str, str], public_url: str
) -> None:
    without = {k: v for k, v in VALID.items() if k != "SIGHTLINE_PUBLIC_URL"}
    settings = load_settings({**without, "SIGHTLINE_ENV": "development", **environ})
    assert settings.public_url == public_url

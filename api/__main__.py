"""`python -m api` serves the API with uvicorn on SIGHTLINE_HOST:SIGHTLINE_PORT."""

import sys

import uvicorn

from api.app import create_app
from core.config import ConfigError, load_settings
from core.logs import configure_logging


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.SIGHTLINE_LOG_LEVEL)
    uvicorn.run(
        create_app(settings),
        host=settings.SIGHTLINE_HOST,
        port=settings.SIGHTLINE_PORT,
        log_config=None,
        access_log=False,  # it prints query strings (?key=, signatures); see api.middleware
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

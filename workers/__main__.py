"""`python -m workers run` starts a worker; `python -m workers check` probes one."""

import argparse
import asyncio
import sys

from arq.worker import async_check_health

from core.config import ConfigError, load_settings
from core.logs import configure_logging
from workers import supervisor
from workers.settings import worker_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("command", choices=["run", "check"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.SIGHTLINE_LOG_LEVEL)
    options = worker_settings(settings)
    if args.command == "check":
        return asyncio.run(
            async_check_health(options["redis_settings"], queue_name=options["queue_name"])
        )
    supervisor.run(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())

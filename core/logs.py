"""Structured logging for every Sightline process.

One JSON object a line in production, readable lines in development. Records
from the standard library (uvicorn, arq, pymongo) go through the same
renderer, and anything bound with `bind_context` (the request id) is added to
every line logged while it is bound.
"""

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.typing import Processor

from core.config import LogFormat


def configure_logging(fmt: LogFormat, level: str = "INFO") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if fmt is LogFormat.JSON:
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        # Plain tracebacks: a rich one would print local variables, secrets included.
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pymongo's DEBUG records hold whole commands: recordings, tracking keys, credential hashes.
    logging.getLogger("pymongo").setLevel(max(logging.INFO, root.level))
    # uvicorn's access log is replaced by the request log of api.middleware.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error", "arq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)


@contextmanager
def bind_context(**values: Any) -> Iterator[None]:
    """Add `values` to every log line written inside the block."""
    with structlog.contextvars.bound_contextvars(**values):
        yield

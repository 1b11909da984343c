"""Login answers as fast for an unknown email as for a wrong password (no enumeration).

.venv/bin/python -m bench.login [--tries N]
"""

import argparse
import asyncio
import json
import statistics
import time

import httpx
from asgi_lifespan import LifespanManager

from api.app import create_app
from bench.harness import running_stack
from core.config import load_settings
from core.logs import configure_logging

LOG_IN = "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }"
SIGN_UP = (
    'mutation { signUp(email: "k@example.com", password: "long enough pw", name: "K") { token } }'
)


async def run_async(tries: int) -> dict[str, dict[str, float]]:
    with running_stack(api=False) as stack:
        settings = load_settings(
            {},
            MONGODB_URL=stack.mongodb_url,
            REDIS_URL=stack.redis_url,
            SIGHTLINE_ENV="development",
            SIGHTLINE_LOGIN_MAX_FAILURES=1000,
            SIGHTLINE_LOGIN_MAX_FAILURES_PER_ADDRESS=100_000,
            SIGHTLINE_LOGIN_MAX_FAILURES_PER_EMAIL=100_000,
        )
        configure_logging(settings.log_format, "ERROR")
        app = create_app(settings)
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                await client.post("/graphql", json={"query": SIGN_UP})
                cases = {"wrong_password": "k@example.com", "unknown_email": "nobody@example.com"}
                return {name: await _time(client, email, tries) for name, email in cases.items()}


async def _time(client: httpx.AsyncClient, email: str, tries: int) -> dict[str, float]:
    samples = []
    for _ in range(tries):
        started = time.perf_counter()
        await client.post(
            "/graphql", json={"query": LOG_IN, "variables": {"e": email, "p": "nope"}}
        )
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 1), "min_ms": round(min(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tries", type=int, default=20)
    print(json.dumps(asyncio.run(run_async(parser.parse_args().tries)), indent=2))


if __name__ == "__main__":
    main()

"""The load test's traffic generator, run as its own process on loopback.

    .venv/bin/python -m bench.load_client --urls URL[,URL…] --key KEY --out FILE
        [--duration S] [--visitors N] [--interval S] [--seed N]

Many simulated visitors at once, each sending sessions the way the snippet
does: batches numbered from 0, gzip-compressed, one every `--interval`
seconds (with jitter), retried on 429, 5xx and network errors with the
snippet's backoff (Retry-After, else 1 s, 2 s, 4 s… up to a minute, with
jitter) and never retried on another 4xx. The events come from the real
recording in tests/data (the Meta and FullSnapshot first, then its
interactions with fresh timestamps), so a batch's content is a function of
(session start, first event index, count): the verifier rebuilds it from the
log written to `--out`. Requests go round-robin to the URLs, as a load
balancer in front of several API processes would send them.
"""

import argparse
import asyncio
import gzip
import itertools
import json
import random
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.workload import RECORDING

ORIGIN = "http://127.0.0.1:37047"
PAGE_URL = ORIGIN + "/shop.html"
EVENT_SPACING_MS = 40  # the recording's interaction rate: 25 events a second
BATCH_EVENTS = (60, 180)  # about 5 s of interaction, as the snippet flushes
SESSION_BATCHES = (3, 16)
RETURNING_SHARE = 0.25
ADDRESS_OCTETS = ((11, 198), (0, 255), (0, 255), (1, 254))
RETRY_BASE_S, RETRY_MAX_S = 1.0, 60.0
DRAIN_S = 60.0  # after the duration, a batch being retried may finish for this long
USER_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
)


@cache
def _recording() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events: list[dict[str, Any]] = json.loads(RECORDING.read_text())
    return events[:2], events[2:]


def batch_events(start_ms: int, first: int, count: int) -> list[dict[str, Any]]:
    """Events `first` to `first + count` of a session that started at `start_ms`."""
    head, body = _recording()
    out = []
    for i in range(first, first + count):
        source = head[i] if i < len(head) else body[(i - len(head)) % len(body)]
        out.append({**source, "timestamp": start_ms + i * EVENT_SPACING_MS})
    return out


@dataclass
class BatchLog:
    session_id: str
    visitor_id: str
    seq: int
    start_ms: int
    first: int
    count: int
    outcome: str = "unsent"  # accepted | refused (another 4xx) | abandoned
    status: int = 0
    attempts: int = 0
    accepted_at: float = 0.0  # seconds since the start


@dataclass
class Tally:
    # (seconds since the start when it ended, latency in seconds, status or error name)
    requests: list[tuple[float, float, str]] = field(default_factory=list)
    batches: list[BatchLog] = field(default_factory=list)


class Sender:
    """Posts batches round-robin over the API processes, with the snippet's retry rule."""

    def __init__(self, clients: list[httpx.AsyncClient], key: str, tally: Tally) -> None:
        self._next = itertools.cycle(clients)
        self.key, self.tally = key, tally
        self.origin = time.perf_counter()

    def _record(self, started: float, status: str) -> None:
        now = time.perf_counter()
        self.tally.requests.append((now - self.origin, now - started, status))

    async def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        started = time.perf_counter()
        try:
            response = await next(self._next).post(
                f"/ingest?key={self.key}", content=body, headers=headers
            )
        except httpx.HTTPError as exc:
            self._record(started, type(exc).__name__)
            return 0, None
        self._record(started, str(response.status_code))
        return response.status_code, response.headers.get("retry-after")

    async def send(self, log: BatchLog, headers: dict[str, str], give_up_at: float) -> None:
        payload = {
            "key": self.key,
            "visitor_id": log.visitor_id,
            "session_id": log.session_id,
            "seq": log.seq,
            "page": {"url": PAGE_URL, "title": "Acme Shop"},
            "events": batch_events(log.start_ms, log.first, log.count),
        }
        body = gzip.compress(orjson.dumps(payload), compresslevel=6)
        self.tally.batches.append(log)
        while True:
            log.attempts += 1
            log.status, retry_after = await self._post(body, headers)
            if 200 <= log.status < 300:
                log.outcome, log.accepted_at = "accepted", time.perf_counter() - self.origin
                return
            if log.status and log.status != 429 and log.status < 500:
                log.outcome = "refused"
                return
            delay = _backoff(log.attempts, retry_after)
            if time.monotonic() + delay > give_up_at:
                log.outcome = "abandoned"
                return
            await asyncio.sleep(delay)


def _backoff(attempt: int, retry_after: str | None) -> float:
    if retry_after and retry_after.isdigit() and int(retry_after) > 0:
        return float(retry_after)
    jitter = 0.5 + random.random() / 2
    return min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (attempt - 1)) * jitter


@dataclass(frozen=True)
class Plan:
    duration_s: float
    visitors: int
    interval_s: float
    seed: int


async def _visitor(n: int, plan: Plan, sender: Sender, deadline: float) -> None:
    rng = random.Random(plan.seed * 100_003 + n)
    address = ".".join(str(rng.randint(low, high)) for low, high in ADDRESS_OCTETS)
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Origin": ORIGIN,
        "User-Agent": rng.choice(USER_AGENTS),
        "X-Forwarded-For": address,
    }
    visitor_id = f"load-v{plan.seed}-{n:05d}-0"
    await asyncio.sleep(rng.uniform(0, plan.interval_s))
    for k in itertools.count():
        if time.monotonic() >= deadline:
            return
        if k and rng.random() >= RETURNING_SHARE:
            visitor_id = f"load-v{plan.seed}-{n:05d}-{k}"
        session_id = f"load-s{plan.seed}-{n:05d}-{k:04d}"
        await _session(rng, session_id, visitor_id, headers, plan, sender, deadline)


async def _session(
    rng: random.Random,
    session_id: str,
    visitor_id: str,
    headers: dict[str, str],
    plan: Plan,
    sender: Sender,
    deadline: float,
) -> None:
    start_ms, first = int(time.time() * 1000), 0
    for seq in range(rng.randint(*SESSION_BATCHES)):
        if time.monotonic() >= deadline:
            return
        count = rng.randint(*BATCH_EVENTS)
        log = BatchLog(session_id, visitor_id, seq, start_ms, first, count)
        await sender.send(log, headers, deadline + DRAIN_S)
        if log.outcome != "accepted":
            return  # the snippet gives up on a session the server refused
        first += count
        await asyncio.sleep(plan.interval_s * rng.uniform(0.8, 1.2))


async def run(urls: list[str], key: str, plan: Plan) -> tuple[Tally, float]:
    tally = Tally()
    limits = httpx.Limits(max_connections=plan.visitors, max_keepalive_connections=plan.visitors)
    clients = [httpx.AsyncClient(base_url=u, limits=limits, timeout=30) for u in urls]
    sender = Sender(clients, key, tally)
    started = time.monotonic()
    try:
        await asyncio.gather(
            *(_visitor(n, plan, sender, started + plan.duration_s) for n in range(plan.visitors))
        )
    finally:
        for client in clients:
            await client.aclose()
    return tally, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--urls", required=True, help="comma-separated API base URLs")
    parser.add_argument("--key", required=True, help="the site's tracking key")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--interval", type=float, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plan = Plan(args.duration, args.visitors, args.interval, args.seed)
    tally, elapsed = asyncio.run(run(args.urls.split(","), args.key, plan))
    args.out.write_bytes(
        orjson.dumps(
            {
                "plan": asdict(plan),
                "elapsed_s": elapsed,
                "requests": tally.requests,
                "batches": [asdict(b) for b in tally.batches],
            }
        )
    )


if __name__ == "__main__":
    main()

"""Realistic recording traffic, generated from the real rrweb recording in tests/data.

Each session starts with the recording's Meta and FullSnapshot, then sends its
interaction events (clicks, typing, mouse moves, scrolls, mutations) with
shifted timestamps, in batches the size a snippet sends every few seconds.
"""

import json
import random
from pathlib import Path
from typing import Any

RECORDING = (
    Path(__file__).resolve().parent.parent / "tests" / "data" / "recordings" / "shop-sample.json"
)


def _load() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(RECORDING.read_text())
    return events


def session_events(n: int, length: int, start_ms: int) -> list[dict[str, Any]]:
    """`length` events for session `n`: the snapshot first, then interactions repeated."""
    recorded = _load()
    head, body = recorded[:2], recorded[2:]
    out = []
    for i in range(length):
        source = head[i] if i < len(head) else body[(i - len(head)) % len(body)]
        event = dict(source)
        event["timestamp"] = start_ms + n * 7 + i * 40
        out.append(event)
    return out


def batches(
    n_sessions: int, events_per_session: int, batch_size: int, seed: int = 7
) -> list[dict[str, Any]]:
    """Batches of all sessions, interleaved the way concurrent visitors arrive."""
    rng = random.Random(seed)
    per_session = []
    for n in range(n_sessions):
        events = session_events(n, events_per_session, 1_795_000_000_000 + n * 1000)
        per_session.append(
            [
                {
                    "visitor_id": f"bench-visitor-{n:06d}",
                    "session_id": f"bench-session-{n:06d}",
                    "seq": seq,
                    "page": {"url": "http://127.0.0.1:37047/shop.html"},
                    "events": events[i : i + batch_size],
                }
                for seq, i in enumerate(range(0, len(events), batch_size))
            ]
        )
    out = []
    while any(per_session):
        live = [s for s in per_session if s]
        out.append(rng.choice(live).pop(0))
    return out

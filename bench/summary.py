"""The short table `make bench` prints: each measure next to its reference."""

from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

Row = tuple[str, str, str, str]


def _n(value: Any) -> str:
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int | float) else str(value)


def _ms(entry: dict[str, Any]) -> str:
    if entry.get("exceeded_time_limit"):
        return "reached its query time limit"
    return f"{_n(entry['median_ms'])} ms (p99 {_n(entry['p99_ms'])})"


def _ingest(r: dict[str, Any]) -> list[Row]:
    api, raw = r["api"], r["insert_many"]
    return [
        (
            "POST /ingest",
            f"{_n(api['events_per_s'])} events/s, p99 {_n(api['p99_ms'])} ms"
            + (f", {api['errors']} errors" if api.get("errors") else ""),
            "insert_many",
            f"{_n(raw['events_per_s'])} events/s, p99 {_n(raw['p99_ms'])} ms",
        )
    ]


def _workers(r: dict[str, Any]) -> list[Row]:
    comp = r["compaction"]
    return [
        ("compaction", f"{_n(comp['mb_per_s'])} MB/s", "plain zstd",
         f"{_n(r['plain_zstd']['mb_per_s'])} MB/s"),
        ("extraction", f"{_n(r['extraction']['events_per_s'])} events/s", "", ""),
        ("worker peak RSS", f"{_n(comp['worker_peak_rss_mb'])} MB",
         "session of", f"{_n(comp['raw_mb'])} MB raw"),
    ]  # fmt: skip


def _analytics(r: dict[str, Any]) -> list[Row]:
    size = f"{r['events'] // 1000:,}k events"
    return [
        (f"funnel, {size}", _ms(r["funnel_4_steps"]), "in memory",
         _ms(r["funnel_in_memory_reference"])),
        (f"heatmap read, {size}", _ms(r["click_heatmap_read"]), "in memory",
         _ms(r["click_heatmap_in_memory_reference"])),
    ]  # fmt: skip


def _graphql(r: dict[str, Any]) -> list[Row]:
    return [
        (
            f"sessions page (GraphQL), {_n(r['sessions'])} sessions",
            _ms(r["graphql"]),
            f"storage call (x{r['overhead_ratio']})",
            _ms(r["storage_direct"]),
        )
    ]


def _session_list(r: dict[str, Any]) -> list[Row]:
    return [
        (
            f"sessions page of {r['page_size']}, hour by hour, {_n(int(size))} sessions",
            _ms(runs["first_page"]),
            "one sorted query (before)",
            _ms(runs["sorted_query_before"]),
        )
        for size, runs in r.items()
        if size != "page_size"
    ]


def _privacy(r: dict[str, Any]) -> list[Row]:
    return [
        (f"privacy: {name.replace('_', ' ')}", f"{r[name]['seconds']} s", "", "")
        for name in ("export_visitor", "scan_recordings", "erase_visitor")
    ]


def _load(runs: dict[str, Any]) -> list[Row]:
    """One row per configuration (`bench.load` keys its results by configuration)."""
    return [_load_row(r) for r in runs.values()]


def _load_row(r: dict[str, Any]) -> Row:
    t, v = r["traffic"], r["verification"]
    drain = r["workers"]["backlog_drain_s"]
    return (
        f"load test, {r['config']['api_processes']} API + {r['config']['workers']} workers",
        f"{_n(t['events_per_s'])} events/s, p99 {_n(t['p99_ms'])} ms, "
        f"{v['events_lost']} events lost, {v['duplicates']} duplicates",
        "backlog drained in",
        "not within the limit" if drain is None else f"{drain} s",
    )


SECTIONS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "ingest": _ingest,
    "workers": _workers,
    "analytics_100k": _analytics,
    "analytics_1m": _analytics,
    "graphql_overhead": _graphql,
    "session_list": _session_list,
    "privacy": _privacy,
    "load": _load,
}


def print_table(results: dict[str, Any], console: Console | None = None) -> None:
    table = Table(title=f"Sightline bench ({results['size']})")
    for column in ("measure", "result", "next to", "reference"):
        table.add_column(column)
    for name, section in SECTIONS.items():
        if name in results:
            for row in section(results[name]):
                table.add_row(*row)
    (console or Console(width=120)).print(table)

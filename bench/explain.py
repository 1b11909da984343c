"""The server's plan for every hot query of `storage.hot_queries`.

    .venv/bin/python -m bench.explain [--database NAME]

Against `MONGODB_URL` when it is set (use a copy of production data for real
plans), otherwise against a FerretDB started for the run. The indexes of
`storage.indexes` are created first. MongoDB answers with its winning plan
(`IXSCAN <index>` is what the catalog expects); FerretDB 1.24 answers with
PostgreSQL's plan for the SQL it sends (a `Seq Scan` for every find, with the
pushed-down part of the filter as its `Filter`) and says which parts it pushed down.
"""

import argparse
import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.harness import running_stack
from storage.database import Database, create_client
from storage.hot_queries import HOT_QUERIES, HotQuery
from storage.indexes import ensure_indexes


def mongodb_plan(plan: dict[str, Any]) -> str:
    """`LIMIT > FETCH > IXSCAN by_start` from a MongoDB winning plan."""
    plan = plan.get("queryPlan", plan)  # the slot-based engine nests it once more
    stages = []
    while plan:
        stage = plan.get("stage", "?")
        stages.append(f"{stage} {plan['indexName']}" if "indexName" in plan else stage)
        inputs = plan.get("inputStages") or [plan.get("inputStage")]
        plan = inputs[0] or {}
    return " > ".join(stages)


def postgresql_plan(plan: dict[str, Any]) -> str:
    """`Limit > Seq Scan (filter: ...)` from PostgreSQL's JSON plan, outermost first."""
    stages = []
    while plan:
        filters = [plan[k] for k in ("Index Cond", "Filter") if k in plan]
        stages.append(plan.get("Node Type", "?") + "".join(f" ({f})" for f in filters))
        plan = (plan.get("Plans") or [{}])[0]
    return " > ".join(stages)


def ferretdb_plan(answer: dict[str, Any]) -> str:
    details = postgresql_plan(answer["queryPlanner"].get("Plan", {}))
    pushed = [
        k.removesuffix("Pushdown") for k in ("filterPushdown", "sortPushdown") if answer.get(k)
    ]
    return f"{details} (pushed down: {', '.join(pushed) or 'nothing'})"


def describe(answer: dict[str, Any]) -> str:
    planner = answer.get("queryPlanner", {})
    if "winningPlan" in planner:
        return mongodb_plan(planner["winningPlan"])
    return ferretdb_plan(answer)


async def explain(db: Database, query: HotQuery) -> str:
    answer = await db.command("explain", query.find, verbosity="queryPlanner")
    return describe(answer)


async def run(url: str, database: str) -> list[tuple[HotQuery, str]]:
    client = create_client(url, app_name="sightline-explain")
    try:
        db = client[database]
        await ensure_indexes(db)
        return [(query, await explain(db, query)) for query in HOT_QUERIES]
    finally:
        await client.close()


@contextmanager
def mongodb_url() -> Iterator[str]:
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    with running_stack(api=False) as stack:
        yield stack.mongodb_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=os.environ.get("MONGODB_DATABASE", "sightline"))
    args = parser.parse_args()
    with mongodb_url() as url:
        results = asyncio.run(run(url, args.database))
    for query, plan in results:
        print(f"{query.name}\n  {query.collection}.{query.index} expected; plan: {plan}")


if __name__ == "__main__":
    main()

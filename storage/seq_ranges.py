"""Sets of batch sequence numbers kept as sorted, merged `{"first", "last"}` ranges.

A session's batches arrive numbered 0, 1, 2, ... so the set of them is nearly
always one range: stored this way it stays a few integers however long the
session runs. (Documents, not pairs: FerretDB stores no nested arrays.)
"""

from collections.abc import Iterable

Range = dict[str, int]


def merged(ranges: Iterable[Range], seqs: Iterable[int]) -> list[Range]:
    """`ranges` with `seqs` added, in one canonical form: sorted, disjoint, not adjacent."""
    pieces = sorted([*((r["first"], r["last"]) for r in ranges), *((s, s) for s in seqs)])
    result: list[Range] = []
    for first, last in pieces:
        if result and first <= result[-1]["last"] + 1:
            result[-1]["last"] = max(result[-1]["last"], last)
        else:
            result.append({"first": first, "last": last})
    return result


def contains(ranges: Iterable[Range], seq: int) -> bool:
    return any(r["first"] <= seq <= r["last"] for r in ranges)

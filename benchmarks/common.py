"""Shared bits of the benchmarks: real articles, timing, a table printer."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from newsclf.corpus import iter_bbc
from newsclf.textprep import compose


def articles(n: int) -> list[dict[str, Any]]:
    every = list(iter_bbc())
    step = max(len(every) // n, 1)
    return every[::step][:n]


def texts(n: int) -> list[str]:
    return [compose(a["title"], a["text"]) for a in articles(n)]


def best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs (least disturbed by the shared machine)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{c:.3g}" if isinstance(c, float) else str(c) for c in row) + " |")

"""Pure batching logic: how one batch splits into inference calls.

:func:`plan_batches` splits a batch into inference calls under a token budget: rows are sorted
by length (less padding) and packed so that ``rows x longest row <= max_tokens`` and
``rows <= max_rows``. A single row longer than the budget still gets a call of its own.
(When a batch closes, on size or wait, is the loop's: :mod:`consumer.loop`.)
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Group row indices into inference calls, shortest rows first.

    Every index appears exactly once. Within a call, ``len(call) <= max_rows`` and
    ``len(call) * max(lengths of call) <= max_tokens`` unless the call is a single row.
    """
    if max_rows < 1 or max_tokens < 1:
        raise ValueError("max_rows and max_tokens must be positive")
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    calls: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[i]  # sorted ascending: the newcomer is the longest so far
        if current and (len(current) + 1 > max_rows or (len(current) + 1) * longest > max_tokens):
            calls.append(current)
            current = []
        current.append(i)
    if current:
        calls.append(current)
    return calls


def padded_tokens(lengths: Sequence[int], calls: Sequence[Sequence[int]]) -> int:
    """Total tokens fed to the model, padding included."""
    return sum(len(c) * max(lengths[i] for i in c) for c in calls if c)

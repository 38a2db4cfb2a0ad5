"""Pure batching logic: when a batch closes, and how it splits into inference calls.

No I/O and no clocks of its own (time is passed in), so it is tested exhaustively.

* :class:`BatchWindow` decides when the records gathered from Kafka form a batch: on
  ``max_size`` records or ``max_wait`` seconds after the first record, whichever comes first.
* :func:`plan_batches` splits one batch into inference calls under a token budget: rows are
  sorted by length (less padding) and packed so that ``rows x longest row <= max_tokens`` and
  ``rows <= max_rows``. A single row longer than the budget still gets a call of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class BatchWindow:
    max_size: int
    max_wait_s: float
    _opened_at: float | None = field(default=None, init=False)
    _count: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.max_size < 1:
            raise ValueError("max_size must be at least 1")
        if self.max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")

    def add(self, n: int, now: float) -> None:
        if n <= 0:
            return
        if self._count == 0:
            self._opened_at = now
        self._count += n

    @property
    def count(self) -> int:
        return self._count

    def room(self) -> int:
        return max(self.max_size - self._count, 0)

    def is_full(self, now: float) -> bool:
        """True when the batch must close now."""
        if self._count == 0:
            return False
        if self._count >= self.max_size:
            return True
        return self._opened_at is not None and now - self._opened_at >= self.max_wait_s

    def time_left(self, now: float) -> float:
        """How long a poll may wait before the batch must close (``max_wait`` when empty)."""
        if self._count == 0 or self._opened_at is None:
            return self.max_wait_s
        return max(self.max_wait_s - (now - self._opened_at), 0.0)

    def reset(self) -> None:
        self._opened_at = None
        self._count = 0


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

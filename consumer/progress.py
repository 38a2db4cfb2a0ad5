"""A progress line on stderr for the command-line tools (produce, redrive): a bar when the total
is known, a count otherwise, and the rate. The serving image has no tqdm, so this is its own."""

from __future__ import annotations

import sys
import time


class Progress:
    """``update(n)`` redraws at most five times a second; ``close()`` draws the last state."""

    def __init__(self, total: int | None, enabled: bool, unit: str = "msg") -> None:
        self.total, self.enabled, self.unit = total, enabled, unit
        self._started = time.monotonic()
        self._last = 0.0
        self._n = 0

    def update(self, n: int, final: bool = False) -> None:
        self._n = n
        now = time.monotonic()
        if not self.enabled or (not final and now - self._last < 0.2):
            return
        self._last = now
        rate = n / max(now - self._started, 1e-9)
        if self.total:
            width = 30
            done = int(width * min(n, self.total) / self.total)
            bar = f"[{'#' * done}{'.' * (width - done)}] {n}/{self.total}"
        else:
            bar = f"{n} done"
        sys.stderr.write(f"\r{bar} {rate:7.1f} {self.unit}/s")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self) -> None:
        self.update(self._n, final=True)

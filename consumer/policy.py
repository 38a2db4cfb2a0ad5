"""The policy for a batch that cannot be classified, in one place.

* A failure of a **record** (the tokenizer or the model chokes on one article) must not stop
  the others: the batch is split in halves, again and again, until the articles that fail
  alone are found; they become dead letters (``processing_failed``), the rest is classified.
* A failure of the **machine** (out of memory, a lost device) is not the records' fault: it
  is retried with back-off for a budget, then the service exits (code 4) without committing,
  so another start (or another pod) re-reads the batch. Before an article that failed alone
  is blamed, a known-good probe runs; when the probe fails too, the machine is at fault.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from consumer.errors import ExitCode, FatalError
from consumer.pipeline import Classified

log = logging.getLogger(__name__)

T = TypeVar("T")

# Words in an exception that point at the machine rather than at the input.
_MACHINE_HINTS = (
    "out of memory",
    "failed to allocate",
    "bad_alloc",
    "cuda",
    "cudnn",
    "cublas",
    "device",
    "driver",
)


class MachineFault(RuntimeError):
    """Inference failed for a reason that is not the input's: retry, then give up."""


def is_machine_fault(exc: BaseException) -> bool:
    if isinstance(exc, MachineFault | MemoryError | OSError):
        return True
    text = f"{type(exc).__name__}: {exc}".lower()
    return any(hint in text for hint in _MACHINE_HINTS)


def isolate(
    classify: Callable[[Sequence[str]], Classified],
    texts: Sequence[str],
    probe: Callable[[], object],
    n_labels: int,
) -> Classified:
    """``classify(texts)``, bisecting on failure to find the texts that fail alone.

    Raises :class:`MachineFault` for a failure of the machine (see the module docstring)."""
    try:
        return classify(texts)
    except Exception as exc:
        if is_machine_fault(exc):
            raise MachineFault(f"{type(exc).__name__}: {exc}") from exc
        if len(texts) == 1:
            try:
                probe()
            except Exception as probe_exc:
                raise MachineFault(
                    f"the probe failed too ({type(probe_exc).__name__}: {probe_exc}) after "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            reason = f"the model failed on this article: {type(exc).__name__}: {exc}"
            log.warning("article isolated", extra={"error": f"{type(exc).__name__}: {exc}"})
            return Classified(np.full((1, n_labels), np.nan, dtype=np.float32), {0: reason})
        log.warning(
            "batch failed, bisecting",
            extra={"rows": len(texts), "error": f"{type(exc).__name__}: {exc}"},
        )
    mid = len(texts) // 2
    left = isolate(classify, texts[:mid], probe, n_labels)
    right = isolate(classify, texts[mid:], probe, n_labels)
    failed = dict(left.failed)
    failed.update({mid + row: reason for row, reason in right.failed.items()})
    return Classified(
        np.concatenate([left.probs, right.probs]),
        failed,
        left.padded_tokens + right.padded_tokens,
        left.truncated + right.truncated,
    )


def retrying(
    attempt: Callable[[], T],
    budget_s: float,
    *,
    on_retry: Callable[[BaseException, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    first_delay_s: float = 0.5,
    max_delay_s: float = 10.0,
) -> T:
    """``attempt()``, retried on :class:`MachineFault` with exponential back-off while the
    budget lasts; then :class:`FatalError` (exit code 4)."""
    deadline = clock() + budget_s
    delay = first_delay_s
    while True:
        try:
            return attempt()
        except MachineFault as exc:
            left = deadline - clock()
            if left <= 0:
                raise FatalError(
                    ExitCode.INFERENCE,
                    f"inference kept failing for {budget_s:g} s "
                    f"(NEWSCLF_INFER_RETRY_BUDGET_S): {exc}",
                ) from exc
            wait = min(delay, left)
            if on_retry is not None:
                on_retry(exc, wait)
            log.warning(
                "inference failed (machine), retrying",
                extra={"error": str(exc), "retry_in_s": round(wait, 3)},
            )
            sleep(wait)
            delay = min(delay * 2, max_delay_s)

"""Batches between poll and commit, and the order offsets are committed in.

A batch moves ``queued -> inferred -> delivering -> delivered`` (at-least-once: every output
and dead letter acknowledged) or ``-> committed`` (exactly-once: its transaction committed).
Acknowledgements may complete out of order across batches; offsets are only ever committed
for the longest run of finished batches at the head, so a commit never passes a record whose
outputs are not all acknowledged. A batch that has not started delivery can be ``dropped``
(a rebalance takes its partitions): its offsets are never committed and its partitions are
sought back to its first record.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from consumer.pipeline import Classified, Record, Result
from consumer.schemas import Decoded, Rejection

TP = tuple[str, int]  # (topic, partition)


class State(enum.Enum):
    QUEUED = "queued"
    INFERRED = "inferred"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    COMMITTED = "committed"
    DROPPED = "dropped"


FINISHED = (State.DELIVERED, State.COMMITTED, State.DROPPED)
_seq = itertools.count()


@dataclass(eq=False)
class Batch:
    records: Sequence[Record]
    decoded: list[Decoded | Rejection] = field(default_factory=list)
    classified: Classified | None = None
    languages: list[str | None] = field(default_factory=list)  # per accepted article
    group_metadata: Any = None  # the consumer group's generation when the batch was formed
    seq: int = field(default_factory=lambda: next(_seq))
    created: float = field(default_factory=time.monotonic)
    state: State = State.QUEUED
    delivery_started: float | None = None
    delivered_at: float | None = None  # wall clock, for end-to-end latency
    results: list[Result] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)  # error class per dead letter
    committable: bool = True  # False once its partitions were lost
    served: Any = None  # the consumer.serving.Served that classified it (set at inference)

    @property
    def starts(self) -> dict[TP, int]:
        """First offset per partition."""
        first: dict[TP, int] = {}
        for r in self.records:
            tp = (r.topic, r.partition)
            if tp not in first or r.offset < first[tp]:
                first[tp] = r.offset
        return first

    @property
    def next_offsets(self) -> dict[TP, int]:
        """One past the highest offset per partition: what to commit after this batch."""
        nxt: dict[TP, int] = {}
        for r in self.records:
            tp = (r.topic, r.partition)
            nxt[tp] = max(nxt.get(tp, 0), r.offset + 1)
        return nxt


class InFlight:
    """The ordered batches between poll and commit. Thread-safe: the loop adds and pops, the
    inference and delivery workers advance states, a rebalance drops."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._batches: deque[Batch] = deque()
        self._finished = 0  # batches finished so far (wait_for_finish waits for it to move)

    def __len__(self) -> int:
        with self._cond:
            return len(self._batches)

    def add(self, batch: Batch) -> None:
        with self._cond:
            self._batches.append(batch)

    def inferred(self, batch: Batch) -> bool:
        """Inference is done; False when the batch was dropped meanwhile."""
        with self._cond:
            if batch.state is not State.QUEUED:
                return False
            batch.state = State.INFERRED
            return True

    def begin_delivery(self, batch: Batch) -> bool:
        """Delivery may start; False when the batch was dropped. From here on a rebalance
        waits for the batch instead of dropping it."""
        with self._cond:
            if batch.state is State.DROPPED:
                return False
            batch.state = State.DELIVERING
            batch.delivery_started = time.monotonic()
            return True

    def finish(self, batch: Batch, state: State) -> None:
        """Delivered (every output acknowledged) or committed (its transaction)."""
        assert state in (State.DELIVERED, State.COMMITTED, State.DROPPED)
        with self._cond:
            batch.state = state
            batch.delivered_at = time.time()
            self._finished += 1
            self._cond.notify_all()

    def wait_for_finish(self, timeout: float) -> None:
        """Block until another batch finishes (or ``timeout``): the loop's wait while the
        pipeline is full, instead of spinning on short polls that take CPU from the model."""
        with self._cond:
            seen = self._finished
            if any(b.state in FINISHED for b in self._batches):
                return
            self._cond.wait_for(lambda: self._finished != seen, timeout)

    def drop_undelivered(self) -> dict[TP, int]:
        """Drop every batch that has not started delivery. Returns, per partition, the first
        offset dropped: where the partition must be sought back to."""
        seek: dict[TP, int] = {}
        with self._cond:
            for b in self._batches:
                if b.state in (State.QUEUED, State.INFERRED):
                    b.state = State.DROPPED
                    for tp, off in b.starts.items():
                        seek[tp] = min(seek.get(tp, off), off)
            self._cond.notify_all()
        return seek

    def mark_uncommittable(self) -> None:
        """The group generation was lost: what is delivering finishes, but is not committed."""
        with self._cond:
            for b in self._batches:
                b.committable = False

    def wait_delivering(self, timeout: float) -> bool:
        """Wait until no batch is delivering; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(b.state is State.DELIVERING for b in self._batches):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def pop_finished(self) -> list[Batch]:
        """Remove and return the longest run of finished batches at the head, in order."""
        done: list[Batch] = []
        with self._cond:
            while self._batches and self._batches[0].state in FINISHED:
                done.append(self._batches.popleft())
        return done

    def oldest_delivering_age(self, now: float) -> float:
        with self._cond:
            ages = [
                now - b.delivery_started
                for b in self._batches
                if b.state is State.DELIVERING and b.delivery_started is not None
            ]
        return max(ages, default=0.0)

    def snapshot(self) -> list[Batch]:
        with self._cond:
            return list(self._batches)


def commit_offsets(batches: Iterable[Batch]) -> dict[TP, int]:
    """The offsets to commit after ``batches`` (in order): the highest next offset per
    partition over the delivered, committable ones."""
    offsets: dict[TP, int] = {}
    for b in batches:
        if b.state is State.DELIVERED and b.committable:
            for tp, off in b.next_offsets.items():
                offsets[tp] = max(offsets.get(tp, 0), off)
    return offsets

"""How the consumer's offsets are committed: at-least-once and exactly-once side by side.

The loop decides *when* (after each step, on a revocation, while draining, on the way out);
a :class:`Checkpoint` decides *what* and *how*:

* :class:`AtLeastOnce`: the offsets of delivered batches are gathered in batch order
  (:func:`consumer.inflight.commit_offsets`) and committed by the consumer for the partitions
  it still owns. A refused commit is kept for the next round (a cooperative rebalance), dropped
  with a warning (the generation moved on: the records may come again) or retried (retriable).
  On a revocation, a batch whose delivery cannot finish in time is not committed and its
  partition is sought back to its first record.
* :class:`Transactional`: each batch's offsets go in that batch's transaction, with its outputs
  (:meth:`consumer.delivery.Delivery.deliver`); the consumer commits nothing. This side starts
  the producer's transactions, stamps each new batch with the group's generation (KIP-447
  fencing) and stops the service when a revocation cannot wait for a transaction to finish:
  going on could let a later transaction commit offsets past records never classified.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any

from kafka import errors as kafka_errors
from kafka.structs import OffsetAndMetadata, TopicPartition

from consumer.delivery import GENERATION_ERRORS
from consumer.errors import ExitCode, FatalError
from consumer.inflight import TP, Batch, InFlight, State, commit_offsets
from consumer.metrics import Metrics
from consumer.settings import Settings

log = logging.getLogger(__name__)


def merge_min(into: dict[TP, int], more: dict[TP, int]) -> None:
    """Keep, per partition, the lowest offset of the two (where to seek back to)."""
    for tp, off in more.items():
        into[tp] = min(into.get(tp, off), off)


def _offsets(offsets: dict[TP, int]) -> dict[TopicPartition, OffsetAndMetadata]:
    return {TopicPartition(*tp): OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()}


class Checkpoint:
    """What both modes share: how a revocation settles the batches in flight."""

    def __init__(self, consumer: Any, metrics: Metrics) -> None:
        self.consumer = consumer
        self.metrics = metrics

    # ------------------------------------------------------------------ per mode
    def open(self) -> None:
        """Before the first record is taken."""

    def group_metadata(self) -> Any:
        """What a new batch carries for its commit (None: nothing)."""
        return None

    def finished(self, batches: Iterable[Batch]) -> None:
        """Batches finished in order at the head of the line: note what they make committable."""

    @property
    def pending(self) -> bool:
        """Offsets noted and not yet committed (draining waits for them)."""
        return False

    def commit(self, owned: Collection[TP]) -> None:
        """Commit what is pending, for the partitions in ``owned``."""

    def _undelivered_at_revocation(
        self, inflight: InFlight, seek: dict[TP, int], wait: float
    ) -> None:
        raise NotImplementedError

    def _commit_at_revocation(self, finished: list[Batch]) -> None:
        """Commit on the listener's thread before the partitions go (at-least-once)."""

    # ------------------------------------------------------------------ shared
    def revoke(self, inflight: InFlight, seek: dict[TP, int], wait: float) -> list[Batch]:
        """Partitions are being revoked: drop the batches not yet delivering (adding where to
        seek back), wait up to ``wait`` s for those delivering, commit what finished. Returns
        the finished batches (for the loop's accounting)."""
        merge_min(seek, inflight.drop_undelivered())
        if not inflight.wait_delivering(wait):
            self._undelivered_at_revocation(inflight, seek, wait)
        finished = inflight.pop_finished()
        self._commit_at_revocation(finished)
        return finished


class AtLeastOnce(Checkpoint):
    """The consumer commits the offsets of delivered batches, in batch order."""

    def __init__(self, consumer: Any, metrics: Metrics) -> None:
        super().__init__(consumer, metrics)
        self._pending: dict[TP, int] = {}

    def finished(self, batches: Iterable[Batch]) -> None:
        for tp, off in commit_offsets(batches).items():
            self._pending[tp] = max(self._pending.get(tp, 0), off)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def commit(self, owned: Collection[TP]) -> None:
        if not self._pending:
            return
        offsets = {tp: off for tp, off in self._pending.items() if tp in owned}
        if not offsets:
            self._pending.clear()  # nobody's to commit any more: the new owner reads them again
            return
        with self.metrics.timer("commit"):
            try:
                self.consumer.commit(_offsets(offsets))
            except kafka_errors.RebalanceInProgressError:
                # The group is rebalancing (a cooperative round): the offsets stay pending and
                # are committed once it settles, for the partitions still owned then.
                return
            except GENERATION_ERRORS as exc:
                log.warning(
                    "commit refused, the group rebalanced: these records may be delivered again",
                    extra={"error": f"{type(exc).__name__}: {exc}"},
                )
            except kafka_errors.KafkaError as exc:
                if not getattr(exc, "retriable", False):
                    raise
                self.metrics.retries.labels(kind="commit").inc()
                log.warning("commit failed, retrying", extra={"error": str(exc)})
                return
        self._pending.clear()

    def _undelivered_at_revocation(
        self, inflight: InFlight, seek: dict[TP, int], wait: float
    ) -> None:
        # Its outputs may still arrive: never commit it, and let the next owner read it again.
        for b in inflight.snapshot():
            if b.state is State.DELIVERING:
                b.committable = False
                merge_min(seek, b.starts)

    def _commit_at_revocation(self, finished: list[Batch]) -> None:
        offsets = commit_offsets(finished)
        for tp, off in self._pending.items():  # delivered earlier, commit refused meanwhile
            offsets[tp] = max(offsets.get(tp, 0), off)
        if not offsets:
            return
        try:
            self.consumer.commit_async(_offsets(offsets), callback=_log_commit)
        except Exception as exc:  # noqa: BLE001 - duplicates at worst
            log.warning("commit on revocation failed", extra={"error": str(exc)})


class Transactional(Checkpoint):
    """Offsets commit inside each batch's transaction (:mod:`consumer.delivery`)."""

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        metrics: Metrics,
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        super().__init__(consumer, metrics)
        self.producer = producer
        self._on_fatal = on_fatal

    def open(self) -> None:
        self.producer.init_transactions()

    def group_metadata(self) -> Any:
        return self.consumer.group_metadata()

    def _undelivered_at_revocation(
        self, inflight: InFlight, seek: dict[TP, int], wait: float
    ) -> None:
        self._on_fatal(
            FatalError(
                ExitCode.DELIVERY, f"a transaction did not finish within {wait:g} s of a rebalance"
            )
        )


def make_checkpoint(
    settings: Settings,
    consumer: Any,
    producer: Any,
    metrics: Metrics,
    *,
    on_fatal: Callable[[BaseException], None],
) -> Checkpoint:
    """The commit mode ``NEWSCLF_DELIVERY`` names."""
    if settings.exactly_once:
        return Transactional(consumer, producer, metrics, on_fatal)
    return AtLeastOnce(consumer, metrics)


def _log_commit(offsets: Any, result: Any) -> None:
    if isinstance(result, Exception):
        log.warning(
            "commit on revocation refused: these records may be delivered again",
            extra={"error": f"{type(result).__name__}: {result}"},
        )

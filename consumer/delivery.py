"""Delivery: send a batch's outputs, label copies and dead letters; await acknowledgements; run
the transaction (exactly-once). Runs on its own thread, one batch at a time, in batch order.

At-least-once: records are sent without waiting; acknowledgements arrive on the producer's
thread, and a batch is *delivered* when every one of its records is acknowledged. The loop then
commits offsets in batch order (:mod:`consumer.inflight`), so acknowledgements may complete out
of order without a commit ever passing an unacknowledged record.

Exactly-once: one transaction per batch, in order: outputs, dead letters and the batch's offsets
(``send_offsets_to_transaction`` with the consumer group's generation) commit together.

Failures, by whose they are:
* a record the broker refuses (``MESSAGE_TOO_LARGE``, ``INVALID_RECORD``): its input gets a dead
  letter ``output_rejected`` instead; a refused dead letter stops the service (exit 5: the
  dead-letter topic accepts less than ``NEWSCLF_DLQ_MAX_VALUE_BYTES`` allows);
* the broker unreachable or slow: the producer retries (idempotently) until
  ``NEWSCLF_DELIVERY_TIMEOUT_S``; past it the service exits 5 with nothing more committed;
* fenced (another instance took over the transactional id, or the group's generation moved on
  under a transaction): exit 6, the transaction aborted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from kafka import errors as kafka_errors
from kafka.structs import OffsetAndMetadata, TopicPartition

from consumer.errors import ExitCode, FatalError
from consumer.inflight import Batch, InFlight, State
from consumer.pipeline import Outgoing, Routes, build_outgoing, dead_letter
from consumer.schemas import Rejection

log = logging.getLogger(__name__)

RECORD_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.InvalidRecordError,
    kafka_errors.CorruptRecordError,
)
FENCED_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.ProducerFencedError,
    kafka_errors.InvalidProducerEpochError,
    kafka_errors.TransactionalIdAuthorizationFailedError,
    kafka_errors.FencedInstanceIdError,
)
# The group moved on (a rebalance): the transaction's offsets are refused; the batch is dropped.
GENERATION_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.IllegalGenerationError,
    kafka_errors.UnknownMemberIdError,
    kafka_errors.RebalanceInProgressError,
    kafka_errors.CommitFailedError,
)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Delivery:
    """Sends batches in order; at-least-once acknowledgements complete on the producer's thread."""

    def __init__(
        self,
        producer: Any,
        routes: Routes,
        inflight: InFlight,
        *,
        exactly_once: bool,
        delivery_timeout_s: float,
        timer: Callable[[str], Any],
        resolve_later: Callable[[Batch], None],
    ) -> None:
        self.producer = producer
        self.routes = routes
        self.inflight = inflight
        self.exactly_once = exactly_once
        self.delivery_timeout_s = delivery_timeout_s
        self.timer = timer
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}  # batch seq -> records not yet acknowledged
        self._failures: dict[int, list[tuple[Outgoing, BaseException]]] = {}
        # A batch with failed records goes back to the delivery thread, to :meth:`resolve`.
        self.resolve_later = resolve_later

    # ------------------------------------------------------------------------ entry points
    def deliver(self, batch: Batch) -> None:
        """Deliver one inferred batch (a dropped one is skipped)."""
        if not self.inflight.begin_delivery(batch):
            return
        assert batch.classified is not None
        with self.timer("serialize"):
            outgoing, batch.results = build_outgoing(
                batch.records,
                batch.decoded,
                batch.classified,
                self._routes(batch),
                utc_now(),
                batch.languages,
            )
        batch.dead_letters = [_error_of(o) for o in outgoing if o.kind == "dead_letter"]
        for o in outgoing:
            if o.kind == "dead_letter":
                log.warning(
                    "dead-lettered",
                    extra={
                        "error": dict(o.headers)["error"].decode(),
                        "partition": batch.records[o.index].partition,
                        "offset": batch.records[o.index].offset,
                    },
                )
        if self.exactly_once:
            self._transaction(batch, outgoing)
        else:
            self._send_all(batch, outgoing)

    def resolve(self, batch: Batch) -> None:
        """Some records of an at-least-once batch failed: dead-letter refused outputs, or stop."""
        with self._lock:
            failures = self._failures.pop(batch.seq, [])
        retry: list[Outgoing] = []
        answered: set[int] = set()
        for o, exc in failures:
            if isinstance(exc, RECORD_ERRORS) and o.kind != "dead_letter":
                if o.index not in answered:
                    answered.add(o.index)
                    retry.append(self._rejected_output(batch, o, exc))
                continue
            raise self._delivery_fatal(o, exc)
        batch.dead_letters += ["output_rejected"] * len(retry)
        refused = {o.index for o in retry}
        batch.results = [r for r in batch.results if r.index not in refused]
        self._send_all(batch, retry)

    # --------------------------------------------------------------------- at-least-once
    def _send_all(self, batch: Batch, outgoing: Sequence[Outgoing]) -> None:
        with self._lock:
            self._pending[batch.seq] = len(outgoing) + 1  # +1: held until every send is issued
        with self.timer("send"):
            for o in outgoing:
                future = self._send(o)
                future.add_callback(self._acked, batch)
                future.add_errback(self._failed, batch, o)
        self._acked(batch, None)  # release the hold

    def _send(self, o: Outgoing) -> Any:
        """``producer.send``, retried while the producer cannot even take the record (no
        metadata, a full buffer) within the delivery budget."""
        deadline = time.monotonic() + self.delivery_timeout_s
        delay = 0.2
        while True:
            try:
                return self.producer.send(o.topic, key=o.key, value=o.value, headers=o.headers)
            except kafka_errors.KafkaTimeoutError as exc:
                if time.monotonic() + delay > deadline:
                    raise FatalError(
                        ExitCode.DELIVERY,
                        f"could not hand a record for {o.topic} to the producer within "
                        f"{self.delivery_timeout_s:g} s (NEWSCLF_DELIVERY_TIMEOUT_S): {exc}",
                    ) from exc
                log.warning("producer not ready, retrying", extra={"topic": o.topic})
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _acked(self, batch: Batch, _metadata: Any) -> None:
        self._settle_one(batch)

    def _failed(self, batch: Batch, o: Outgoing, exc: BaseException) -> None:
        with self._lock:
            self._failures.setdefault(batch.seq, []).append((o, exc))
        self._settle_one(batch)

    def _settle_one(self, batch: Batch) -> None:
        with self._lock:
            left = self._pending[batch.seq] - 1
            self._pending[batch.seq] = left
            if left:
                return
            del self._pending[batch.seq]
            failed = batch.seq in self._failures
        if failed:
            self.resolve_later(batch)
        else:
            self.inflight.finish(batch, State.DELIVERED)

    # ---------------------------------------------------------------------- exactly-once
    def _transaction(self, batch: Batch, outgoing: list[Outgoing]) -> None:
        deadline = time.monotonic() + self.delivery_timeout_s
        delay = 0.5
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(off, "", -1)
            for (t, p), off in batch.next_offsets.items()
        }
        while True:
            futures: list[tuple[Outgoing, Any]] = []
            try:
                with self.timer("send"):
                    self.producer.begin_transaction()
                    futures = [(o, self._send(o)) for o in outgoing]
                with self.timer("commit"):
                    self.producer.send_offsets_to_transaction(offsets, batch.group_metadata)
                    self.before_commit(batch)
                    self.producer.commit_transaction()
                self.inflight.finish(batch, State.COMMITTED)
                return
            except FatalError as exc:
                self._abort(exc)  # readers must not wait for a successor to fence it
                raise
            except FENCED_ERRORS as exc:
                raise FatalError(
                    ExitCode.FENCED,
                    f"fenced: another instance uses this member's transactional id: {exc}",
                ) from exc
            except Exception as exc:
                self._abort(exc)
                if isinstance(exc, GENERATION_ERRORS) or not batch.committable:
                    # The group moved on (KIP-447 fencing by generation). Dropping the batch and
                    # going on could let a later transaction commit offsets past its records;
                    # a restart re-reads from the committed offsets: nothing lost or repeated.
                    raise FatalError(
                        ExitCode.FENCED,
                        "the consumer group moved on during a transaction (its offsets were "
                        f"refused): {type(exc).__name__}: {exc}",
                    ) from exc
                refused = [
                    (o, f.exception)
                    for o, f in futures
                    if f.is_done and f.failed() and isinstance(f.exception, RECORD_ERRORS)
                ]
                if refused:
                    outgoing = self._replace_refused(batch, outgoing, refused)
                    continue
                if time.monotonic() + delay > deadline:
                    raise FatalError(
                        ExitCode.DELIVERY,
                        f"transaction for {len(batch.records)} records kept failing for "
                        f"{self.delivery_timeout_s:g} s (NEWSCLF_DELIVERY_TIMEOUT_S): "
                        f"{type(exc).__name__}: {exc}",
                    ) from exc
                log.warning(
                    "transaction failed, retrying",
                    extra={"error": f"{type(exc).__name__}: {exc}", "retry_in_s": delay},
                )
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def before_commit(self, batch: Batch) -> None:
        """Everything of the batch is sent and its offsets added; the commit is next (a seam
        for fault tests)."""

    def _abort(self, cause: BaseException) -> None:
        try:
            self.producer.abort_transaction()
        except Exception as exc:
            raise FatalError(
                ExitCode.DELIVERY,
                f"cannot abort the transaction after {type(cause).__name__}: {cause}: "
                f"{type(exc).__name__}: {exc}",
            ) from exc

    def _replace_refused(
        self,
        batch: Batch,
        outgoing: list[Outgoing],
        refused: list[tuple[Outgoing, BaseException]],
    ) -> list[Outgoing]:
        for o, exc in refused:
            if o.kind == "dead_letter":
                raise self._delivery_fatal(o, exc)
        indices = {o.index for o, _ in refused}
        kept = [o for o in outgoing if o.index not in indices or o.kind == "dead_letter"]
        first = {o.index: (o, exc) for o, exc in reversed(refused)}
        letters = [self._rejected_output(batch, o, exc) for o, exc in first.values()]
        batch.results = [r for r in batch.results if r.index not in indices]
        batch.dead_letters += ["output_rejected"] * len(letters)
        return kept + letters

    # ------------------------------------------------------------------------- helpers
    def _rejected_output(self, batch: Batch, o: Outgoing, exc: BaseException) -> Outgoing:
        log.warning(
            "result refused by the broker, dead-lettering its input",
            extra={"topic": o.topic, "error": f"{type(exc).__name__}: {exc}"},
        )
        rejection = Rejection(
            "output_rejected", f"{o.topic} refused the result: {type(exc).__name__}: {exc}"
        )
        return dead_letter(
            batch.records[o.index], o.index, rejection, self._routes(batch), utc_now()
        )

    def _routes(self, batch: Batch) -> Routes:
        """The routes of the model that classified ``batch`` (a reload may have come since)."""
        return batch.served.routes if batch.served is not None else self.routes

    def _delivery_fatal(self, o: Outgoing, exc: BaseException) -> FatalError:
        if isinstance(exc, RECORD_ERRORS):
            reason = (
                f"{o.topic} refused a dead letter of {len(o.value)} bytes ({exc}); lower "
                "NEWSCLF_DLQ_MAX_VALUE_BYTES below the topic's max.message.bytes"
            )
        else:
            reason = (
                f"a record for {o.topic} was not acknowledged within "
                f"{self.delivery_timeout_s:g} s (NEWSCLF_DELIVERY_TIMEOUT_S): "
                f"{type(exc).__name__}: {exc}"
            )
        return FatalError(ExitCode.DELIVERY, reason)


def _error_of(o: Outgoing) -> str:
    return dict(o.headers).get("error", b"").decode()

"""The consume → validate → batch → infer → produce → commit loop.

Delivery: at-least-once by default — offsets are committed only after every output and
dead letter of the batch is acknowledged, so a crash re-delivers at most the batch in flight.
Exactly-once: the batch's outputs and its offsets go into one Kafka transaction.

The loop itself owns no threads. ``stop()`` (SIGTERM) only sets a flag: the batch in flight
finishes, its offsets are committed, and the consumer leaves the group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from consumer.batching import BatchWindow, padded_tokens, plan_batches
from consumer.health import Health
from consumer.metrics import Metrics
from consumer.model import OnnxClassifier
from consumer.schemas import (
    Article,
    ClassifiedArticle,
    Rejection,
    SourceRef,
    dead_letter_headers,
    dead_letter_value,
    decode_article,
    round_score,
)
from consumer.settings import Settings

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5


class DeliveryError(RuntimeError):
    """Outputs of a batch were not acknowledged; its offsets were not committed."""


class BatchError(RuntimeError):
    """A batch produced a different number of results than it had valid inputs."""


@dataclass(frozen=True)
class BatchReport:
    records: int
    classified: int
    dead_lettered: int
    seconds: float


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def next_offsets(records: Sequence[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    """The offsets to commit after ``records``: one past the highest offset per partition."""
    highest: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        highest[tp] = max(highest.get(tp, -1), r.offset)
    return {tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in highest.items()}


class _Revocations(ConsumerRebalanceListener):
    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._worker._drop_pending(set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", extra={"partitions": sorted(str(tp) for tp in assigned)})


class Worker:
    def __init__(
        self,
        settings: Settings,
        model: OnnxClassifier,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        metrics: Metrics,
        health: Health,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.model = model
        self.consumer = consumer
        self.producer = producer
        self.metrics = metrics
        self.health = health
        self._clock = clock
        self._stop = threading.Event()
        self._pending: list[Any] = []
        self._window = BatchWindow(settings.batch_max_size, settings.batch_max_wait_ms / 1000)
        labels = model.info.labels
        self._label_topics = {lb: f"{settings.label_topic_prefix}{lb}" for lb in labels}
        info = model.info
        metrics.model.info(
            {
                "version": info.version,
                "sha256": info.sha256,
                "variant": info.variant,
                "provider": info.provider,
                "labels": ",".join(labels),
            }
        )

    # -- control -----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Consume until :meth:`stop`; raises :class:`DeliveryError` when a batch fails."""
        s = self.settings
        if s.exactly_once:
            self.producer.init_transactions()
        self.consumer.subscribe([s.input_topic], listener=_Revocations(self))
        # kafka-python 3.0.12: a member whose first assignment comes back empty (topic metadata
        # not known yet) rejoins, and a short poll() can abandon that rejoin, leaving the
        # consumer silently without partitions. Fetching the topic's metadata first avoids it.
        self.consumer.partitions_for_topic(s.input_topic)
        log.info(
            "consuming",
            extra={"topic": s.input_topic, "group": s.group_id, "delivery": s.delivery},
        )
        while not self._stop.is_set():
            now = self._clock()
            wait = self._window.time_left(now) if self._pending else IDLE_POLL_S
            polled = self.consumer.poll(
                timeout_ms=int(wait * 1000), max_records=max(self._window.room(), 1)
            )
            self.health.beat()
            self.health.ready = bool(self.consumer.assignment())
            now = self._clock()
            for records in polled.values():
                self._pending.extend(records)
                self._window.add(len(records), now)
            if self._window.is_full(now):
                self._flush()
        if self._pending:  # SIGTERM: finish what was already taken from Kafka
            self._flush()
        log.info("stopped consuming")

    def _drop_pending(self, revoked: set[TopicPartition]) -> None:
        """Partitions leaving us: forget their unprocessed records (their offsets were not
        committed, so the new owner reads them). Everything processed is already committed."""
        if not revoked:
            return
        kept = [r for r in self._pending if TopicPartition(r.topic, r.partition) not in revoked]
        dropped = len(self._pending) - len(kept)
        self._pending = kept
        self._window.reset()
        if kept:
            self._window.add(len(kept), self._clock())
        log.info(
            "partitions revoked",
            extra={"partitions": sorted(str(tp) for tp in revoked), "dropped_pending": dropped},
        )

    def _flush(self) -> None:
        records, self._pending = self._pending, []
        self._window.reset()
        try:
            report = self.process(records)
        except Exception:
            self.metrics.batches.labels(result="failed").inc()
            raise
        self.metrics.batches.labels(result="ok").inc()
        budget = self.settings.max_poll_interval_ms / 1000
        if report.seconds > budget / 2:
            log.warning(
                "batch took over half of max_poll_interval_ms; lower NEWSCLF_BATCH_MAX_SIZE",
                extra={"seconds": round(report.seconds, 3), "records": report.records},
            )

    # -- one batch ---------------------------------------------------------------------
    def process(self, records: Sequence[Any]) -> BatchReport:
        started = time.perf_counter()
        m = self.metrics
        stage = m.stage

        t = time.perf_counter()
        decoded = [decode_article(r.value, self.settings.max_message_bytes) for r in records]
        valid = [i for i, d in enumerate(decoded) if not isinstance(d, Rejection)]
        texts = [decoded[i][1] for i in valid]  # type: ignore[index]
        stage.labels(stage="decode").observe(time.perf_counter() - t)

        probs = self._classify(texts)
        if probs.shape[0] != len(valid):
            raise BatchError(f"{probs.shape[0]} results for {len(valid)} valid inputs")

        t = time.perf_counter()
        results: list[tuple[Any, ClassifiedArticle]] = []
        labels = self.model.info.labels
        for row, i in enumerate(valid):
            article: Article = decoded[i][0]  # type: ignore[index]
            record = records[i]
            best = int(np.argmax(probs[row]))
            results.append(
                (
                    record,
                    ClassifiedArticle(
                        id=article.id,
                        title=article.title,
                        label=labels[best],
                        score=round_score(probs[row, best]),
                        scores={
                            lb: round_score(p) for lb, p in zip(labels, probs[row], strict=True)
                        },
                        model_version=self.model.info.version,
                        model_sha256=self.model.info.sha256,
                        source=SourceRef(
                            topic=record.topic,
                            partition=record.partition,
                            offset=record.offset,
                            timestamp_ms=record.timestamp,
                        ),
                    ),
                )
            )
        rejected = [(records[i], d) for i, d in enumerate(decoded) if isinstance(d, Rejection)]
        self._deliver(records, results, rejected)
        stage.labels(stage="produce").observe(time.perf_counter() - t)

        acked = time.time()
        for record, result in results:
            if record.timestamp and record.timestamp > 0:
                m.end_to_end.observe(max(acked - record.timestamp / 1000, 0.0))
            m.predictions.labels(label=result.label).inc()
            m.confidence.observe(result.score)
        m.messages.labels(outcome="classified").inc(len(results))
        m.messages.labels(outcome="dead_lettered").inc(len(rejected))
        m.batch_size.observe(len(records))
        self._update_lag(records)
        seconds = time.perf_counter() - started
        log.debug(
            "batch done",
            extra={"records": len(records), "dead_lettered": len(rejected), "seconds": seconds},
        )
        return BatchReport(len(records), len(results), len(rejected), seconds)

    def _classify(self, texts: list[str]) -> np.ndarray:
        n_labels = len(self.model.info.labels)
        if not texts:
            return np.zeros((0, n_labels), dtype=np.float32)
        t = time.perf_counter()
        ids = self.model.tokenize(texts)
        self.metrics.stage.labels(stage="tokenize").observe(time.perf_counter() - t)

        t = time.perf_counter()
        lengths = [len(x) for x in ids]
        calls = plan_batches(lengths, self.settings.batch_max_size, self.settings.batch_max_tokens)
        out = np.empty((len(texts), n_labels), dtype=np.float32)
        for call in calls:
            out[call] = self.model.predict([ids[i] for i in call])
        self.metrics.stage.labels(stage="infer").observe(time.perf_counter() - t)
        self.metrics.batch_tokens.observe(padded_tokens(lengths, calls))
        return out

    def _sends(
        self,
        results: Sequence[tuple[Any, ClassifiedArticle]],
        rejected: Sequence[tuple[Any, Rejection]],
    ) -> list[Any]:
        s = self.settings
        at = _utc_now()
        futures = []
        for record, result in results:
            value = result.to_bytes()
            headers = [
                ("classified-at", at.encode()),
                ("model-version", result.model_version.encode()),
                ("classified-by", s.client_id.encode()),
            ]
            futures.append(
                self.producer.send(s.output_topic, key=record.key, value=value, headers=headers)
            )
            if s.route_by_label:
                futures.append(
                    self.producer.send(
                        self._label_topics[result.label],
                        key=record.key,
                        value=value,
                        headers=headers,
                    )
                )
        for record, rejection in rejected:
            log.warning(
                "dead-lettered",
                extra={
                    "error": rejection.error,
                    "reason": rejection.reason,
                    "partition": record.partition,
                    "offset": record.offset,
                },
            )
            futures.append(
                self.producer.send(
                    s.dlq_topic,
                    key=record.key,
                    value=dead_letter_value(
                        original=record.value,
                        key=record.key,
                        rejection=rejection,
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        timestamp_ms=record.timestamp,
                        failed_at=at,
                    ),
                    headers=dead_letter_headers(
                        rejection, record.topic, record.partition, record.offset
                    ),
                )
            )
        return futures

    def _deliver(
        self,
        records: Sequence[Any],
        results: Sequence[tuple[Any, ClassifiedArticle]],
        rejected: Sequence[tuple[Any, Rejection]],
    ) -> None:
        offsets = next_offsets(records)
        timeout = self.settings.produce_timeout_s
        eos = self.settings.exactly_once
        try:
            if eos:
                self.producer.begin_transaction()
            futures = self._sends(results, rejected)
            self.producer.flush(timeout=timeout)
            for f in futures:
                f.get(timeout=timeout)  # raises the delivery error, if any
            self._before_commit(records)
            t = time.perf_counter()
            if eos:
                self.producer.send_offsets_to_transaction(offsets, self.consumer.group_metadata())
                self.producer.commit_transaction()
            else:
                self.consumer.commit(offsets)
            self.metrics.stage.labels(stage="commit").observe(time.perf_counter() - t)
        except Exception as exc:
            if eos:
                self._abort()
            first = min(offsets.items(), key=lambda kv: (kv[0].topic, kv[0].partition))
            raise DeliveryError(
                f"batch of {len(records)} records not delivered, offsets not committed "
                f"(from {first[0].topic}[{first[0].partition}]): {type(exc).__name__}: {exc}"
            ) from exc

    def _before_commit(self, records: Sequence[Any]) -> None:
        """Everything of the batch is acknowledged; its offsets are about to be committed."""

    def _abort(self) -> None:
        try:
            self.producer.abort_transaction()
        except KafkaError as exc:  # fenced or broken: the process must restart anyway
            log.error("abort_transaction failed", extra={"error": str(exc)})

    def _update_lag(self, records: Sequence[Any]) -> None:
        for tp, meta in next_offsets(records).items():
            end = self.consumer.highwater(tp)
            if end is not None:
                self.metrics.lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                    max(end - meta.offset, 0)
                )

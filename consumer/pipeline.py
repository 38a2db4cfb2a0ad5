"""The pure part of the serving path: records -> decoded articles | rejections -> token ids ->
probabilities -> outgoing records. No Kafka client, no threads, no clocks of its own: the loop,
the inference worker and delivery call these functions, and tests call them with plain objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from consumer.batching import padded_tokens, plan_batches
from consumer.limits import record_bytes
from consumer.schemas import (
    Decoded,
    Rejection,
    dead_letter_headers,
    dead_letter_key,
    dead_letter_value,
    decode_article,
    output_value,
    round_scores,
)

log = logging.getLogger(__name__)

Kind = Literal["output", "label", "dead_letter"]
StageTimer = Callable[[str], Any]  # timer(stage) -> context manager


class Record(Protocol):
    """What the pipeline reads of a Kafka record (kafka-python's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


class Model(Protocol):
    labels: tuple[str, ...]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]: ...

    def predict(self, ids: Sequence[Sequence[int]]) -> np.ndarray: ...


@dataclass(frozen=True)
class Routes:
    """Where outgoing records go, and the headers every output carries."""

    output_topic: str
    dlq_topic: str
    label_topics: dict[str, str] | None  # label -> topic, when routing by label
    client_id: str
    model_version: str
    model_sha256: str
    labels: tuple[str, ...]
    dlq_max_value_bytes: int
    # The largest record each topic accepts (max.message.bytes, the producer's limit); a topic
    # not listed takes any record the producer does.
    record_limits: Mapping[str, int] = field(default_factory=dict)

    def fits(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> int | None:
        """None when the record fits ``topic``, else the topic's limit."""
        limit = self.record_limits.get(topic)
        if limit is not None and record_bytes(key, value, headers) > limit:
            return limit
        return None


@dataclass(slots=True)
class Outgoing:
    """One record to produce, and the input record (by index in its batch) it answers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    index: int
    kind: Kind


@dataclass
class Classified:
    """What inference made of a batch: probabilities for the accepted rows, in order, and the
    rows the model failed on alone (found by isolation)."""

    probs: np.ndarray  # (accepted rows, labels); rows of failed articles are NaN
    failed: dict[int, str] = field(default_factory=dict)  # row -> reason
    padded_tokens: int = 0


def decode(records: Sequence[Record], max_bytes: int) -> list[Decoded | Rejection]:
    """Each record's article, or why it is rejected. Never raises."""
    return [decode_article(r.value, max_bytes, r.key) for r in records]


def classify(
    model: Model,
    texts: Sequence[str],
    max_rows: int,
    max_tokens: int,
    timer: StageTimer,
) -> Classified:
    """Tokenize in one call, plan inference calls under the row and token budgets, run them.
    Raises whatever the tokenizer or the model raises (see :mod:`consumer.policy`)."""
    n_labels = len(model.labels)
    if not texts:
        return Classified(np.zeros((0, n_labels), dtype=np.float32))
    with timer("tokenize"):
        ids = model.tokenize(texts)
        lengths = [len(x) for x in ids]
        calls = plan_batches(lengths, max_rows, max_tokens)
    out = np.empty((len(texts), n_labels), dtype=np.float32)
    with timer("infer"):
        for call in calls:
            probs = model.predict([ids[i] for i in call])
            if probs.shape != (len(call), n_labels):
                raise ValueError(
                    f"model returned shape {probs.shape} for {len(call)} rows of {n_labels} labels"
                )
            out[call] = probs
    return Classified(out, padded_tokens=padded_tokens(lengths, calls))


def build_outgoing(
    records: Sequence[Record],
    decoded: Sequence[Decoded | Rejection],
    classified: Classified,
    routes: Routes,
    at: str,
) -> tuple[list[Outgoing], list[tuple[int, str, float]]]:
    """Output records (and per-label copies) for classified articles, dead letters for the
    rest. Returns the outgoing records and, per classified article, (index, label, score)."""
    out: list[Outgoing] = []
    results: list[tuple[int, str, float]] = []
    labels = routes.labels
    accepted = [i for i, d in enumerate(decoded) if isinstance(d, Decoded)]
    if len(accepted) != classified.probs.shape[0]:
        raise ValueError(
            f"{classified.probs.shape[0]} results for {len(accepted)} accepted articles"
        )
    rejected: list[tuple[int, Rejection]] = [
        (i, d) for i, d in enumerate(decoded) if isinstance(d, Rejection)
    ]
    ok_rows = [row for row in range(len(accepted)) if row not in classified.failed]
    scores = round_scores(classified.probs[ok_rows]) if ok_rows else []
    best = np.argmax(classified.probs[ok_rows], axis=1).tolist() if ok_rows else []
    headers = [
        ("classified-at", at.encode()),
        ("model-version", routes.model_version.encode()),
        ("classified-by", routes.client_id.encode()),
    ]
    for k, row in enumerate(ok_rows):
        i = accepted[row]
        record = records[i]
        article = decoded[i].article  # type: ignore[union-attr]
        label = labels[best[k]]
        try:
            value = output_value(
                article,
                label,
                scores[k],
                labels,
                best[k],
                routes.model_version,
                routes.model_sha256,
                record.topic,
                record.partition,
                record.offset,
                record.timestamp,
            )
        except Exception as exc:  # noqa: BLE001 - a record must never stop its batch
            rejected.append((i, Rejection("processing_failed", f"cannot encode the result: {exc}")))
            continue
        targets: list[tuple[str, Kind]] = [(routes.output_topic, "output")]
        if routes.label_topics is not None:
            targets.append((routes.label_topics[label], "label"))
        too_big = [
            (topic, limit)
            for topic, _ in targets
            if (limit := routes.fits(topic, record.key, value, headers)) is not None
        ]
        if too_big:
            topic, limit = too_big[0]
            reason = (
                f"the result takes {record_bytes(record.key, value, headers)} bytes with its "
                f"framing; {topic} accepts at most {limit} (its max.message.bytes)"
            )
            rejected.append((i, Rejection("output_rejected", reason)))
            continue
        for topic, kind in targets:
            out.append(Outgoing(topic, record.key, value, headers, i, kind))
        results.append((i, label, scores[k][best[k]]))
    for row, reason in classified.failed.items():
        rejected.append((accepted[row], Rejection("processing_failed", reason)))
    for i, rejection in sorted(rejected, key=lambda x: x[0]):
        out.append(dead_letter(records[i], i, rejection, routes, at))
    return out, results


def dead_letter(
    record: Record, index: int, rejection: Rejection, routes: Routes, at: str
) -> Outgoing:
    """The dead letter for one input record."""
    return Outgoing(
        routes.dlq_topic,
        dead_letter_key(record.key),
        dead_letter_value(
            original=record.value,
            key=record.key,
            rejection=rejection,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp,
            failed_at=at,
            max_value_bytes=routes.dlq_max_value_bytes,
        ),
        dead_letter_headers(rejection, record.topic, record.partition, record.offset),
        index,
        "dead_letter",
    )

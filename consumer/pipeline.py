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
    Prediction,
    Rejection,
    dead_letter_headers,
    dead_letter_key,
    dead_letter_value,
    decode_article,
    output_value,
    round_scores,
)

log = logging.getLogger(__name__)

Kind = Literal["output", "label", "review", "dead_letter"]
StageTimer = Callable[[str], Any]  # timer(stage) -> context manager
Detect = Callable[[Sequence[str]], list[str | None]]  # texts -> ISO 639-1 codes | None


class Record(Protocol):
    """What the pipeline reads of a Kafka record (kafka-python's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] | None


class Model(Protocol):
    labels: tuple[str, ...]

    def tokenize_marked(self, texts: Sequence[str]) -> tuple[list[list[int]], list[bool]]: ...

    def predict(
        self, ids: Sequence[Sequence[int]], texts: Sequence[str] | None = None
    ) -> np.ndarray: ...


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
    # Review routing: None sends every classified article to output_topic.
    review_topic: str | None = None
    review_threshold: float | None = None  # calibrated confidence below it: low_confidence
    supported_languages: frozenset[str] | None = None  # None: any language
    # The largest record each topic accepts (max.message.bytes, the producer's limit); a topic
    # not listed takes any record the producer does.
    record_limits: Mapping[str, int] = field(default_factory=dict)

    def review_reasons(self, score: float, language: str | None) -> list[str]:
        """Why an article with this confidence and language should go to review (in
        :data:`~consumer.schemas.REVIEW_REASONS` order); empty: publish its label."""
        reasons = []
        if (
            language is not None
            and self.supported_languages is not None
            and language not in self.supported_languages
        ):
            reasons.append("unsupported_language")
        if self.review_threshold is not None and score < self.review_threshold:
            reasons.append("low_confidence")
        return reasons

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


@dataclass(frozen=True, slots=True)
class Result:
    """One classified article: where it went (``reason`` None: labelled on the output topic)."""

    index: int  # in its batch
    label: str
    score: float
    reason: str | None


@dataclass
class Classified:
    """What inference made of a batch: probabilities for the accepted rows, in order, and the
    rows the model failed on alone (found by isolation); per row, whether the text was longer
    than the model's window."""

    probs: np.ndarray  # (accepted rows, labels); rows of failed articles are NaN
    failed: dict[int, str] = field(default_factory=dict)  # row -> reason
    padded_tokens: int = 0
    truncated: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.truncated:
            self.truncated = [False] * self.probs.shape[0]


def decode(records: Sequence[Record], max_bytes: int) -> list[Decoded | Rejection]:
    """Each record's article, or why it is rejected. Never raises."""
    return [decode_article(r.value, max_bytes, r.key) for r in records]


def detect_languages(
    decoded: Sequence[Decoded | Rejection], detect: Detect | None
) -> list[str | None]:
    """The language of each accepted article (None: undetermined, or no detector). Never
    raises: a detector failure leaves the batch's languages undetermined (logged)."""
    texts = [d.text for d in decoded if isinstance(d, Decoded)]
    if detect is None or not texts:
        return [None] * len(texts)
    try:
        languages = detect(texts)
        if len(languages) != len(texts):
            raise ValueError(f"{len(languages)} languages for {len(texts)} texts")
        return languages
    except Exception as exc:  # noqa: BLE001 - routing by language is best effort
        log.warning(
            "language detection failed: the batch's languages are undetermined",
            extra={"error": f"{type(exc).__name__}: {exc}"},
        )
        return [None] * len(texts)


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
        ids, truncated = model.tokenize_marked(texts)
        lengths = [len(x) for x in ids]
        calls = plan_batches(lengths, max_rows, max_tokens)
    out = np.empty((len(texts), n_labels), dtype=np.float32)
    with timer("infer"):
        for call in calls:
            probs = model.predict([ids[i] for i in call], [texts[i] for i in call])
            if probs.shape != (len(call), n_labels):
                raise ValueError(
                    f"model returned shape {probs.shape} for {len(call)} rows of {n_labels} labels"
                )
            out[call] = probs
    return Classified(out, padded_tokens=padded_tokens(lengths, calls), truncated=truncated)


def build_outgoing(
    records: Sequence[Record],
    decoded: Sequence[Decoded | Rejection],
    classified: Classified,
    routes: Routes,
    at: str,
    languages: Sequence[str | None] | None = None,
) -> tuple[list[Outgoing], list[Result]]:
    """Output records (and per-label copies) for classified articles, review records for those
    the service should not decide alone, dead letters for the rest. ``languages``: per accepted
    article (:func:`detect_languages`). Returns the outgoing records and one :class:`Result`
    per classified article."""
    out: list[Outgoing] = []
    results: list[Result] = []
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
        prediction = Prediction(
            labels[best[k]],
            best[k],
            scores[k],
            languages[row] if languages else None,
            classified.truncated[row],
        )
        score = scores[k][best[k]]
        reasons = (
            routes.review_reasons(score, prediction.language)
            if routes.review_topic is not None
            else []
        )
        try:
            value = output_value(
                article,
                prediction,
                labels,
                routes.model_version,
                routes.model_sha256,
                record.topic,
                record.partition,
                record.offset,
                record.timestamp,
                review=(reasons, routes.review_threshold) if reasons else None,
            )
        except Exception as exc:  # noqa: BLE001 - a record must never stop its batch
            rejected.append((i, Rejection("processing_failed", f"cannot encode the result: {exc}")))
            continue
        targets: list[tuple[str, Kind]]
        record_headers = headers
        if reasons:
            assert routes.review_topic is not None
            targets = [(routes.review_topic, "review")]
            record_headers = [*headers, ("review-reason", reasons[0].encode())]
        else:
            targets = [(routes.output_topic, "output")]
            if routes.label_topics is not None:
                targets.append((routes.label_topics[prediction.label], "label"))
        too_big = [
            (topic, limit)
            for topic, _ in targets
            if (limit := routes.fits(topic, record.key, value, record_headers)) is not None
        ]
        if too_big:
            topic, limit = too_big[0]
            reason = (
                f"the result takes {record_bytes(record.key, value, record_headers)} bytes "
                f"with its framing; {topic} accepts at most {limit} (its max.message.bytes)"
            )
            rejected.append((i, Rejection("output_rejected", reason)))
            continue
        for topic, kind in targets:
            out.append(Outgoing(topic, record.key, value, record_headers, i, kind))
        results.append(Result(i, prediction.label, score, reasons[0] if reasons else None))
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
        dead_letter_headers(
            rejection, record.topic, record.partition, record.offset, record.headers
        ),
        index,
        "dead_letter",
    )

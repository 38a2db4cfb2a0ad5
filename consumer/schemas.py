"""Wire schemas: what arrives on the input topic, what leaves on the output and dead-letter topics.

Decoding never raises past :func:`decode_article`: every failure becomes a :class:`Rejection`
with a stable ``error`` class and a human-readable ``reason``. JSON is parsed and validated in
one pass (pydantic-core), which also rejects what would break a later stage: lone surrogate
escapes (``"\\ud800"``: not Unicode text, the tokenizer and the output encoder would fail on
them), nesting deeper than 200 levels, integers too long to parse. Fields the service
ignores are not policed further (NaN or 1e999 there are tolerated).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from consumer.limits import (
    MAX_ID_CHARS,
    MAX_KEY_BYTES,
    REASON_CHARS,
    REDRIVE_HEADER_BYTES,
    TITLE_ECHO_CHARS,
)
from newsclf.textprep import compose

BOM = b"\xef\xbb\xbf"

# The error classes of dead letters (README "Contracts").
ERRORS = (
    "too_large",  # value over NEWSCLF_MAX_MESSAGE_BYTES, or key over 4096 bytes
    "bad_utf8",  # value is not UTF-8
    "bad_json",  # not JSON (or no value at all), lone surrogates, nesting > 200, huge integers
    "not_an_object",  # JSON, but not an object
    "invalid_article",  # missing or blank id, wrong types
    "empty_text",  # neither title nor text after normalisation
    "processing_failed",  # the model failed on this record alone (found by bisecting a batch)
    "output_rejected",  # the broker refused this record's result
)


class Article(BaseModel):
    """An input article. Unknown fields are tolerated and ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    title: str | None = None
    text: str | None = None
    source: str | None = None
    published_at: str | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("id is blank")
        return value

    def model_input(self) -> str:
        """The string the model classifies (title then body, normalised)."""
        return compose(self.title, self.text)


@dataclass(frozen=True, slots=True)
class Decoded:
    """An accepted article and the text the model classifies."""

    article: Article
    text: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input record cannot be classified."""

    error: str
    reason: str

    def __post_init__(self) -> None:
        if len(self.reason) > REASON_CHARS:
            object.__setattr__(self, "reason", self.reason[: REASON_CHARS - 3] + "...")


def _summarise(exc: ValidationError) -> tuple[str, str]:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]["type"] if errors else ""
    if first == "json_invalid":
        msg = str(errors[0]["msg"])
        if "surrogate" in msg or "hex escape" in msg:
            msg += " (a \\uD800-\\uDFFF escape must be part of a valid surrogate pair)"
        return "bad_json", f"value is not valid JSON text: {msg}"
    if first == "model_type":
        return "not_an_object", "value is JSON, but not an object"
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "article"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid_article", "; ".join(parts)


def decode_article(
    value: bytes | None, max_bytes: int, key: bytes | None = None
) -> Decoded | Rejection:
    """Bytes from Kafka -> the article and its model input, or the reason it is rejected.

    Never raises: any failure of parsing, validation or text preparation is a rejection.
    """
    if value is None:
        return Rejection("bad_json", "record has no value (tombstone)")
    if len(value) > max_bytes:
        return Rejection("too_large", f"value is {len(value)} bytes, the limit is {max_bytes}")
    if key is not None and len(key) > MAX_KEY_BYTES:
        return Rejection("too_large", f"key is {len(key)} bytes, the limit is {MAX_KEY_BYTES}")
    if value.startswith(BOM):
        value = value[len(BOM) :]
    try:
        article = Article.model_validate_json(value)
    except ValidationError as exc:
        if exc.errors(include_url=False, include_input=False)[0]["type"] == "json_invalid":
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as bad:
                return Rejection(
                    "bad_utf8", f"value is not UTF-8: {bad.reason} at byte {bad.start}"
                )
        error, reason = _summarise(exc)
        return Rejection(error, reason)
    except Exception as exc:  # noqa: BLE001 - decoding must never raise past this point
        return Rejection("bad_json", f"value cannot be parsed: {type(exc).__name__}: {exc}")
    try:
        text = article.model_input()
    except Exception as exc:  # noqa: BLE001
        return Rejection("invalid_article", f"text cannot be prepared: {type(exc).__name__}")
    if not text:
        return Rejection("empty_text", "article has no text: 'title' and 'text' are both empty")
    return Decoded(article, text)


# ------------------------------------------------------------------------------------ outputs


class SourceRef(BaseModel):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


class ClassifiedArticle(BaseModel):
    """One output record (its schema; :func:`output_value` writes it). Deterministic for the
    same input record and model: no wall-clock time in the value (the classification time
    travels in the ``classified-at`` header), so a replayed duplicate is byte-identical.

    ``score`` and ``scores`` are calibrated probabilities (the model's temperature applied).
    ``language``: the detected language (ISO 639-1), null when the text is too short or too
    mixed to tell. ``truncated``: the article was longer than the model's window, so the
    model read its head and tail only."""

    id: str
    title: str | None
    label: str
    score: float
    scores: dict[str, float]
    language: str | None
    truncated: bool
    model_version: str
    model_sha256: str
    source: SourceRef


# Why an article goes to the review topic instead of being labelled (README "Contracts").
REVIEW_REASONS = (
    "unsupported_language",  # detected in a language the model was not trained on
    "low_confidence",  # calibrated confidence below the review threshold
)


class ReviewArticle(BaseModel):
    """One review record: an article the service should not decide alone, with everything a
    reviewer needs. ``reason`` is the first of ``reasons`` (in :data:`REVIEW_REASONS` order);
    ``label``/``score`` are the model's best guess, ``scores`` the whole calibrated
    distribution, ``threshold`` the review threshold in force. Deterministic like
    :class:`ClassifiedArticle`."""

    id: str
    title: str | None
    reason: str
    reasons: list[str]
    label: str
    score: float
    scores: dict[str, float]
    threshold: float | None
    language: str | None
    truncated: bool
    model_version: str
    model_sha256: str
    source: SourceRef


def round_scores(probs: Any) -> list[list[float]]:
    """Scores rounded to 6 places, so tiny numeric noise between batch compositions does not
    change the output bytes. ``probs``: a (rows, labels) float array."""
    import numpy as np

    return np.round(np.asarray(probs, dtype=np.float64), 6).tolist()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the model made of one article, as the output and review records carry it."""

    label: str
    best: int
    scores: Sequence[float]  # calibrated, rounded (:func:`round_scores`), in label order
    language: str | None
    truncated: bool


def output_value(
    article: Article,
    prediction: Prediction,
    labels: Sequence[str],
    model_version: str,
    model_sha256: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    review: tuple[list[str], float | None] | None = None,
) -> bytes:
    """The output record's value, in :class:`ClassifiedArticle`'s field order; with
    ``review=(reasons, threshold)`` the review record's, in :class:`ReviewArticle`'s."""
    title = article.title
    if title is not None and len(title) > TITLE_ECHO_CHARS:
        title = title[:TITLE_ECHO_CHARS]
    body: dict[str, Any] = {"id": article.id, "title": title}
    if review is not None:
        reasons, threshold = review
        body.update(reason=reasons[0], reasons=reasons)
    body.update(
        label=prediction.label,
        score=prediction.scores[prediction.best],
        scores=dict(zip(labels, prediction.scores, strict=True)),
    )
    if review is not None:
        body["threshold"] = review[1]
    body.update(
        language=prediction.language,
        truncated=prediction.truncated,
        model_version=model_version,
        model_sha256=model_sha256,
        source={
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp_ms": timestamp_ms,
        },
    )
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------------------- dead letters


class DeadLetter(BaseModel):
    """One dead-letter record (its schema; :func:`dead_letter_value` writes it): why the input
    could not be classified, where it was, and the original bytes (base64, up to
    NEWSCLF_DLQ_MAX_VALUE_BYTES; ``value_truncated`` when cut)."""

    error: str = Field(description=f"one of {', '.join(ERRORS)}")
    reason: str
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    failed_at: str
    key_b64: str | None
    key_bytes: int | None
    value_b64: str | None
    value_bytes: int | None
    value_sha256: str | None
    value_truncated: bool


class ShadowDisagreement(BaseModel):
    """One record of NEWSCLF_SHADOW_TOPIC: an article the shadow model labelled otherwise."""

    id: str
    live_label: str
    live_score: float
    live_model_version: str
    shadow_label: str
    shadow_score: float
    shadow_model_version: str
    shadow_model_sha256: str
    source: dict[str, Any]


def dead_letter_value(
    *,
    original: bytes | None,
    key: bytes | None,
    rejection: Rejection,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    failed_at: str,
    max_value_bytes: int,
) -> bytes:
    """The dead-letter record: the original bytes (base64) and everything needed to replay it.

    At most ``max_value_bytes`` of the original are embedded; a larger original is marked
    ``value_truncated`` and identified by its size and sha256 (it stays in the input topic,
    at ``topic``/``partition``/``offset``, until retention removes it)."""
    payload: dict[str, Any] = {
        "error": rejection.error,
        "reason": rejection.reason,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp_ms": timestamp_ms,
        "failed_at": failed_at,
        "key_b64": (
            base64.b64encode(key).decode("ascii")
            if key is not None and len(key) <= MAX_KEY_BYTES
            else None
        ),
        "key_bytes": None if key is None else len(key),
        "value_b64": None,
        "value_bytes": None,
        "value_sha256": None,
        "value_truncated": False,
    }
    if original is not None:
        payload["value_b64"] = base64.b64encode(original[:max_value_bytes]).decode("ascii")
        payload["value_bytes"] = len(original)
        payload["value_sha256"] = hashlib.sha256(original).hexdigest()
        payload["value_truncated"] = len(original) > max_value_bytes
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def dead_letter_key(key: bytes | None) -> bytes | None:
    """Dead letters are keyed like the input, unless that key is itself too large."""
    return key if key is not None and len(key) <= MAX_KEY_BYTES else None


# Headers a redrive (``python -m consumer.redrive``) puts on the records it re-sends: how many
# times the article has been redriven, and the dead letter it was redriven from. The service
# copies them onto a new dead letter for the same article, so a redrive loop stays visible and
# ``--max-redrives`` stops it.
REDRIVE_COUNT = "redrive-count"
REDRIVE_HEADERS = (
    REDRIVE_COUNT,
    "redrive-dlq-topic",
    "redrive-dlq-partition",
    "redrive-dlq-offset",
    "redrive-error",
)


def redrive_provenance(headers: Sequence[tuple[str, bytes]] | None) -> list[tuple[str, bytes]]:
    """The redrive headers among an input record's headers (each value at most 64 bytes)."""
    if not headers:
        return []
    return [
        (name, bytes(value)[:REDRIVE_HEADER_BYTES])
        for name, value in headers
        if name in REDRIVE_HEADERS and isinstance(value, bytes | bytearray)
    ]


def redrive_count(headers: Sequence[tuple[str, bytes]] | None) -> int:
    """How many times a record has been redriven (0 without the header or when unreadable)."""
    for name, value in headers or ():
        if name == REDRIVE_COUNT:
            try:
                return max(0, int(bytes(value).decode("ascii")))
            except (ValueError, UnicodeDecodeError):
                return 0
    return 0


def dead_letter_headers(
    rejection: Rejection,
    topic: str,
    partition: int,
    offset: int,
    input_headers: Sequence[tuple[str, bytes]] | None = None,
) -> list[tuple[str, bytes]]:
    """The dead letter's headers; an input that was itself redriven keeps its provenance."""
    return [
        ("error", rejection.error.encode()),
        ("reason", rejection.reason.encode("utf-8")[:REASON_CHARS]),
        ("source-topic", topic.encode()),
        ("source-partition", str(partition).encode()),
        ("source-offset", str(offset).encode()),
        *redrive_provenance(input_headers),
    ]

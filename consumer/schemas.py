"""Wire schemas: what arrives on the input topic, what leaves on the output and dead-letter topics.

Decoding never raises past :func:`decode_article`: every failure becomes a :class:`Rejection`
with a stable ``error`` class and a human-readable ``reason``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsclf.textprep import compose

MAX_ID_LENGTH = 256


class Article(BaseModel):
    """An input article. Unknown fields are tolerated and ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
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


@dataclass(frozen=True)
class Rejection:
    """Why an input record cannot be classified."""

    error: str  # too_large | bad_utf8 | bad_json | not_an_object | invalid_article | empty_text
    reason: str


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "article"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def decode_article(value: bytes | None, max_bytes: int) -> tuple[Article, str] | Rejection:
    """Bytes from Kafka → (article, model input text), or the reason it is rejected."""
    if value is None:
        return Rejection("bad_json", "record has no value (tombstone)")
    if len(value) > max_bytes:
        return Rejection("too_large", f"value is {len(value)} bytes, the limit is {max_bytes}")
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection("bad_utf8", f"value is not UTF-8: {exc.reason} at byte {exc.start}")
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as exc:
        return Rejection("bad_json", f"value is not JSON: {exc.msg} at position {exc.pos}")
    if not isinstance(obj, dict):
        return Rejection("not_an_object", f"value is a JSON {type(obj).__name__}, not an object")
    try:
        article = Article.model_validate(obj)
    except ValidationError as exc:
        return Rejection("invalid_article", _summarise(exc))
    text = article.model_input()
    if not text:
        return Rejection("empty_text", "article has no text: 'title' and 'text' are both empty")
    return article, text


class SourceRef(BaseModel):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


class ClassifiedArticle(BaseModel):
    """One output record. Deterministic for the same input record and model (no wall-clock
    time in the value; the classification time travels in the ``classified-at`` header), so a
    replayed duplicate is byte-identical and recognisable."""

    id: str
    title: str | None
    label: str
    score: float
    scores: dict[str, float]
    model_version: str
    model_sha256: str
    source: SourceRef

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


def round_score(p: float) -> float:
    """Scores are rounded so tiny numeric noise between batch compositions does not change bytes."""
    return round(float(p), 6)


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
) -> bytes:
    """The dead-letter record: the original bytes (base64) and everything needed to replay it."""
    payload: dict[str, Any] = {
        "error": rejection.error,
        "reason": rejection.reason,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp_ms": timestamp_ms,
        "failed_at": failed_at,
        "key_b64": base64.b64encode(key).decode("ascii") if key is not None else None,
        "value_b64": base64.b64encode(original).decode("ascii") if original is not None else None,
    }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def dead_letter_headers(
    rejection: Rejection, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    return [
        ("error", rejection.error.encode()),
        ("reason", rejection.reason.encode("utf-8")[:1000]),
        ("source-topic", topic.encode()),
        ("source-partition", str(partition).encode()),
        ("source-offset", str(offset).encode()),
    ]

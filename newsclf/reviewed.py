"""Reviewed articles: the JSONL file that carries reviewers' labels back to training.

One JSON object per line::

    {"id": "a1", "title": "Shares rally", "text": "Markets rose ...", "label": "business",
     "reviewer": "ana", "reviewed_at": "2026-12-06T10:00:00+00:00"}

``id``, ``label``, ``reviewer`` and ``reviewed_at`` (ISO 8601) are required, and at least one of
``title`` and ``text`` (a headline alone is a valid review). Optional: ``source`` (the input's
``topic``/``partition``/``offset``), ``model_label`` and ``model_version`` (what the service
said). Unknown fields are ignored. ``python -m consumer.reviewed`` writes it from the review
topic; ``python -m training --add-data FILE`` reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

REQUIRED = ("id", "label", "reviewer", "reviewed_at")


class ReviewedFormatError(ValueError):
    """A line of a reviewed-articles file is not one (the message names the line)."""


@dataclass(frozen=True)
class ReviewedArticle:
    id: str
    label: str
    reviewer: str
    reviewed_at: str
    title: str | None = None
    text: str | None = None
    source: dict[str, Any] | None = None
    model_label: str | None = None
    model_version: str | None = None

    @classmethod
    def from_obj(cls, obj: Any) -> ReviewedArticle:
        """Validate one decoded line; raises ``ValueError`` saying what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        for name in REQUIRED:
            value = obj.get(name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name!r} must be a non-empty string")
        try:
            datetime.fromisoformat(obj["reviewed_at"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"reviewed_at {obj['reviewed_at']!r} is not ISO 8601") from exc
        for name in ("title", "text", "model_label", "model_version"):
            if obj.get(name) is not None and not isinstance(obj[name], str):
                raise ValueError(f"{name!r} must be a string when given")
        if not any(isinstance(obj.get(n), str) and obj[n].strip() for n in ("title", "text")):
            raise ValueError("neither 'title' nor 'text' holds any text")
        if obj.get("source") is not None and not isinstance(obj["source"], dict):
            raise ValueError("'source' must be an object when given")
        return cls(
            id=obj["id"],
            label=obj["label"].strip(),
            reviewer=obj["reviewer"],
            reviewed_at=obj["reviewed_at"],
            title=obj.get("title"),
            text=obj.get("text"),
            source=obj.get("source"),
            model_label=obj.get("model_label"),
            model_version=obj.get("model_version"),
        )

    def to_line(self) -> str:
        body = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def parse(lines: Iterable[str], where: str = "<reviewed>") -> Iterator[ReviewedArticle]:
    """Every reviewed article in ``lines`` (blank lines skipped); raises
    :class:`ReviewedFormatError` naming ``where`` and the line number on the first bad one."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield ReviewedArticle.from_obj(json.loads(line))
        except ValueError as exc:  # json.JSONDecodeError is one
            raise ReviewedFormatError(f"{where}:{lineno}: {exc}") from exc


def read_reviewed(path: str | Path) -> list[ReviewedArticle]:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as fh:
            return list(parse(fh, str(path)))
    except UnicodeDecodeError as exc:
        raise ReviewedFormatError(f"{path}: not UTF-8 ({exc})") from exc


def write_reviewed(articles: Iterable[ReviewedArticle], out: TextIO) -> int:
    n = 0
    for article in articles:
        out.write(article.to_line() + "\n")
        n += 1
    return n

"""``python -m consumer.reviewed LABELS -o FILE``: reviewers' labels plus the review topic's
records become a reviewed-articles file (:mod:`newsclf.reviewed`) for
``python -m training --add-data FILE``.

LABELS is what reviewers decided: CSV with a header or JSONL, with ``id``, ``label``,
``reviewer`` and optionally ``reviewed_at`` (ISO 8601; default: now). Each label is joined with
the latest review record of that id on NEWSCLF_REVIEW_TOPIC, and the article's whole text is
read back from the input topic at the record's source offset (a review record carries only the
headline); once retention removed it, the headline alone is kept. Reads the service's NEWSCLF_*
settings. Exit codes: 0 written, 2 bad arguments or labels file, 3 Kafka unreachable.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from consumer.schemas import decode_article
from newsclf.cli import fail
from newsclf.reviewed import ReviewedArticle

log = logging.getLogger(__name__)


class LabelsError(ValueError):
    """The reviewers' labels file is not one (the message names the line)."""


@dataclass(frozen=True)
class Label:
    id: str
    label: str
    reviewer: str
    reviewed_at: str


def read_labels(text: str, where: str, now: str) -> list[Label]:
    """The labels in a CSV (with a header) or JSONL file's ``text``."""
    stripped = text.lstrip()
    rows: list[tuple[int, Any]] = []
    if stripped.startswith("{"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise LabelsError(f"{where}:{n}: not JSON ({exc.msg})") from exc
    else:
        reader = csv.DictReader(io.StringIO(text))
        missing = {"id", "label", "reviewer"} - set(reader.fieldnames or ())
        if missing:
            raise LabelsError(
                f"{where}: no column {', '.join(sorted(missing))} "
                "(a CSV header id,label,reviewer[,reviewed_at], or JSONL)"
            )
        rows = [(n, row) for n, row in enumerate(reader, 2)]
    labels = []
    for n, row in rows:
        if not isinstance(row, dict):
            raise LabelsError(f"{where}:{n}: expected an object")
        for name in ("id", "label", "reviewer"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                raise LabelsError(f"{where}:{n}: {name!r} must be a non-empty string")
        at = row.get("reviewed_at") or now
        try:
            datetime.fromisoformat(str(at).replace("Z", "+00:00"))
        except ValueError as exc:
            raise LabelsError(f"{where}:{n}: reviewed_at {at!r} is not ISO 8601") from exc
        labels.append(Label(row["id"], row["label"].strip(), row["reviewer"], str(at)))
    return labels


@dataclass
class JoinReport:
    written: int = 0
    headline_only: int = 0  # the input record was gone: the headline alone was kept
    unmatched: list[str] = field(default_factory=list)  # labels with no review record

    def summary(self, output: str) -> str:
        line = f"wrote {self.written} reviewed articles to {output}"
        if self.headline_only:
            line += f" ({self.headline_only} headline only: their input records are gone)"
        if self.unmatched:
            shown = ", ".join(self.unmatched[:5]) + (", ..." if len(self.unmatched) > 5 else "")
            line += f"; {len(self.unmatched)} labels had no review record ({shown})"
        return line


def join(
    labels: Sequence[Label],
    reviews: Iterable[dict[str, Any]],
    fetch: Callable[[str, int, int], bytes | None],
) -> tuple[list[ReviewedArticle], JoinReport]:
    """Each label with the latest review record of its id (records in topic order), the
    article's title and text read back with ``fetch(topic, partition, offset)`` (pure apart
    from ``fetch``)."""
    wanted = {label.id for label in labels}
    latest: dict[str, dict[str, Any]] = {}
    for review in reviews:
        if isinstance(review, dict) and review.get("id") in wanted:
            latest[review["id"]] = review
    report = JoinReport()
    out = []
    for label in labels:
        found = latest.get(label.id)
        if found is None:
            report.unmatched.append(label.id)
            continue
        review = found
        source = review.get("source") or {}
        title, text = review.get("title"), None
        try:
            original = fetch(source["topic"], int(source["partition"]), int(source["offset"]))
        except (KeyError, TypeError, ValueError):
            original = None
        decoded = decode_article(original, len(original)) if original is not None else None
        article = getattr(decoded, "article", None)
        if article is not None and article.id == label.id:
            title, text = article.title, article.text
        else:
            report.headline_only += 1
        if not (title or text):
            report.unmatched.append(label.id)
            continue
        out.append(
            ReviewedArticle(
                id=label.id,
                label=label.label,
                reviewer=label.reviewer,
                reviewed_at=label.reviewed_at,
                title=title,
                text=text,
                source={k: source.get(k) for k in ("topic", "partition", "offset")},
                model_label=review.get("label"),
                model_version=review.get("model_version"),
            )
        )
        report.written += 1
    return out, report


def read_topic(settings: Any, topic: str, idle_s: float = 5.0) -> list[dict[str, Any]]:
    """Every JSON object on ``topic`` up to its end when called, in (partition, offset) order;
    records that are not JSON objects are skipped."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        **settings.kafka_common(),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    out: list[tuple[int, int, dict[str, Any]]] = []
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"the review topic {topic!r} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        last = time.monotonic()
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            polled = consumer.poll(timeout_ms=500)
            if not polled:
                if time.monotonic() - last > idle_s:
                    break
                continue
            last = time.monotonic()
            for records in polled.values():
                for r in records:
                    try:
                        value = json.loads(r.value)
                    except (TypeError, ValueError):
                        continue
                    if isinstance(value, dict):
                        out.append((r.partition, r.offset, value))
    finally:
        consumer.close()
    return [v for _, _, v in sorted(out, key=lambda x: (x[0], x[1]))]


def main(argv: list[str] | None = None) -> int:
    from kafka.errors import KafkaError

    from consumer.kafka_io import RecordReader
    from consumer.settings import Settings

    p = argparse.ArgumentParser(
        prog="python -m consumer.reviewed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "labels", help="the reviewers' labels: CSV (id,label,reviewer[,reviewed_at]) or JSONL"
    )
    p.add_argument("--output", "-o", required=True, help="the reviewed-articles JSONL to write")
    p.add_argument("--review-topic", help="default NEWSCLF_REVIEW_TOPIC")
    p.add_argument("--bootstrap-servers", help="default NEWSCLF_BOOTSTRAP_SERVERS")
    args = p.parse_args(argv)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        labels = read_labels(Path(args.labels).read_text(encoding="utf-8"), args.labels, now)
    except (OSError, UnicodeDecodeError, LabelsError) as exc:
        return fail(str(exc), 2)
    settings = Settings()
    if args.bootstrap_servers:
        settings = settings.model_copy(update={"bootstrap_servers": args.bootstrap_servers})
    topic = args.review_topic or settings.review_topic
    reader = RecordReader(settings.kafka_common())
    try:
        articles, report = join(labels, read_topic(settings, topic), reader.read)
    except LookupError as exc:
        return fail(str(exc), 3)
    except KafkaError as exc:
        return fail(f"{settings.bootstrap_servers}: {type(exc).__name__}: {exc}", 3)
    finally:
        reader.close()
    with open(args.output, "w", encoding="utf-8") as fh:
        for article in articles:
            fh.write(article.to_line() + "\n")
    print(report.summary(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())

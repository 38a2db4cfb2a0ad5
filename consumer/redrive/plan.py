"""The pure half of a redrive: what becomes of each dead letter, and the counts (no Kafka)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from consumer.schemas import ERRORS, REDRIVE_COUNT, redrive_count

log = logging.getLogger(__name__)

# Why a dead letter is not sent (the summary counts each).
SKIP_REASONS = (
    "not_selected",  # outside the error classes, time or offset range asked for
    "max_redrives",  # redriven max_redrives times already
    "no_value",  # the original had no value (a tombstone): nothing to classify
    "original_gone",  # the original was too large to embed, and its source topic no longer has it
    "unreadable",  # the dead letter itself is not one the service wrote
)


class DeadLetterRecord(Protocol):
    """What redrive reads of a dead-letter record (kafka-python's ConsumerRecord has it)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] | None


@dataclass(frozen=True)
class Selection:
    """Which dead letters to redrive; every field left empty selects all of them."""

    errors: frozenset[str] = frozenset()
    since_ms: int | None = None  # dead-lettered at or after (the record's timestamp)
    until_ms: int | None = None  # dead-lettered before
    partition: int | None = None  # of the dead-letter topic
    from_offset: int | None = None  # in the dead-letter topic, inclusive
    to_offset: int | None = None  # inclusive

    def __post_init__(self) -> None:
        unknown = sorted(self.errors - set(ERRORS))
        if unknown:
            raise ValueError(
                f"unknown error class {', '.join(unknown)} (one of {', '.join(ERRORS)})"
            )
        if (
            self.since_ms is not None
            and self.until_ms is not None
            and self.since_ms >= self.until_ms
        ):
            raise ValueError("the time range is empty (since must come before until)")
        if (
            self.from_offset is not None
            and self.to_offset is not None
            and self.from_offset > self.to_offset
        ):
            raise ValueError("the offset range is empty (from-offset must be <= to-offset)")

    def selects(self, record: DeadLetterRecord, error: str) -> bool:
        return (
            (not self.errors or error in self.errors)
            and (self.since_ms is None or record.timestamp >= self.since_ms)
            and (self.until_ms is None or record.timestamp < self.until_ms)
            and (self.partition is None or record.partition == self.partition)
            and (self.from_offset is None or record.offset >= self.from_offset)
            and (self.to_offset is None or record.offset <= self.to_offset)
        )

    def slug(self) -> str:
        """A short, stable name for this selection (and destination), for its consumer group."""
        errors = "+".join(sorted(self.errors)) or "all"
        ranged = (self.since_ms, self.until_ms, self.partition, self.from_offset, self.to_offset)
        if all(v is None for v in ranged):
            return errors
        digest = hashlib.sha256(repr(ranged).encode()).hexdigest()[:8]
        return f"{errors}-{digest}"


@dataclass(frozen=True)
class Plan:
    """What becomes of one dead letter: a record to send, or the reason it is skipped."""

    dlq_partition: int
    dlq_offset: int
    error: str
    topic: str | None = None
    key: bytes | None = None
    value: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    skip: str | None = None
    # The original is not embedded in full: fetch it from (topic, partition, offset) and check
    # it against this sha256 before sending.
    fetch: tuple[str, int, int, str] | None = None

    def describe(self) -> str:
        where = f"dlq {self.dlq_partition}/{self.dlq_offset} [{self.error}]"
        if self.skip:
            return f"skip {where}: {self.skip}"
        key = self.key.decode("utf-8", "replace") if self.key is not None else "-"
        size = f"{len(self.value)} bytes" if self.value is not None else "from its source topic"
        return f"send {where} -> {self.topic} key={key} ({size})"


def plan(
    record: DeadLetterRecord,
    selection: Selection,
    *,
    max_redrives: int = 1,
    to_topic: str | None = None,
) -> Plan:
    """The fate of one dead letter (pure: no Kafka)."""
    where = (record.partition, record.offset)

    def skip(error: str, reason: str) -> Plan:
        return Plan(*where, error=error, skip=reason)

    try:
        letter = json.loads(record.value or b"")
        error = letter["error"]
        source = letter["topic"]
        if (
            not isinstance(letter, dict)
            or not isinstance(error, str)
            or not isinstance(source, str)
        ):
            raise TypeError("not a dead letter")
    except (ValueError, TypeError, KeyError):
        return skip("?", "unreadable")
    if not selection.selects(record, error):
        return skip(error, "not_selected")
    count = redrive_count(record.headers)
    if count >= max_redrives:
        return skip(error, "max_redrives")
    try:
        key = base64.b64decode(letter["key_b64"], validate=True) if letter.get("key_b64") else None
        embedded = letter.get("value_b64")
        value = base64.b64decode(embedded, validate=True) if embedded is not None else None
    except (binascii.Error, TypeError, ValueError):
        return skip(error, "unreadable")
    headers = (
        (REDRIVE_COUNT, str(count + 1).encode()),
        ("redrive-dlq-topic", record.topic.encode()),
        ("redrive-dlq-partition", str(record.partition).encode()),
        ("redrive-dlq-offset", str(record.offset).encode()),
        ("redrive-error", error.encode()),
    )
    topic = to_topic or source
    if value is None:
        return skip(error, "no_value")
    if letter.get("value_truncated"):
        try:
            fetch = (
                source,
                int(letter["partition"]),
                int(letter["offset"]),
                letter["value_sha256"],
            )
        except (KeyError, TypeError, ValueError):
            return skip(error, "unreadable")
        return Plan(*where, error=error, topic=topic, key=key, headers=headers, fetch=fetch)
    return Plan(*where, error=error, topic=topic, key=key, value=value, headers=headers)


@dataclass
class RedriveReport:
    """What a run did: dead letters read, sent, and skipped by reason."""

    group: str
    read: int = 0
    sent: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    by_error: Counter[str] = field(default_factory=Counter)  # of those sent
    seconds: float = 0.0

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = ", ".join(f"{r} {n}" for r, n in sorted(self.skipped.items())) or "none"
        sent = ", ".join(f"{e} {n}" for e, n in sorted(self.by_error.items()))
        return (
            f"read {self.read} dead letters in {self.seconds:.1f} s: sent {self.sent}"
            + (f" ({sent})" if sent else "")
            + f", skipped {skipped} ({why}); consumer group {self.group}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "read": self.read,
            "sent": self.sent,
            "skipped": dict(self.skipped),
            "sent_by_error": dict(self.by_error),
            "seconds": round(self.seconds, 3),
        }


class Fetcher(Protocol):
    def __call__(self, topic: str, partition: int, offset: int) -> bytes | None: ...


def resolve(p: Plan, fetch_original: Fetcher) -> Plan:
    """A plan whose original was not embedded, with the original read back from its source
    topic and checked against the dead letter's sha256 (skipped as ``original_gone`` if not)."""
    if p.fetch is None:
        return p
    topic, partition, offset, sha = p.fetch
    value = fetch_original(topic, partition, offset)
    if value is None or hashlib.sha256(value).hexdigest() != sha:
        return Plan(p.dlq_partition, p.dlq_offset, p.error, skip="original_gone")
    return Plan(p.dlq_partition, p.dlq_offset, p.error, p.topic, p.key, value, p.headers)


def apply(
    plans: Iterable[Plan],
    report: RedriveReport,
    send: Callable[[Plan], None] | None,
    fetch_original: Fetcher,
) -> list[Plan]:
    """Count ``plans`` into ``report`` and send those not skipped (``send=None``: a dry run,
    nothing is sent). Returns the plans as resolved."""
    done = []
    for p in plans:
        p = resolve(p, fetch_original)
        report.read += 1
        if p.skip:
            report.skipped[p.skip] += 1
        else:
            if send is not None:
                send(p)
            report.sent += 1
            report.by_error[p.error] += 1
        done.append(p)
    return done

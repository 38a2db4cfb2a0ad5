"""``python -m consumer.produce``: stream articles into the input topic.

Sources: the BBC corpus (default), a JSONL file, or ``-`` for stdin. Rate-limited or as fast
as possible, with a progress line on stderr. Keys are the article ids.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumer.progress import Progress
from newsclf.cli import fail
from newsclf.corpus import CorpusError, iter_bbc, iter_jsonl


@dataclass(frozen=True)
class ProduceReport:
    sent: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else float("inf")


def encode(item: dict[str, Any] | str | bytes) -> tuple[bytes | None, bytes]:
    """(key, value) for one item: objects as JSON keyed by their id, text and bytes as they are."""
    if isinstance(item, bytes):
        return None, item
    if isinstance(item, str):
        return None, item.encode("utf-8")
    key = item.get("id")
    return (str(key).encode("utf-8") if key is not None else None), json.dumps(
        item, ensure_ascii=False
    ).encode("utf-8")


def load_source(source: str) -> Iterator[dict[str, Any] | str]:
    if source == "bbc":
        return iter_bbc()
    if source == "-":
        return iter_jsonl(sys.stdin)
    path = Path(source)
    if not path.is_file():
        raise CorpusError(f"{source} is not a file (use 'bbc', a JSONL file or '-')")

    def _lines() -> Iterator[dict[str, Any] | str]:
        with path.open(encoding="utf-8") as fh:
            yield from iter_jsonl(fh)

    return _lines()


def produce(
    items: Iterable[dict[str, Any] | str | bytes],
    *,
    bootstrap_servers: str,
    topic: str,
    rate: float = 0.0,
    total: int | None = None,
    progress: bool = False,
) -> ProduceReport:
    """Send every item; ``rate`` messages per second (0 = as fast as possible). Waits for all
    acknowledgements before returning."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=[s.strip() for s in bootstrap_servers.split(",")],
        acks="all",
        linger_ms=10,
        enable_idempotence=True,
    )
    bar = Progress(total, progress)
    started = time.monotonic()
    sent = 0
    try:
        for item in items:
            if rate > 0:
                delay = started + sent / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            key, value = encode(item)
            producer.send(topic, key=key, value=value)
            sent += 1
            bar.update(sent)
        producer.flush()
    finally:
        producer.close()
    bar.close()
    return ProduceReport(sent, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    from consumer.settings import Settings

    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m consumer.produce", description=__doc__)
    parser.add_argument(
        "source", nargs="?", default="bbc", help="'bbc' (default), a JSONL file, or '-'"
    )
    parser.add_argument("--topic", default=defaults.input_topic)
    parser.add_argument("--bootstrap-servers", default=defaults.bootstrap_servers)
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second (0: max)")
    parser.add_argument("--limit", type=int, default=0, help="send at most N articles")
    parser.add_argument("--repeat", type=int, default=1, help="send the source N times")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.rate < 0 or args.limit < 0 or args.repeat < 1:
        parser.error("--rate and --limit must be >= 0 and --repeat >= 1")
    try:
        items: Iterable[dict[str, Any] | str] = itertools.chain.from_iterable(
            load_source(args.source) for _ in range(args.repeat)
        )
        if args.limit:
            items = itertools.islice(items, args.limit)
        materialised = list(items)
    except (CorpusError, OSError, UnicodeDecodeError) as exc:
        return fail(str(exc), 2)
    try:
        report = produce(
            materialised,
            bootstrap_servers=args.bootstrap_servers,
            topic=args.topic,
            rate=args.rate,
            total=len(materialised),
            progress=not args.quiet,
        )
    except Exception as exc:  # kafka-python: NoBrokersAvailable, KafkaTimeoutError, ...
        return fail(f"cannot produce to {args.bootstrap_servers}: {type(exc).__name__}: {exc}", 3)
    print(
        f"sent {report.sent} messages to {args.topic} in {report.seconds:.1f} s ({report.rate:.0f} msg/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Kafka half of a redrive: read the dead-letter topic under the redrive's own group, send
what :func:`consumer.redrive.plan.plan` selects, commit after each acknowledged batch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from consumer.kafka_io import RecordReader
from consumer.redrive.plan import Plan, RedriveReport, Selection, apply, plan

log = logging.getLogger(__name__)


def default_group(
    group_id: str, selection: Selection, max_redrives: int, to_topic: str | None
) -> str:
    """The redrive's consumer group: named after the selection, so a second run with the same
    one resends nothing, and a run for another selection still sees every dead letter."""
    name = f"{group_id}-redrive-{selection.slug()}"
    if max_redrives != 1:
        name += f"-max{max_redrives}"
    return name + (f"-to-{to_topic}" if to_topic else "")


def run(
    settings: Any,
    selection: Selection,
    *,
    max_redrives: int = 1,
    to_topic: str | None = None,
    group: str | None = None,
    dry_run: bool = False,
    on_plan: Callable[[Plan], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    idle_s: float = 10.0,
) -> RedriveReport:
    """Redrive the dead letters ``selection`` picks from ``settings.dlq_topic`` (a
    :class:`consumer.settings.Settings`), until every partition is read to the end it had when
    the run began (a dead letter the same poll brings from past that end is handled too), so a
    run ends even while dead letters keep arriving.

    Each polled batch is sent, acknowledged, then committed under ``group`` (default
    ``<group_id>-redrive-<selection>``); a dry run sends and commits nothing. ``on_plan`` sees
    every dead letter's plan; ``on_progress(done, total)`` the count read so far.
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    group = group or default_group(settings.group_id, selection, max_redrives, to_topic)
    report = RedriveReport(group)
    started = time.monotonic()
    common = settings.kafka_common()
    consumer = KafkaConsumer(
        **common,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        max_poll_records=200,
    )
    producer = None
    originals = None
    try:
        partitions = consumer.partitions_for_topic(settings.dlq_topic)
        if not partitions:
            raise LookupError(f"the dead-letter topic {settings.dlq_topic!r} does not exist")
        tps = [
            TopicPartition(settings.dlq_topic, p)
            for p in sorted(partitions)
            if selection.partition is None or p == selection.partition
        ]
        if not tps:
            raise LookupError(
                f"{settings.dlq_topic!r} has no partition {selection.partition} "
                f"(it has {', '.join(map(str, sorted(partitions)))})"
            )
        consumer.assign(tps)
        begin = consumer.beginning_offsets(tps)
        ends = consumer.end_offsets(tps)
        for tp in tps:
            committed = consumer.committed(tp)
            consumer.seek(tp, max(committed if committed is not None else 0, begin[tp]))
        total = sum(max(0, ends[tp] - consumer.position(tp)) for tp in tps)
        if not dry_run:
            producer = KafkaProducer(
                **common,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                max_request_size=settings.producer_max_request_size,
                request_timeout_ms=int(settings.produce_timeout_s * 1000),
                max_block_ms=int(settings.produce_timeout_s * 1000),
                delivery_timeout_ms=int(settings.delivery_timeout_s * 1000),
            )
        originals = RecordReader(common)
        futures: list[Any] = []

        def send(p: Plan) -> None:
            assert producer is not None
            futures.append(
                producer.send(p.topic, key=p.key, value=p.value, headers=list(p.headers))
            )

        last_progress = time.monotonic()
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            polled = consumer.poll(timeout_ms=500)
            records = [r for tp in sorted(polled, key=lambda t: t.partition) for r in polled[tp]]
            if not records:
                # read_committed stops at an open transaction's first record: give up after
                # idle_s without progress rather than wait for it.
                if time.monotonic() - last_progress > idle_s:
                    log.warning(
                        "redrive.stalled",
                        extra={"topic": settings.dlq_topic, "idle_s": idle_s},
                    )
                    break
                continue
            last_progress = time.monotonic()
            plans = [
                plan(r, selection, max_redrives=max_redrives, to_topic=to_topic) for r in records
            ]
            done = apply(plans, report, None if dry_run else send, originals.read)
            if producer is not None:
                producer.flush(timeout=settings.delivery_timeout_s)
                for f in futures:
                    f.get(timeout=settings.produce_timeout_s)  # raises if a send failed
                futures.clear()
                consumer.commit(
                    {tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in tps}
                )
            for p in done:
                if on_plan is not None:
                    on_plan(p)
            if on_progress is not None:
                on_progress(report.read, total)
    finally:
        if originals is not None:
            originals.close()
        if producer is not None:
            producer.close(timeout=settings.produce_timeout_s)
        consumer.close(autocommit=False)
    report.seconds = time.monotonic() - started
    log.info("redrive.done", extra={"dry_run": dry_run, **report.as_dict()})
    return report

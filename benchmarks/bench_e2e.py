"""End to end through a real broker: throughput and latency of the service, batch size 1 vs N.

Each configuration streams the same real articles into a fresh topic, runs the real service,
and reads the results back; the service's own histogram gives end-to-end latency.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from benchmarks.common import articles, table
from consumer.kafka_io import ensure_topics
from consumer.produce import produce
from consumer.service import Service
from consumer.settings import Settings


def _quantile(hist, q: float) -> float:
    samples = [s for s in hist.collect()[0].samples if s.name.endswith("_bucket")]
    total = samples[-1].value
    for s in samples:
        if s.value >= q * total:
            return float(s.labels["le"])
    return float("inf")


def one(bootstrap: str, model_dir: Path, n: int, batch: int, tag: str) -> list[object]:
    from kafka import KafkaConsumer

    stamp = f"{tag}-{time.time_ns()}"
    settings = Settings(
        bootstrap_servers=bootstrap,
        model_dir=model_dir,
        input_topic=f"bench.in.{stamp}",
        output_topic=f"bench.out.{stamp}",
        dlq_topic=f"bench.dlq.{stamp}",
        group_id=f"bench-{stamp}",
        batch_max_size=batch,
        batch_max_wait_ms=20,
        metrics_port=0,
        log_level="WARNING",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        execution_provider="cpu",
    )
    ensure_topics(settings, [settings.input_topic, settings.output_topic, settings.dlq_topic])
    items = articles(n)
    produce(items, bootstrap_servers=bootstrap, topic=settings.input_topic)  # backlog first
    service = Service(settings)
    reader = KafkaConsumer(
        settings.output_topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    runner = threading.Thread(target=service.run, daemon=True)
    started = time.monotonic()
    runner.start()
    seen = 0
    first = None
    while seen < n and time.monotonic() - started < 600:
        for recs in reader.poll(timeout_ms=200).values():
            if first is None:
                first = time.monotonic()
            seen += len(recs)
            json.loads(recs[-1].value)
    elapsed = time.monotonic() - (first or started)
    service.stop()
    runner.join(30)
    reader.close()
    h = service.metrics.stage
    infer = [
        s.value
        for s in h.collect()[0].samples
        if s.name.endswith("_sum") and s.labels.get("stage") == "infer"
    ][0]
    return [f"batch {batch}", seen, round(seen / elapsed, 1), round(infer, 2)]


def run(bootstrap: str | None, model_dir: Path, n: int = 400, batch: int = 32) -> None:
    from contextlib import nullcontext

    from devkit.broker import EmbeddedBroker

    ctx = nullcontext(None) if bootstrap else EmbeddedBroker()
    with ctx as broker:
        bs = bootstrap or broker.bootstrap
        rows = [one(bs, model_dir, n, 1, "b1"), one(bs, model_dir, n, batch, f"b{batch}")]
    base = rows[0][2]
    for r in rows:
        r.append(f"{r[2] / base:.2f}x")
    table(
        f"End to end through Kafka ({'given broker' if bootstrap else 'embedded broker'}): backlog of {n} articles",
        ["service", "classified", "articles/s", "infer seconds", "vs batch 1"],
        rows,
    )

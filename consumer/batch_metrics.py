"""What a committed batch adds to the metrics: outcomes, sizes, latencies, confidence, review
reasons, truncation, drift, dead letters and the lag of its partitions. Called by the loop once
per batch, after its offsets are committed (or it was dropped)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from consumer.inflight import TP, Batch, State
from consumer.metrics import Metrics
from consumer.serving import Served


def account(
    metrics: Metrics,
    batches: Iterable[Batch],
    *,
    current: Served,
    assigned: Callable[[TP], bool],
    highwater: Callable[[TP], int | None],
) -> None:
    """``current``: the model serving now (a batch of an earlier one leaves the drift window
    alone); ``highwater(tp)``: the partition's end offset, None when unknown."""
    m = metrics
    for b in batches:
        if b.state is State.DROPPED:
            m.batches.labels(result="dropped").inc()
            continue
        m.batches.labels(result="committed").inc()
        m.batch_size.observe(len(b.records))
        if b.classified is not None:
            m.batch_tokens.observe(b.classified.padded_tokens)
        acked = b.delivered_at or time.time()
        reviewed = 0
        for r in b.results:
            ts = b.records[r.index].timestamp
            if ts and ts > 0:
                m.end_to_end.observe(max(acked - ts / 1000, 0.0))
            m.confidence.observe(r.score)
            if r.reason is None:
                m.predictions.labels(label=r.label).inc()
            else:
                reviewed += 1
                m.reviews.labels(reason=r.reason).inc()
        m.messages.labels(outcome="classified").inc(len(b.results) - reviewed)
        m.messages.labels(outcome="reviewed").inc(reviewed)
        if b.classified is not None:
            cut = sum(b.classified.truncated)
            m.truncated.inc(cut)
            m.batch_truncated.observe(cut)
        served = b.served if b.served is not None else current
        if served is current and served.drift is not None and b.results:
            served.drift.add((r.label, r.score) for r in b.results)
            m.observe_drift(served.drift, served.routes.model_version)
        m.messages.labels(outcome="dead_lettered").inc(len(b.dead_letters))
        for error in b.dead_letters:
            m.dead_letters.labels(error=error).inc()
        for tp, nxt in b.next_offsets.items():
            if not assigned(tp):
                continue
            end = highwater(tp)
            if end is not None:
                m.lag.labels(topic=tp[0], partition=str(tp[1])).set(max(end - nxt, 0))

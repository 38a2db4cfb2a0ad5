"""Prometheus metrics of the service, and the stage timer.

One registry per service instance (tests run several). With several worker processes in one
pod (``NEWSCLF_WORKERS``) prometheus-client's multiprocess mode aggregates them: the values
live in ``PROMETHEUS_MULTIPROC_DIR`` and the supervisor serves one ``/metrics``.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from consumer.schemas import ERRORS, REVIEW_REASONS
from newsclf.drift import DriftWindow

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# One label per stage; a stage is timed on one thread at a time and never inside another.
STAGES = ("poll", "decode", "language", "tokenize", "infer", "serialize", "send", "commit")


class StageOverlapError(RuntimeError):
    """A stage timer was started inside another on the same thread."""


class StageTimer:
    """``with timer("decode"): ...`` observes the seconds into the stage histogram and keeps
    running totals (for benchmarks). Timers of one thread never nest, so per-thread stage
    times add up to at most that thread's wall time."""

    def __init__(self, histogram: Histogram | None = None) -> None:
        self._histogram = histogram
        self._local = threading.local()
        self._lock = threading.Lock()
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        current = getattr(self._local, "stage", None)
        if current is not None:
            raise StageOverlapError(f"stage {stage!r} started inside {current!r}")
        self._local.stage = stage
        started = time.perf_counter()
        try:
            yield
        finally:
            seconds = time.perf_counter() - started
            self._local.stage = None
            if self._histogram is not None:
                self._histogram.labels(stage=stage).observe(seconds)
            with self._lock:
                self.totals[stage] += seconds
                self.counts[stage] += 1


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.end_to_end = Histogram(
            "newsclf_end_to_end_latency_seconds",
            "From the input record's timestamp to the acknowledged output.",
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.stage = Histogram(
            "newsclf_stage_latency_seconds",
            "Time per batch spent in each stage.",
            ["stage"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )
        self.timer = StageTimer(self.stage)
        self.batch_size = Histogram(
            "newsclf_batch_size",
            "Records per batch.",
            registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        )
        self.batch_tokens = Histogram(
            "newsclf_batch_tokens",
            "Padded tokens fed to the model per batch.",
            registry=r,
            buckets=(64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072),
        )
        self.messages = Counter(
            "newsclf_messages_total", "Input records by outcome.", ["outcome"], registry=r
        )
        self.dead_letters = Counter(
            "newsclf_dead_letters_total", "Dead letters by error class.", ["error"], registry=r
        )
        self.predictions = Counter(
            "newsclf_predictions_total", "Classified articles by label.", ["label"], registry=r
        )
        self.confidence = Histogram(
            "newsclf_prediction_confidence",
            "Probability of the predicted label.",
            registry=r,
            buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
        )
        self.reviews = Counter(
            "newsclf_reviews_total",
            "Articles sent to the review topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.truncated = Counter(
            "newsclf_truncated_articles_total",
            "Articles longer than the model's window (it read their head and tail only).",
            registry=r,
        )
        self.batch_truncated = Histogram(
            "newsclf_batch_truncated_articles",
            "Articles per batch longer than the model's window.",
            registry=r,
            buckets=(0, 1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self.drift = Gauge(
            "newsclf_drift_divergence",
            "Jensen-Shannon divergence (0-1) of the recent predictions from the test split's, "
            "per model version and signal (labels: the label mix; confidence: the histogram "
            "of the predicted label's probability).",
            ["model_version", "signal"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.drift_window = Gauge(
            "newsclf_drift_window_fill",
            "Share of the drift window filled with predictions (0-1); the divergence is noisy "
            "until it is 1.",
            ["model_version"],
            registry=r,
            multiprocess_mode="livemin",
        )
        self.batches = Counter(
            "newsclf_batches_total",
            "Batches by result (committed | dropped in a rebalance).",
            ["result"],
            registry=r,
        )
        self.retries = Counter(
            "newsclf_retries_total",
            "Retries after failures of the machine or the broker, by kind.",
            ["kind"],
            registry=r,
        )
        self.in_flight = Gauge(
            "newsclf_batches_in_flight",
            "Batches between poll and commit.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.paused = Gauge(
            "newsclf_input_paused",
            "1 while the input partitions are paused (backpressure).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.lag = Gauge(
            "newsclf_consumer_lag",
            "Records behind the log end, per partition this member owns.",
            ["topic", "partition"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.assigned = Gauge(
            "newsclf_assigned_partitions",
            "Input partitions this member owns (0 on an extra replica).",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.shadow_predictions = Counter(
            "newsclf_shadow_predictions",
            "Articles the shadow (candidate) model scored beside the live one: agree or disagree.",
            ["outcome"],
            registry=r,
        )
        self.shadow_confusion = Counter(
            "newsclf_shadow_confusion",
            "Live label -> shadow label of every shadow-scored article (the diagonal agrees).",
            ["live", "shadow"],
            registry=r,
        )
        self.shadow_dropped = Counter(
            "newsclf_shadow_dropped",
            "Articles not shadow-scored because the shadow queue was full (the live path "
            "never waits).",
            registry=r,
        )
        self.shadow_failures = Counter(
            "newsclf_shadow_failures",
            "Shadow batches the candidate failed on (live serving unaffected).",
            registry=r,
        )
        self.shadow_info = Gauge(
            "newsclf_shadow_model_info",
            "The shadow (candidate) model (value 1).",
            ["version", "sha256", "variant"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            "newsclf_model_reloads_total",
            "Hot reloads of the live or shadow model: ok (now serving) or refused (the old one "
            "kept serving).",
            ["role", "result"],
            registry=r,
        )
        self.model = Gauge(
            "newsclf_model_info",
            "The model being served (value 1).",
            ["version", "sha256", "manifest_sha256", "variant", "provider", "labels"],
            registry=r,
            multiprocess_mode="livemax",
        )
        for stage in STAGES:
            self.stage.labels(stage=stage)
        for outcome in ("classified", "reviewed", "dead_lettered"):
            self.messages.labels(outcome=outcome)
        for reason in REVIEW_REASONS:
            self.reviews.labels(reason=reason)
        for result in ("committed", "dropped"):
            self.batches.labels(result=result)
        for result in ("ok", "refused"):
            self.reloads.labels(role="live", result=result)
        for outcome in ("agree", "disagree"):
            self.shadow_predictions.labels(outcome=outcome)
        for kind in ("inference", "commit"):
            self.retries.labels(kind=kind)
        for error in ERRORS:
            self.dead_letters.labels(error=error)

    def observe_drift(self, window: DriftWindow, model_version: str) -> None:
        """Export the drift window's divergences and fill."""
        self.drift.labels(model_version=model_version, signal="labels").set(
            window.label_divergence()
        )
        self.drift.labels(model_version=model_version, signal="confidence").set(
            window.confidence_divergence()
        )
        self.drift_window.labels(model_version=model_version).set(len(window) / window.size)

"""Prometheus metrics of the service, one registry per service instance (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STAGES = ("decode", "tokenize", "infer", "produce", "commit")


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
        self.batch_size = Histogram(
            "newsclf_batch_size",
            "Records per batch.",
            registry=r,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
        )
        self.batch_tokens = Histogram(
            "newsclf_batch_tokens",
            "Padded tokens fed to the model per batch.",
            registry=r,
            buckets=(64, 256, 1024, 2048, 4096, 8192, 16384, 32768, 65536),
        )
        self.messages = Counter(
            "newsclf_messages_total", "Input records by outcome.", ["outcome"], registry=r
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
        self.batches = Counter(
            "newsclf_batches_total", "Batches by result (ok | failed).", ["result"], registry=r
        )
        self.lag = Gauge(
            "newsclf_consumer_lag",
            "Records behind the log end.",
            ["topic", "partition"],
            registry=r,
        )
        self.model = Info("newsclf_model", "The model being served.", registry=r)
        for stage in STAGES:
            self.stage.labels(stage=stage)
        for outcome in ("classified", "dead_lettered"):
            self.messages.labels(outcome=outcome)

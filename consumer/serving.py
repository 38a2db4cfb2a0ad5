"""The served model as one immutable object: the ONNX session and tokenizer, the routes its
outputs carry (model version and sha256, labels, review policy) and its drift window.

The loop holds exactly one at a time and each batch keeps the one that classified it, so a
reload (:mod:`consumer.reload`) switches models at a batch boundary: a batch is never split
across two models, and every output says which model produced it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from consumer import pipeline
from consumer.limits import max_embeddable
from consumer.settings import Settings
from newsclf.drift import DriftWindow

log = logging.getLogger(__name__)

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ


@dataclass(frozen=True, eq=False)
class Served:
    model: Any  # consumer.model.OnnxClassifier (or a test's model with the same methods)
    routes: pipeline.Routes
    drift: DriftWindow | None

    @property
    def info(self) -> Any:
        return self.model.info


def build_served(
    settings: Settings, model: Any, record_limits: dict[str, int] | None = None
) -> Served:
    """Routes and drift window for ``model`` under ``settings``."""
    s = settings
    info = model.info
    routes = pipeline.Routes(
        output_topic=s.output_topic,
        dlq_topic=s.dlq_topic,
        label_topics=(
            {lb: f"{s.label_topic_prefix}{lb}" for lb in info.labels} if s.route_by_label else None
        ),
        client_id=s.client_id,
        model_version=info.version,
        model_sha256=info.sha256,
        labels=info.labels,
        dlq_max_value_bytes=min(
            s.dlq_max_value_bytes,
            max_embeddable((record_limits or {}).get(s.dlq_topic, s.producer_max_request_size)),
        ),
        record_limits=record_limits or {},
        **review_policy(s, info),
    )
    drift = (
        DriftWindow(info.reference, info.labels, s.drift_window)
        if getattr(info, "reference", None) is not None
        else None
    )
    if drift is None:
        log.warning(
            "the model has no drift reference (re-export it): no drift metrics",
            extra={"model_version": info.version},
        )
    return Served(model, routes, drift)


def review_policy(settings: Settings, info: Any) -> dict[str, Any]:
    """The review topic, threshold and supported languages in force: the settings', else the
    model's (:class:`~consumer.model.ModelInfo`). Routing off: no review topic."""
    if not settings.review_routing:
        log.info("review routing is off: every classified article gets its label")
        return {"review_topic": None, "review_threshold": None, "supported_languages": None}
    threshold = settings.review_threshold
    if threshold is None:
        threshold = getattr(info, "review_threshold", None)
    if settings.supported_languages is not None:
        languages = settings.language_set()
    else:
        model_languages = getattr(info, "supported_languages", None)
        languages = frozenset(model_languages) if model_languages else None
    log.info(
        "review routing",
        extra={
            "review_topic": settings.review_topic,
            "threshold": threshold,
            "supported_languages": sorted(languages) if languages is not None else "any",
        },
    )
    if threshold is None and languages is None:
        log.warning(
            "review routing is on, but the model has no review threshold and no supported "
            "languages (an older export) and none are set: nothing will go to review"
        )
    return {
        "review_topic": settings.review_topic,
        "review_threshold": threshold,
        "supported_languages": languages,
    }


class ModelSlot:
    """The one model being served, swapped whole, and the model-info gauge that shows it."""

    def __init__(self, served: Served, metrics: Any) -> None:
        self.current = served
        self.labels: tuple[str, ...] = tuple(served.info.labels)
        self.metrics = metrics
        self._show(served)

    def swap(self, served: Served) -> None:
        """Serve ``served`` from the next batch the inference thread takes on (a batch keeps
        the model that classified it). Same labels only: the label topics and metrics are
        built for them."""
        if tuple(served.info.labels) != self.labels:
            raise ValueError(
                f"labels {', '.join(served.info.labels)} differ from the served "
                f"{', '.join(self.labels)}"
            )
        old = self.current
        self.current = served  # one reference assignment: atomic for the other threads
        self.metrics.model.labels(*_gauge_labels(old)).set(0)
        if not MULTIPROCESS:  # multiprocess files keep a child; 0 says "no longer served"
            self.metrics.model.remove(*_gauge_labels(old))
        self._show(served)

    def _show(self, served: Served) -> None:
        self.metrics.model.labels(*_gauge_labels(served)).set(1)


def _gauge_labels(served: Served) -> tuple[str, ...]:
    info = served.info
    return (
        info.version,
        info.sha256,
        getattr(info, "manifest_sha256", ""),
        info.variant,
        info.provider,
        ",".join(info.labels),
    )

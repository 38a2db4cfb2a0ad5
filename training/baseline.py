"""TF-IDF + logistic regression baseline: what the transformer has to beat, on the same split."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from training.metrics import classification_metrics

log = logging.getLogger(__name__)


def build_baseline(seed: int = 0) -> Pipeline:
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(sublinear_tf=True, stop_words="english")),
            ("clf", LogisticRegression(C=10.0, max_iter=2000, random_state=seed)),
        ]
    )


def run_baseline(
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    test_texts: Sequence[str],
    test_labels: Sequence[int],
    label_names: Sequence[str],
    seed: int = 0,
    views: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Fit on the training split, evaluate on the test split; returns
    :func:`training.metrics.classification_metrics` plus ``model`` and ``train_seconds``, and
    with ``views`` (name -> another text of each test article, e.g. the headline alone) the
    accuracy and macro-F1 on each under ``views``."""
    start = time.perf_counter()
    pipeline = build_baseline(seed)
    pipeline.fit(list(train_texts), list(train_labels))
    predictions = pipeline.predict(list(test_texts))
    metrics = classification_metrics(list(test_labels), [int(p) for p in predictions], label_names)
    metrics["model"] = "tfidf(sublinear_tf, english stop words) + logistic_regression(C=10)"
    metrics["train_seconds"] = round(time.perf_counter() - start, 2)
    if views:
        metrics["views"] = {}
        for name, texts in views.items():
            scored = classification_metrics(
                list(test_labels), [int(p) for p in pipeline.predict(list(texts))], label_names
            )
            metrics["views"][name] = {k: scored[k] for k in ("accuracy", "macro_f1")}
    log.info(
        "baseline.done accuracy=%.4f macro_f1=%.4f seconds=%.1f",
        metrics["accuracy"],
        metrics["macro_f1"],
        metrics["train_seconds"],
    )
    return metrics

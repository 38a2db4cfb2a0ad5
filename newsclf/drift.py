"""Drift: how far the live stream's predictions have moved from the test split's.

Export runs the served model (calibrated, as served) over the checkpoint's test split and stores
a :class:`Reference` in the manifest: the share of each predicted label and the histogram of
the predicted label's probability (confidence). The service keeps the same two distributions
over a sliding window of its most recent predictions (:class:`DriftWindow`) and exports their
Jensen-Shannon divergence from the reference.

Why Jensen-Shannon (base 2): it is symmetric, bounded in [0, 1] whatever the bins hold (PSI and
KL are unbounded when a bin is empty on one side), and it reads the same for the label mix and
for the confidence histogram, so one alert threshold fits both. Both sides are smoothed with
half an article per bin (Jeffreys), because a 212-article test split leaves bins empty.

What a value means, for five labels (tests/newsclf/test_drift.py measures these): a window of
1,000 live articles from the same stream as a 212-article reference lands near 0.004; a stream
whose sport share fell from 24 % to 8 % near 0.04; a stream of unfamiliar text (confidence
collapsing to 0.3-0.7) above 0.5.

Pure: numpy only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Upper edges of the confidence bins (the first bin starts at 0). Dense near 1, where an
# accurate model puts most of its predictions.
CONFIDENCE_EDGES = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
SMOOTHING = 0.5  # pseudo-articles added to every bin on both sides


def confidence_bin(confidence: float) -> int:
    """The index of the bin holding ``confidence`` (bins end at :data:`CONFIDENCE_EDGES`)."""
    for i, edge in enumerate(CONFIDENCE_EDGES):
        if confidence < edge:
            return i
    return len(CONFIDENCE_EDGES) - 1


def js_divergence(p_counts: Sequence[float], q_counts: Sequence[float]) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of two count vectors, each smoothed with
    :data:`SMOOTHING` per bin."""
    p = np.asarray(p_counts, dtype=np.float64) + SMOOTHING
    q = np.asarray(q_counts, dtype=np.float64) + SMOOTHING
    if p.shape != q.shape:
        raise ValueError(f"count vectors differ in length: {p.shape} vs {q.shape}")
    p /= p.sum()
    q /= q.sum()
    m = (p + q) / 2
    value = 0.5 * float(np.sum(p * np.log2(p / m))) + 0.5 * float(np.sum(q * np.log2(q / m)))
    return min(max(value, 0.0), 1.0)


@dataclass(frozen=True)
class Reference:
    """The served model's predictions on the test split: counts per label and per confidence
    bin (``manifest.json`` key ``reference``)."""

    split: str
    n: int
    labels: dict[str, int]  # predicted label -> articles
    confidence_edges: tuple[float, ...]
    confidence: tuple[int, ...]  # articles per confidence bin
    accuracy: float | None = None  # of these predictions against the split's labels

    @classmethod
    def from_predictions(
        cls,
        probs: np.ndarray,
        labels: Sequence[str],
        split: str = "test",
        truth: Sequence[str | None] | None = None,
    ) -> Reference:
        """From calibrated probabilities, shape (articles, labels)."""
        best = probs.argmax(axis=1)
        top = probs.max(axis=1)
        by_label = {name: int((best == i).sum()) for i, name in enumerate(labels)}
        bins = [0] * len(CONFIDENCE_EDGES)
        for value in top.tolist():
            bins[confidence_bin(value)] += 1
        accuracy = None
        if truth is not None and truth and all(t in labels for t in truth):
            hits = sum(int(labels[b] == t) for b, t in zip(best.tolist(), truth, strict=True))
            accuracy = round(hits / len(truth), 6)
        return cls(split, int(probs.shape[0]), by_label, CONFIDENCE_EDGES, tuple(bins), accuracy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "n": self.n,
            "labels": dict(self.labels),
            "confidence_edges": list(self.confidence_edges),
            "confidence": list(self.confidence),
            "accuracy": self.accuracy,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Reference:
        """Raises ``ValueError`` with the reason when ``raw`` is not a reference."""
        try:
            labels = {str(k): int(v) for k, v in dict(raw["labels"]).items()}
            edges = tuple(float(x) for x in raw["confidence_edges"])
            counts = tuple(int(x) for x in raw["confidence"])
            n = int(raw["n"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a drift reference: {exc!r}") from exc
        if len(edges) != len(counts) or not edges:
            raise ValueError("drift reference: confidence bins and counts differ in number")
        if any(v < 0 for v in (*labels.values(), *counts)) or n < 1:
            raise ValueError("drift reference: counts must be non-negative and n positive")
        accuracy = raw.get("accuracy")
        return cls(
            str(raw.get("split", "test")),
            n,
            labels,
            edges,
            counts,
            None if accuracy is None else float(accuracy),
        )


class DriftWindow:
    """The last ``size`` predictions' label mix and confidence histogram, against a
    :class:`Reference`. Adding is O(1) per prediction; not thread-safe (one owner)."""

    def __init__(self, reference: Reference, labels: Sequence[str], size: int) -> None:
        if size < 1:
            raise ValueError("the drift window needs at least one article")
        if reference.confidence_edges != CONFIDENCE_EDGES:
            raise ValueError(
                "the drift reference was built with other confidence bins "
                f"({list(reference.confidence_edges)}); re-export the model"
            )
        self.reference = reference
        self.size = size
        self._index = {name: i for i, name in enumerate(labels)}
        self._ref_labels = [reference.labels.get(name, 0) for name in labels]
        self._labels = [0] * len(labels)
        self._bins = [0] * len(CONFIDENCE_EDGES)
        self._recent: deque[tuple[int, int]] = deque()

    def __len__(self) -> int:
        return len(self._recent)

    @property
    def full(self) -> bool:
        return len(self._recent) >= self.size

    def add(self, predictions: Iterable[tuple[str, float]]) -> None:
        """Take (label, confidence) pairs, oldest first; forget what falls out of the window."""
        for label, confidence in predictions:
            item = (self._index[label], confidence_bin(confidence))
            self._recent.append(item)
            self._labels[item[0]] += 1
            self._bins[item[1]] += 1
            if len(self._recent) > self.size:
                old_label, old_bin = self._recent.popleft()
                self._labels[old_label] -= 1
                self._bins[old_bin] -= 1

    def label_divergence(self) -> float:
        return js_divergence(self._labels, self._ref_labels)

    def confidence_divergence(self) -> float:
        return js_divergence(self._bins, self.reference.confidence)

"""Drift reference and sliding window (newsclf.drift)."""

from __future__ import annotations

import numpy as np
import pytest

from newsclf.drift import (
    CONFIDENCE_EDGES,
    DriftWindow,
    Reference,
    confidence_bin,
    js_divergence,
)

LABELS = ("business", "entertainment", "politics", "sport", "tech")
MIX = np.array([0.23, 0.17, 0.19, 0.24, 0.17])


def _probs(rng: np.random.Generator, n: int, mix: np.ndarray, confident: bool) -> np.ndarray:
    best = rng.choice(len(mix), size=n, p=mix)
    top = rng.uniform(0.97, 1.0, n) if confident else rng.uniform(0.3, 0.7, n)
    probs = np.tile(((1 - top) / (len(mix) - 1))[:, None], (1, len(mix)))
    probs[np.arange(n), best] = top
    return probs


def _reference(rng: np.random.Generator) -> Reference:
    return Reference.from_predictions(_probs(rng, 212, MIX, True), LABELS)


def _window(reference: Reference, probs: np.ndarray, size: int = 1000) -> DriftWindow:
    window = DriftWindow(reference, LABELS, size)
    window.add((LABELS[int(p.argmax())], float(p.max())) for p in probs)
    return window


def test_confidence_bins_cover_the_unit_interval() -> None:
    assert confidence_bin(0.0) == 0
    assert confidence_bin(0.2999) == 0
    assert confidence_bin(0.3) == 1
    assert confidence_bin(0.995) == len(CONFIDENCE_EDGES) - 1
    assert confidence_bin(1.0) == len(CONFIDENCE_EDGES) - 1


def test_js_divergence_bounds() -> None:
    assert js_divergence([10, 10], [10, 10]) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence([1000, 0], [0, 1000]) > 0.95
    assert js_divergence([1000, 0], [0, 1000]) <= 1.0
    with pytest.raises(ValueError):
        js_divergence([1, 2], [1, 2, 3])


def test_same_stream_stays_low_and_a_shift_shows() -> None:
    rng = np.random.default_rng(7)
    reference = _reference(rng)
    same = _window(reference, _probs(rng, 1000, MIX, True))
    assert same.label_divergence() < 0.01
    assert same.confidence_divergence() < 0.01

    no_sport = np.array([0.27, 0.20, 0.23, 0.08, 0.22])
    shifted = _window(reference, _probs(rng, 1000, no_sport / no_sport.sum(), True))
    assert shifted.label_divergence() > 0.025
    assert shifted.label_divergence() > 5 * same.label_divergence()

    unsure = _window(reference, _probs(rng, 1000, MIX, False))
    assert unsure.confidence_divergence() > 0.5


def test_window_forgets_what_slides_out() -> None:
    rng = np.random.default_rng(3)
    reference = _reference(rng)
    window = DriftWindow(reference, LABELS, 100)
    window.add(("sport", 0.5) for _ in range(100))
    assert window.full
    high = window.label_divergence()
    window.add((LABELS[int(p.argmax())], float(p.max())) for p in _probs(rng, 100, MIX, True))
    assert len(window) == 100
    assert window.label_divergence() < high / 4


def test_reference_round_trip_and_bad_input() -> None:
    rng = np.random.default_rng(1)
    probs = _probs(rng, 50, MIX, True)
    truth = [LABELS[int(i)] for i in probs.argmax(axis=1)]
    reference = Reference.from_predictions(probs, LABELS, truth=truth)
    assert reference.accuracy == 1.0
    assert sum(reference.labels.values()) == 50 == sum(reference.confidence)
    assert Reference.from_dict(reference.to_dict()) == reference
    with pytest.raises(ValueError, match="not a drift reference"):
        Reference.from_dict({"labels": {}})
    bad = {**reference.to_dict(), "confidence": [1, 2]}
    with pytest.raises(ValueError, match="differ in number"):
        Reference.from_dict(bad)
    other_bins = Reference("test", 1, {"sport": 1}, (0.5, 1.0), (0, 1))
    with pytest.raises(ValueError, match="re-export"):
        DriftWindow(other_bins, LABELS, 10)

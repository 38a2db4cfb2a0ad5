"""Intervals over repeated splits and the verdict line, on numbers with known answers."""

from __future__ import annotations

import math

import pytest

from training.stats import Interval, t_interval, verdict

# Student t quantiles at 97.5 % (tables): 2 and 4 degrees of freedom
T2, T4 = 4.302652729749462, 2.7764451051977934


def test_t_interval_of_one_two_three():
    got = t_interval([1.0, 2.0, 3.0])
    assert (got.n, got.mean, got.std) == (3, 2.0, 1.0)
    half = T2 / math.sqrt(3)  # 2.4841
    assert got.low == pytest.approx(2.0 - half) and got.high == pytest.approx(2.0 + half)
    assert got.confidence == 0.95


def test_overlap_correction_widens_the_interval():
    got = t_interval([1.0, 2.0, 3.0], test_train_ratio=1 / 8)
    half = T2 * math.sqrt(1 / 3 + 1 / 8)  # Nadeau & Bengio: 1/n + n_test/n_train
    assert got.high - got.mean == pytest.approx(half)
    assert got.high > t_interval([1.0, 2.0, 3.0]).high


def test_t_interval_edge_cases():
    assert t_interval([]) == Interval(0, None, None, None, None)
    assert t_interval([0.5]) == Interval(1, 0.5, None, None, None)
    same = t_interval([0.25, 0.25, 0.25, None])  # None skipped; no spread: a point interval
    assert (same.n, same.std, same.low, same.high) == (3, 0.0, 0.25, 0.25)
    with pytest.raises(ValueError, match="confidence"):
        t_interval([1.0, 2.0], confidence=1.0)


def test_verdict_transformer_wins():
    diffs = [0.01, 0.02, 0.03, 0.04, 0.05]  # mean 3 points, std 1.58 points
    half = T4 * 0.015811388300841896 / math.sqrt(5)  # 1.96 points
    interval = t_interval(diffs)
    assert interval.low == pytest.approx(0.03 - half)
    assert verdict(interval) == (
        "transformer - baseline accuracy: +3.00 points (95 % CI +1.04 to +4.96) over 5 splits: "
        "transformer wins"
    )


def test_verdict_baseline_wins_and_no_clear_winner():
    assert verdict(t_interval([-0.01, -0.02, -0.03, -0.04, -0.05]), "macro-F1").endswith(
        "(95 % CI -4.96 to -1.04) over 5 splits: baseline wins"
    )
    level = verdict(t_interval([0.01, -0.01, 0.02, -0.02]))
    assert level.startswith("transformer - baseline accuracy: +0.00 points (95 % CI -")
    assert level.endswith("over 4 splits: no clear winner")


def test_verdict_with_too_few_splits():
    assert verdict(t_interval([0.004])) == (
        "transformer - baseline accuracy: +0.40 points over 1 split: too few splits for an interval"
    )
    assert verdict(t_interval([])).endswith(": no splits")

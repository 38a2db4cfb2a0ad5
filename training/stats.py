"""Means, standard deviations and Student-t intervals over repeated splits, and the one-line
verdict of a paired comparison.

The interval is ``mean ± t(n-1) · s · sqrt(factor)`` with ``factor = 1/n`` (the textbook Student
t interval of a mean). With a handful of splits it is wide: t(4) at 95 % is 2.78, t(2) is 4.30.
Repeated random splits share most of their training (and some test) articles, so their values
are positively correlated and the textbook interval is still optimistic; :func:`t_interval`
takes ``test_train_ratio`` for the correction of Nadeau & Bengio (2003,
``factor = 1/n + n_test/n_train``), which the repeated-splits report shows beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values with its spread; ``std``/``low``/``high`` are None below two
    values (no interval from one number)."""

    n: int
    mean: float | None
    std: float | None  # sample standard deviation (ddof = 1)
    low: float | None
    high: float | None
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def t_interval(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    *,
    test_train_ratio: float | None = None,
) -> Interval:
    """Student-t interval of the mean of ``values`` (None entries are skipped).

    ``test_train_ratio`` (``n_test / n_train`` of each split) widens it for the overlap of
    repeated random splits (Nadeau & Bengio's corrected resampled t)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if test_train_ratio is not None and test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must not be negative, got {test_train_ratio!r}")
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    n = len(x)
    if n == 0:
        return Interval(0, None, None, None, None, confidence)
    mean = float(x.mean())
    if n == 1:
        return Interval(1, mean, None, None, None, confidence)
    std = float(x.std(ddof=1))
    factor = 1.0 / n + (test_train_ratio or 0.0)
    half = float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1)) * std * math.sqrt(factor)
    return Interval(n, mean, std, mean - half, mean + half, confidence)


def _points(x: float) -> str:
    """A fraction as signed percentage points, two decimals (never "-0.00")."""
    text = f"{100 * x:+.2f}"
    return "+0.00" if text == "-0.00" else text


def verdict(
    difference: Interval,
    metric: str = "accuracy",
    *,
    first: str = "transformer",
    second: str = "baseline",
) -> str:
    """One line on a paired difference (``first - second``, as fractions), e.g.
    ``transformer - baseline accuracy: +0.40 points (95 % CI -0.30 to +1.10) over 5 splits:
    no clear winner``. A winner is named only when the whole interval is on its side of 0."""
    head = f"{first} - {second} {metric}"
    if difference.mean is None:
        return f"{head}: no splits"
    splits = f"{difference.n} split{'s' if difference.n != 1 else ''}"
    if difference.low is None or difference.high is None:
        return (
            f"{head}: {_points(difference.mean)} points over {splits}: "
            "too few splits for an interval"
        )
    if difference.low > 0:
        outcome = f"{first} wins"
    elif difference.high < 0:
        outcome = f"{second} wins"
    else:
        outcome = "no clear winner"
    level = f"{100 * difference.confidence:g} % CI"
    return (
        f"{head}: {_points(difference.mean)} points ({level} {_points(difference.low)} to "
        f"{_points(difference.high)}) over {splits}: {outcome}"
    )

"""Deterministic stratified subsets and train/validation/test splits.

Per class, indices are shuffled with ``numpy.random.default_rng(seed)`` (PCG64: the same
stream on every platform and numpy version) and cut by rounded fractions, so every split
holds each class within one article of its exact share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.errors import TrainingError


@dataclass(frozen=True)
class Split:
    """Indices into the dataset, each list sorted."""

    train: list[int]
    val: list[int]
    test: list[int]

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _by_class(labels: Sequence[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return dict(sorted(groups.items()))


def stratified_subset(labels: Sequence[int], n: int, seed: int) -> list[int]:
    """``n`` indices with the class proportions of ``labels`` (largest-remainder rounding),
    every class present when ``n`` allows. Returns all indices when ``n >= len(labels)``."""
    if n >= len(labels):
        return list(range(len(labels)))
    groups = _by_class(labels)
    total = len(labels)
    exact = {c: n * len(idx) / total for c, idx in groups.items()}
    quota = {c: int(v) for c, v in exact.items()}
    if n >= len(groups):  # every class present, taken from the classes most over their share
        quota = {c: max(q, 1) for c, q in quota.items()}
        while sum(quota.values()) > n:
            c = max((c for c in groups if quota[c] > 1), key=lambda c: (quota[c] - exact[c], -c))
            quota[c] -= 1
    while sum(quota.values()) < n:  # largest remainder first
        c = max(
            (c for c in groups if quota[c] < len(groups[c])),
            key=lambda c: (exact[c] - quota[c], -c),
        )
        quota[c] += 1
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for c, idx in groups.items():
        perm = rng.permutation(len(idx))[: quota[c]]
        chosen.extend(idx[j] for j in perm)
    return sorted(chosen)


def stratified_split(
    labels: Sequence[int],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    groups: Sequence[int] | None = None,
) -> Split:
    """Split indices into train/val/test, stratified by label and determined by ``seed``.

    Per class of ``n`` articles: ``round(n * test_fraction)`` go to test and
    ``round(n * val_fraction)`` to validation (each at least 1 when the class has 3 or more
    articles), the rest to training (always at least 1).

    ``groups`` (a group id per article, e.g. :func:`training.duplicates.near_duplicate_groups`)
    keeps each group on one side: a group the shuffle cut apart follows the part its first
    article (the smallest index) fell in, so the split moves by a handful of articles.
    """
    if not labels:
        raise TrainingError("cannot split an empty dataset")
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for _, idx in _by_class(labels).items():
        n = len(idx)
        n_test = round(n * test_fraction)
        n_val = round(n * val_fraction)
        if n >= 3:
            n_test, n_val = max(n_test, 1), max(n_val, 1)
        while n_test + n_val > n - 1:  # keep one for training
            if n_val >= n_test and n_val > 0:
                n_val -= 1
            else:
                n_test -= 1
        shuffled = [idx[j] for j in rng.permutation(n)]
        test.extend(shuffled[:n_test])
        val.extend(shuffled[n_test : n_test + n_val])
        train.extend(shuffled[n_test + n_val :])
    if groups is not None:
        train, val, test = _keep_groups_together(groups, (train, val, test))
    if not val or not test:
        raise TrainingError(
            f"dataset too small to split ({len(labels)} articles): validation or test is empty"
        )
    return Split(sorted(train), sorted(val), sorted(test))


def _keep_groups_together(
    groups: Sequence[int], parts: tuple[list[int], ...]
) -> tuple[list[int], ...]:
    part_of = {i: k for k, part in enumerate(parts) for i in part}
    if len(groups) != len(part_of):
        raise TrainingError(f"{len(groups)} group ids for {len(part_of)} articles")
    first: dict[int, int] = {}  # group -> its smallest index
    for i in range(len(groups)):
        first.setdefault(groups[i], i)
    moved: list[list[int]] = [[] for _ in parts]
    for i in range(len(groups)):
        moved[part_of[first[groups[i]]]].append(i)
    return tuple(moved)

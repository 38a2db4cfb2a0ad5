"""Stratified, seed-determined subsets and splits."""

from __future__ import annotations

from collections import Counter

import pytest

from training.errors import TrainingError
from training.split import stratified_split, stratified_subset

# an imbalanced five-class label list, classes interleaved
LABELS = [c for i in range(503) for c, n in enumerate((503, 369, 403, 503, 347)) if i < n]


def test_same_seed_same_split_different_seed_different_split():
    a = stratified_split(LABELS, 0.1, 0.1, seed=42)
    b = stratified_split(LABELS, 0.1, 0.1, seed=42)
    c = stratified_split(LABELS, 0.1, 0.1, seed=7)
    assert a == b
    assert a.test != c.test and a.val != c.val


def test_split_is_a_partition():
    s = stratified_split(LABELS, 0.1, 0.1, seed=1)
    parts = [set(s.train), set(s.val), set(s.test)]
    assert sum(len(p) for p in parts) == len(LABELS)
    assert set().union(*parts) == set(range(len(LABELS)))
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


@pytest.mark.parametrize("seed", [0, 42, 1234])
def test_every_class_within_one_article_of_its_share(seed):
    s = stratified_split(LABELS, 0.1, 0.15, seed=seed)
    totals = Counter(LABELS)
    for part, fraction in ((s.val, 0.1), (s.test, 0.15)):
        counts = Counter(LABELS[i] for i in part)
        for label, n in totals.items():
            assert abs(counts[label] - n * fraction) <= 1, (label, counts[label], n * fraction)
    train = Counter(LABELS[i] for i in s.train)
    for label, n in totals.items():
        assert abs(train[label] - n * 0.75) <= 2


def test_subset_has_exact_size_and_class_shares():
    keep = stratified_subset(LABELS, 250, seed=3)
    assert len(keep) == len(set(keep)) == 250
    counts = Counter(LABELS[i] for i in keep)
    for label, n in Counter(LABELS).items():
        assert abs(counts[label] - 250 * n / len(LABELS)) <= 1
    assert keep == stratified_subset(LABELS, 250, seed=3)
    assert keep != stratified_subset(LABELS, 250, seed=4)


def test_subset_keeps_every_class_when_possible():
    labels = [0] * 100 + [1] * 2 + [2] * 2
    keep = stratified_subset(labels, 10, seed=0)
    assert len(keep) == 10 and {labels[i] for i in keep} == {0, 1, 2}


def test_subset_larger_than_data_is_everything():
    assert stratified_subset([0, 1, 1], 10, seed=0) == [0, 1, 2]


def test_too_small_to_split_is_a_training_error():
    with pytest.raises(TrainingError):
        stratified_split([0, 1], 0.1, 0.1, seed=0)
    with pytest.raises(TrainingError):
        stratified_split([], 0.1, 0.1, seed=0)

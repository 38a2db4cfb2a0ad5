"""Near duplicates stay on one side of every split: the same story under two headlines, one
headline over two edits of a story, a lightly rewritten copy."""

from __future__ import annotations

import pytest

from training.config import TrainConfig
from training.duplicates import group_count, near_duplicate_groups
from training.errors import TrainingError
from training.split import stratified_split

BODY = "The central bank held its main interest rate at 4.75% on Thursday, as expected."


def test_groups_join_a_shared_body_a_shared_headline_and_a_close_copy():
    titles = ["Rates held", "Bank holds rates", "Film wins prize", "Film wins prize", "Goal", "X"]
    bodies = [
        BODY,
        BODY,  # the same body, another headline
        "The film took the top prize at the festival in Berlin.",
        "A different account of the ceremony, written the next day by another reporter.",
        "The striker scored twice in the second half to win the cup final for his club.",
        "The striker scored twice in the second half to win the cup final for his club today.",
    ]
    texts = [f"{t} {b}" for t, b in zip(titles, bodies, strict=True)]
    titles[-1] = "Cup win"  # a close copy under an unrelated headline
    texts[-1] = f"Cup win {bodies[-1]}"
    groups = near_duplicate_groups(texts, titles)
    assert groups == [0, 0, 2, 2, 4, 4]
    assert group_count(groups) == 3
    # without the similarity step only identical bodies and headlines group
    assert near_duplicate_groups(texts, titles, threshold=None) == [0, 0, 2, 2, 4, 5]
    # distinct stories stay apart; no headlines (a CSV without a title column) is fine
    apart = ["Shares fell sharply in Tokyo.", "The band releases a new album.", "Tennis: a win."]
    assert near_duplicate_groups(apart, []) == [0, 1, 2]


def test_a_split_keeps_each_group_on_one_side_and_moves_little():
    labels = [i % 2 for i in range(200)]
    groups = list(range(200))
    for a, b in [(0, 2), (4, 6), (8, 10), (1, 3), (5, 7), (11, 13), (12, 14), (15, 17)]:
        groups[b] = a
    for seed in range(30):
        plain = stratified_split(labels, 0.1, 0.1, seed)
        split = stratified_split(labels, 0.1, 0.1, seed, groups)
        side = {i: k for k, part in enumerate((split.train, split.val, split.test)) for i in part}
        assert sorted(side) == list(range(200))
        assert all(side[i] == side[groups[i]] for i in range(200))
        moved = set(plain.test) ^ set(split.test)
        assert len(moved) <= 8  # only the members of a group that was cut apart
    assert stratified_split(labels, 0.1, 0.1, 3, list(range(200))) == stratified_split(
        labels, 0.1, 0.1, 3
    )
    with pytest.raises(TrainingError, match="group ids"):
        stratified_split(labels, 0.1, 0.1, 3, [0, 1])


def test_no_test_story_or_headline_is_seen_in_training_on_the_bbc_corpus():
    """Exact duplicates are dropped at load; what remains (a body under two headlines, a
    headline over two edits, a close rewrite) would otherwise leak into about 6 test articles
    of every split."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from training.pipeline import load_data, split_data
    from training.views import body_of

    dataset = load_data(TrainConfig())
    bodies = [body_of(t, h) for t, h in zip(dataset.texts, dataset.titles, strict=True)]
    vectors = TfidfVectorizer().fit_transform(bodies)
    plain_leaks = 0
    for seed in range(42, 52):
        data = split_data(dataset, TrainConfig(seed=seed))
        assert data.near_duplicate_groups >= 60
        train = data.split.train
        held = data.split.val + data.split.test
        assert not {bodies[i] for i in held} & {bodies[i] for i in train}
        assert not {dataset.titles[i] for i in held} & {dataset.titles[i] for i in train}
        assert (vectors[held] @ vectors[train].T).max() < 0.9
        assert abs(len(data.split.test) - 212) <= 12  # a cut group moves whole, either way
        plain = stratified_split(dataset.labels, 0.1, 0.1, seed)
        seen = {bodies[i] for i in plain.train}
        plain_leaks += sum(bodies[i] in seen for i in plain.test)
    assert plain_leaks >= 20  # the check above has something to catch

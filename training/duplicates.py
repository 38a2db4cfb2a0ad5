"""Near-duplicate groups: articles that must fall on one side of every split.

Exact duplicates are dropped when the corpus loads (``training.data``). What is left still holds
the same story twice in another form: a body republished under a new headline, one headline over
an edited body, a lightly rewritten copy. BBC News has about seventy such pairs; split apart, a
test article's story (or, for the headline view, its very headline) is seen in training and the
test score is inflated, most of all for a bag-of-words model that matches it word for word.

Two articles are grouped when their bodies are identical, their headlines are identical, or the
cosine similarity of their bodies' TF-IDF vectors reaches ``threshold``; groups are transitive
(union-find). :func:`training.split.stratified_split` keeps each group on one side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from training.views import body_of

DEFAULT_THRESHOLD = 0.9  # BBC: 67 body pairs at >= 0.9, every one the same story


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)  # the smallest index names the group


def near_duplicate_groups(
    texts: Sequence[str], titles: Sequence[str], threshold: float | None = DEFAULT_THRESHOLD
) -> list[int]:
    """Group id of every article: the smallest index in its group (``groups[i] == i`` for an
    article with no near duplicate). ``titles`` may be empty (a source without headlines);
    ``threshold`` None groups identical bodies and headlines only."""
    n = len(texts)
    uf = _UnionFind(n)
    titles = list(titles) if len(titles) == n else [""] * n
    bodies = [body_of(text, title) for text, title in zip(texts, titles, strict=True)]
    for keys in (bodies, titles):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key:
                uf.union(first.setdefault(key, i), i)
    if threshold is not None and n > 1:
        for i, j in _similar_pairs(bodies, threshold):
            uf.union(i, j)
    return [uf.find(i) for i in range(n)]


def _similar_pairs(bodies: list[str], threshold: float) -> list[tuple[int, int]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    try:
        vectors = TfidfVectorizer().fit_transform(bodies)  # rows are L2-normalised
    except ValueError:  # no word in any body (an all-empty or all-stop-word toy corpus)
        return []
    pairs: list[tuple[int, int]] = []
    step = 512  # rows per block: the full n x n product of a large corpus need not be held
    for start in range(0, vectors.shape[0], step):
        block = (vectors[start : start + step] @ vectors.T).tocoo()
        keep = block.data >= threshold
        rows, cols = block.row[keep] + start, block.col[keep]
        pairs.extend((int(i), int(j)) for i, j in zip(rows, cols, strict=True) if i < j)
    return pairs


def group_count(groups: Sequence[int]) -> int:
    """How many groups hold more than one article."""
    ids, counts = np.unique(np.asarray(groups), return_counts=True)
    return int((counts > 1).sum()) if len(ids) else 0

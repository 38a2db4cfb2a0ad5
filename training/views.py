"""Short-text views of an article, as a news stream also carries them: the headline alone, and
the headline with the first sentence of the body (an RSS item's title + description).

The evaluation scores the model and the baseline on these views of every test article, side by
side with the whole article, so the product is measured where a stream often gives it little.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from newsclf.textprep import compose

VIEWS = ("full", "headline", "lead")  # lead: headline + first sentence
SHORT_VIEWS = VIEWS[1:]

# A sentence ends at . ! ? (closing quotes allowed) before whitespace and a capital letter,
# digit or opening quote; good enough for news prose, and the same rule on every article.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)]*\s+(?=[A-Z0-9\"'‘“(])")


def first_sentence(body: str) -> str:
    """The first sentence of ``body`` (all of it when no sentence end is found)."""
    return _SENTENCE_END.split(body, maxsplit=1)[0].strip()


def body_of(text: str, title: str) -> str:
    """The body of a composed article (``compose(title, body)``) whose headline is ``title``."""
    if title and text.startswith(title):
        return text[len(title) :].lstrip()
    return text


def short_views(texts: Sequence[str], titles: Sequence[str]) -> dict[str, list[str]] | None:
    """``{"headline": [...], "lead": [...]}`` aligned with ``texts``; None when any article has
    no headline (a source without a title column): the views would not be what they say."""
    if len(titles) != len(texts) or not all(titles):
        return None
    leads = [compose(t, first_sentence(body_of(x, t))) for x, t in zip(texts, titles, strict=True)]
    return {"headline": list(titles), "lead": leads}

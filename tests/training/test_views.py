"""Short-text views: headline alone and headline + first sentence, cut from the loaded corpus."""

from __future__ import annotations

from training.data import load_dataset
from training.views import body_of, first_sentence, short_views


def test_first_sentence_stops_at_the_first_sentence_end():
    body = 'Shares rose 5% on Monday. "We are pleased," he said. Trading was brisk.'
    assert first_sentence(body) == "Shares rose 5% on Monday."
    assert first_sentence("Mr. Smith went to Washington. Then home.").startswith("Mr.")
    assert first_sentence("no end here") == "no end here"


def test_views_of_a_composed_article():
    views = short_views(["Title here Body one. Body two."], ["Title here"])
    assert views == {"headline": ["Title here"], "lead": ["Title here Body one."]}
    assert body_of("Other text", "Title") == "Other text"


def test_no_views_without_a_headline_for_every_article():
    assert short_views(["a b", "c d"], ["a", ""]) is None


def test_the_bbc_corpus_keeps_each_headline_beside_its_article():
    dataset = load_dataset()
    assert len(dataset.titles) == len(dataset.texts) == dataset.stats.kept
    assert all(t and x.startswith(t) for x, t in zip(dataset.texts, dataset.titles, strict=True))
    views = short_views(dataset.texts, dataset.titles)
    assert views is not None
    lengths = [len(v) for v in views["lead"]]
    assert all(len(t) < len(v) for t, v in zip(dataset.titles, views["lead"], strict=True))
    assert sum(lengths) / len(lengths) < 400  # a sentence, not the article


def test_a_csv_without_a_title_column_has_no_views(tmp_path):
    path = tmp_path / "news.csv"
    path.write_text("text,label\nfirst article,a\nsecond article,b\n", encoding="utf-8")
    dataset = load_dataset(path)
    assert short_views(dataset.texts, dataset.titles) is None

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


def test_training_on_short_views_adds_each_training_articles_headline_and_lead():
    from training.config import TrainConfig
    from training.pipeline import prepare_data, training_examples

    config = TrainConfig(limit=60, train_short_views=True)
    data = prepare_data(config)
    articles, labels = data.part("train")
    texts, text_labels = training_examples(config, data)
    n = len(articles)
    assert len(texts) == len(text_labels) == 3 * n
    assert texts[:n] == articles and text_labels == labels * 3
    headlines = [data.dataset.title_of(i) for i in data.split.train]
    assert texts[n : 2 * n] == headlines
    assert all(
        lead.startswith(h) and len(h) < len(lead) < len(a)
        for h, lead, a in zip(headlines, texts[2 * n :], articles, strict=True)
    )
    held_out = {data.dataset.title_of(i) for i in data.split.val + data.split.test}
    assert not held_out & set(texts[n : 2 * n])  # only training articles lend their views
    assert training_examples(TrainConfig(limit=60, train_short_views=False), data) == (
        articles,
        labels,
    )


def test_data_without_headlines_trains_on_its_articles_alone_and_says_so(tmp_path, caplog):
    from training.config import TrainConfig
    from training.pipeline import prepare_data, training_examples

    path = tmp_path / "news.csv"
    rows = "".join(f"article number {i} about {'ab'[i % 2]},{'ab'[i % 2]}\n" for i in range(20))
    path.write_text("text,label\n" + rows, encoding="utf-8")
    config = TrainConfig(data=str(path))
    assert config.train_short_views  # the default recipe, on data that cannot follow it
    data = prepare_data(config)
    with caplog.at_level("WARNING", logger="training.pipeline"):
        assert training_examples(config, data) == data.part("train")
    assert "train.short_views_skipped" in caplog.text

"""Reviewed labels back to training, end to end on a real broker: the real service sends
articles to the review topic, reviewers label some of them, ``python -m consumer.reviewed``
joins the labels with the review records and reads each whole article back from the input
topic, and training's ``--add-data`` takes the file."""

from __future__ import annotations

import json

import pytest

from consumer.reviewed import Label, join, read_labels
from consumer.reviewed import main as reviewed_main
from newsclf.reviewed import read_reviewed
from tests.consumer.service_helpers import ThreadedService, service_settings
from tests.fixtures.kafka import consume_all, make_topic, produce_values
from training.data import add_reviewed, load_dataset

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_reviewers_labels_come_back_as_whole_articles_training_can_add(
    kafka_bootstrap, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    t = {
        "input_topic": make_topic(kafka_bootstrap, 2, prefix="reviewed-in"),
        "output_topic": make_topic(kafka_bootstrap, 1, prefix="reviewed-out"),
        "dlq_topic": make_topic(kafka_bootstrap, 1, prefix="reviewed-dlq"),
        "review_topic": make_topic(kafka_bootstrap, 1, prefix="reviewed-review"),
    }
    # Articles from outside the corpus (so training does not drop them as duplicates).
    articles = [
        {
            "id": f"live-{i}",
            "title": f"Live headline {i}",
            "text": f"Chip maker {i} unveiled a faster processor for phones and laptops today.",
        }
        for i in range(4)
    ]
    produce_values(kafka_bootstrap, t["input_topic"], [json.dumps(a).encode() for a in articles])
    settings = service_settings(
        kafka_bootstrap, tiny_model_dir, review_routing=True, review_threshold=1.0, **t
    )
    with ThreadedService(settings) as svc:
        review = consume_all(kafka_bootstrap, t["review_topic"], 4, timeout=60)
    assert svc.error is None and len(review) == 4
    assert "text" not in json.loads(review[0].value)  # a review record carries the headline

    labels = tmp_path / "labels.csv"
    labels.write_text(
        "id,label,reviewer,reviewed_at\n"
        "live-0,tech,ana,2026-12-06T10:00:00Z\n"
        "live-2,tech,bo,2026-12-06T10:05:00Z\n"
        "never-seen,tech,bo,2026-12-06T10:06:00Z\n",
        encoding="utf-8",
    )
    out = tmp_path / "reviewed.jsonl"
    monkeypatch.setenv("NEWSCLF_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("NEWSCLF_REVIEW_TOPIC", t["review_topic"])
    assert reviewed_main([str(labels), "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert (
        "wrote 2 reviewed articles" in said and "1 labels had no review record (never-seen)" in said
    )

    reviewed = read_reviewed(out)
    by_id = {a["id"]: a for a in articles}
    assert [r.id for r in reviewed] == ["live-0", "live-2"]
    for r in reviewed:
        assert (r.title, r.text) == (by_id[r.id]["title"], by_id[r.id]["text"])  # whole article
        assert (r.label, r.source["topic"]) == ("tech", t["input_topic"])
        assert r.model_version and r.model_label
    assert reviewed[1].reviewer == "bo"

    merged, stats = add_reviewed(load_dataset(), out)
    assert stats.added == 2 and merged.added == 2


def test_an_input_gone_leaves_the_headline_and_bad_labels_are_one_line(tmp_path, capsys):
    review = {
        "id": "a1",
        "title": "Only the headline",
        "label": "sports",
        "model_version": "v1",
        "source": {"topic": "news.articles", "partition": 0, "offset": 9},
    }
    labels = [Label("a1", "business", "ana", "2026-12-06T10:00:00Z")]
    (article,), report = join(labels, [review], lambda *_: None)
    assert (article.title, article.text, article.model_label) == (
        "Only the headline",
        None,
        "sports",
    )
    assert report.headline_only == 1
    # A record at that offset that is another article is not taken for it.
    other = json.dumps({"id": "zz", "text": "something else"}).encode()
    (article,), _ = join(labels, [review], lambda *_: other)
    assert article.text is None

    assert read_labels('{"id": "a", "label": "tech", "reviewer": "r"}\n', "l", "2026-01-01")[0] == (
        Label("a", "tech", "r", "2026-01-01")
    )
    bad = tmp_path / "labels.csv"
    bad.write_text("id,label\na1,tech\n", encoding="utf-8")
    assert reviewed_main([str(bad), "-o", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no column reviewer" in err[0]

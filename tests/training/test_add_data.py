"""Reviewed labels back to training (``--add-data``): the file format, the merge (deduplicated
against the whole corpus, the latest review winning), the split (reviewed articles train, the
corpus's validation and test stay exactly what they are), and a real fine-tune with them."""

from __future__ import annotations

import json

import pytest

from newsclf.reviewed import ReviewedArticle, ReviewedFormatError, parse, read_reviewed
from tests.training.tiny import TINY
from training.cli import main
from training.config import TrainConfig
from training.data import add_reviewed, load_dataset
from training.errors import TrainingError
from training.pipeline import load_data, prepare_data, run_training


def review(i: int, label: str = "business", **extra) -> dict:
    body = {
        "id": f"r{i}",
        "title": f"Reviewed headline {i}",
        "text": f"Shares in company {i} rose after results beat forecasts by {i} percent.",
        "label": label,
        "reviewer": "ana",
        "reviewed_at": f"2026-12-06T10:{i:02d}:00Z",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def write(tmp_path, rows, name="reviewed.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_format_round_trips_and_a_headline_alone_is_a_review():
    a = ReviewedArticle.from_obj(review(1, text=None))
    assert a.title == "Reviewed headline 1" and a.text is None
    assert ReviewedArticle.from_obj(json.loads(a.to_line())) == a


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("[1]", "expected a JSON object"),
        ("{bad", "Expecting property name"),
        (json.dumps(review(1, label="")), "'label' must be a non-empty string"),
        (json.dumps(review(1, reviewer=None)), "'reviewer' must be a non-empty string"),
        (json.dumps(review(1, reviewed_at="yesterday")), "is not ISO 8601"),
        (json.dumps(review(1, title=None, text=" ")), "neither 'title' nor 'text'"),
        (json.dumps(review(1, text=5)), "'text' must be a string"),
    ],
)
def test_a_bad_line_is_named_with_its_number(row, says):
    with pytest.raises(ReviewedFormatError, match=rf"f\.jsonl:2: .*{says}"):
        list(parse([json.dumps(review(0)), row], "f.jsonl"))


def test_reviewed_articles_are_merged_deduplicated_and_the_latest_review_wins(tmp_path):
    corpus = load_dataset()
    n = len(corpus)
    in_corpus = {  # a corpus article (its body) reviewed again: the corpus keeps its own
        "id": "dup",
        "title": "Another headline",
        "text": corpus.texts[0][len(corpus.titles[0]) :],
        "label": "sports",
        "reviewer": "bo",
        "reviewed_at": "2026-12-06T09:00:00Z",
    }
    rows = [
        review(1, label="tech"),
        review(2),
        review(1, label="business", reviewed_at="2026-12-06T11:00:00Z"),  # relabelled later
        in_corpus,
        review(3, text=None),
    ]
    merged, stats = add_reviewed(corpus, write(tmp_path, rows))
    assert stats.as_dict() == {"read": 5, "added": 3, "in_corpus": 1, "repeated": 1}
    assert (len(merged), merged.added, merged.corpus_size) == (n + 3, 3, n)
    assert merged.texts[:n] == corpus.texts and merged.labels[:n] == corpus.labels
    added = dict(zip(merged.texts[n:], merged.labels[n:], strict=True))
    business = corpus.label_names.index("business")
    assert added[f"Reviewed headline 1 {review(1)['text']}"] == business
    assert added["Reviewed headline 3"] == business
    assert merged.titles[n:][-1] == "Reviewed headline 3"


def test_reviewed_articles_only_train_and_the_test_split_does_not_move(tmp_path):
    path = write(tmp_path, [review(i, label=lab) for i, lab in enumerate(["tech", "sports"] * 3)])
    plain = prepare_data(TrainConfig(limit=300))
    more = prepare_data(TrainConfig(limit=300, add_data=str(path)))
    assert more.dataset.added == 6
    assert more.split.test == plain.split.test and more.split.val == plain.split.val
    assert more.split.train == plain.split.train + list(range(300, 306))
    assert [more.dataset.texts[i] for i in more.split.test] == [
        plain.dataset.texts[i] for i in plain.split.test
    ]


def test_a_label_outside_the_corpus_is_refused(tmp_path):
    path = write(tmp_path, [review(1, label="weather")])
    with pytest.raises(TrainingError, match="labelled 'weather', not one of the corpus's"):
        load_data(TrainConfig(limit=100, add_data=str(path)))


def test_a_bad_file_is_one_line_from_the_cli(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(review(1)) + "\nnot json\n", encoding="utf-8")
    code = main(["--add-data", str(path), "--output", str(tmp_path / "o"), "--limit", "50"])
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if "error" in line.lower() or "Traceback" in line]
    assert code != 0 and errors == [err[-1]]  # before it, only the corpus's info log lines
    assert err[-1].startswith("error: --add-data: ") and "r.jsonl:2:" in err[-1]
    code = main(["--add-data", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o")])
    assert code != 0 and "is not a file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_checkpoint_trained_with_reviewed_articles_says_so(tmp_path):
    path = write(tmp_path, [review(i, label=lab) for i, lab in enumerate(["tech", "sports"] * 4)])
    out = tmp_path / "ckpt"
    result = run_training(TrainConfig(**TINY, output=str(out), add_data=str(path)))
    assert result.report["data"]["reviewed_added"] == 8
    assert (
        result.report["split_sizes"]["train"]
        == len(prepare_data(TrainConfig(**TINY)).split.train) + 8
    )
    assert (
        "Plus 8 reviewed articles (`--add-data`), in training only."
        in (out / "README.md").read_text()
    )
    assert TrainConfig.load(out / "training_config.json").add_data == str(path)
    assert read_reviewed(path)[0].id == "r0"

"""The checkpoint's reports agree with the model they describe."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from newsclf.calibration import Calibration, softmax
from newsclf.lexical import Lexical
from newsclf.textprep import Preprocessing
from training.config import TrainConfig
from training.report import METRIC_KEYS, render_markdown

pytestmark = pytest.mark.slow

REPORT_KEYS = {
    "accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "per_class",
    "confusion_matrix",
    "labels",
    "baseline",
    "base_model",
    "hyperparameters",
    "train_seconds",
    "split_sizes",
}


def test_eval_report_has_the_contract_keys(tiny_checkpoint):
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    assert set(report) >= REPORT_KEYS
    labels = report["labels"]
    assert labels == sorted(labels) and len(labels) == 5
    for part in (report, report["baseline"]):
        for key in (*METRIC_KEYS, "per_class", "confusion_matrix", "labels"):
            assert key in part
        assert 0.0 <= part["macro_f1"] <= 1.0
        assert sum(map(sum, part["confusion_matrix"])) == report["split_sizes"]["test"]
    assert set(report["per_class"]) == set(labels)
    assert report["hyperparameters"]["max_length"] == 64
    assert report["train_seconds"] > 0
    assert sum(report["split_sizes"].values()) == 250
    assert report["data"]["duplicates"] == 100
    assert report["data"]["near_duplicate_threshold"] == 0.9
    assert report["data"]["near_duplicate_groups"] >= 0


def test_markdown_and_png(tiny_checkpoint):
    md = (tiny_checkpoint / "eval_report.md").read_text()
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    assert md == render_markdown(report)
    assert "| macro_f1 |" in md and "TF-IDF" in md
    for name in ("confusion_matrix.png", "reliability_diagram.png", "coverage_accuracy.png"):
        assert (tiny_checkpoint / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert "## Calibration" in md and "**(chosen)**" in md


def test_calibration_is_saved_and_reported(tiny_checkpoint):
    cal = Calibration.load(tiny_checkpoint)
    assert cal is not None and cal.method == "temperature"
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    section = report["calibration"]
    assert {k: section[k] for k in cal.to_dict()} == cal.to_dict()  # the report shows the file
    assert 0.05 <= cal.temperature <= 20.0 and 0.0 <= cal.threshold <= 1.0
    assert cal.target_accuracy == 0.98 and cal.max_review_share == 0.2
    assert cal.validation["n"] == report["split_sizes"]["val"]
    assert cal.test["n"] == report["split_sizes"]["test"]
    # T minimises the validation NLL over a range that includes T = 1
    assert cal.validation["nll_after"] <= cal.validation["nll_before"] + 1e-9
    for figures in (cal.validation, cal.test):
        assert 0.0 <= figures["ece_before"] <= 1.0 and 0.0 <= figures["ece_after"] <= 1.0
        assert 0.0 < figures["coverage_at_threshold"] <= 1.0
    kept = cal.validation["accuracy_at_threshold"]
    assert kept is not None  # never above the most confident validation article
    assert kept >= cal.target_accuracy or cal.threshold > 0.0  # else: the strictest threshold
    bins = section["test_reliability"]
    assert sum(b["count"] for b in bins["before"]) == report["split_sizes"]["test"]
    assert sum(b["count"] for b in bins["after"]) == report["split_sizes"]["test"]
    coverage = section["test_coverage_curve"]["coverage"]
    assert coverage[0] == 1.0 and coverage == sorted(coverage, reverse=True)
    assert any(row["threshold"] == cal.threshold for row in section["test_coverage_table"])


def test_training_config_is_saved(tiny_checkpoint):
    config = TrainConfig.load(tiny_checkpoint / "training_config.json")
    assert (config.limit, config.num_hidden_layers, config.max_length) == (250, 1, 64)


def test_saved_checkpoint_reproduces_the_reported_test_accuracy(tiny_checkpoint):
    """Reload the saved model, run it on heldout.jsonl through textprep: the same accuracy."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.train import predict_logits

    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    prep = Preprocessing.load(tiny_checkpoint)
    rows = [json.loads(x) for x in (tiny_checkpoint / "heldout.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows]
    raw = predict_logits(model, tokenizer, texts, prep)
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())

    def accuracy_of(scores):
        predicted = [model.config.id2label[int(i)] for i in np.argmax(scores, axis=-1)]
        return np.mean([p == r["label"] for p, r in zip(predicted, rows, strict=True)])

    # the default is a hybrid: the report's figure is the fused model's, as served, and the
    # transformer's own figure stands beside it
    logits = Lexical.load(tiny_checkpoint).fuse(raw, texts)
    assert accuracy_of(logits) == pytest.approx(report["accuracy"])
    assert accuracy_of(raw) == pytest.approx(report["transformer"]["accuracy"])
    # serving's review rule on the same logits gives the reported test coverage
    cal = Calibration.load(tiny_checkpoint)
    assert cal is not None
    confident = softmax(logits / cal.temperature).max(axis=1) >= cal.threshold
    assert confident.mean() == pytest.approx(cal.test["coverage_at_threshold"])


def test_model_card_describes_the_checkpoint(tiny_checkpoint):
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    card = (tiny_checkpoint / "README.md").read_text()
    front, _, body = card.removeprefix("---\n").partition("\n---\n")
    assert "pipeline_tag: text-classification" in front
    assert f"value: {report['accuracy']:.4f}" in front
    for heading in ("## Intended use", "## Training data and split", "## Evaluation", "## Limits"):
        assert heading in body
    assert f"| whole article | {100 * report['accuracy']:.2f} %" in body
    for name in report["labels"]:
        assert f"`{name}`" in body
    groups = report["data"]["near_duplicate_groups"]
    assert (f"{groups} groups of near duplicates" in body) == (groups > 0)
    if report.get("views"):  # the corpus has headlines: the short views are on the card
        assert "| headline only |" in body and "| headline + first sentence |" in body
    if report.get("calibration"):
        assert "## Calibration" in body


def test_window_logits_read_the_whole_article_in_serving_length_windows(tiny_checkpoint):
    """``--repeats`` stores these for the whole-article pooling study: every token of a text
    in consecutive windows; a text within one window reads exactly as ``predict_logits``."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from training.train import predict_logits, window_logits

    model = AutoModelForSequenceClassification.from_pretrained(tiny_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    prep = Preprocessing.load(tiny_checkpoint)
    short = "Shares rose sharply in London."
    long = "The government announced a new budget for schools and hospitals. " * 20
    body = len(tokenizer(long, add_special_tokens=False)["input_ids"])
    step = prep.max_length - 2  # [CLS] ... [SEP]
    logits, owner = window_logits(model, tokenizer, [short, long, ""], prep.max_length)
    expected = 1 + -(-body // step) + 1  # the empty text still gets its one window
    assert owner.tolist() == [0] + [1] * (expected - 2) + [2] and logits.shape == (expected, 5)
    whole = predict_logits(model, tokenizer, [short], prep)
    np.testing.assert_allclose(logits[0], whole[0], atol=1e-5)
    first = predict_logits(model, tokenizer, [long], replace(prep, head_tokens=prep.max_length - 1))
    np.testing.assert_allclose(logits[1], first[0], atol=1e-5)  # the first window: head + [SEP]
    with pytest.raises(ValueError, match="no room"):
        window_logits(model, tokenizer, [short], 2)

"""The shared ``tiny_checkpoint`` fixture honours the checkpoint contract."""

from __future__ import annotations

import json

import pytest

from newsclf.textprep import Preprocessing

pytestmark = pytest.mark.slow

REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "preprocessing.json",
    "eval_report.json",
    "eval_report.md",
    "confusion_matrix.png",
    "heldout.jsonl",
    "training_config.json",
    "calibration.json",
    "reliability_diagram.png",
    "coverage_accuracy.png",
)


def test_tiny_checkpoint_follows_the_contract(tiny_checkpoint):
    for name in REQUIRED_FILES:
        assert (tiny_checkpoint / name).is_file(), name
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    labels = ["business", "entertainment", "politics", "sports", "tech"]
    assert config["id2label"] == {str(i): name for i, name in enumerate(labels)}
    assert config["label2id"] == {name: i for i, name in enumerate(labels)}
    assert config["num_hidden_layers"] == 1
    prep = Preprocessing.load(tiny_checkpoint)
    assert (prep.max_length, prep.head_tokens, prep.pad_token_id) == (64, 48, 0)
    rows = [
        json.loads(line) for line in (tiny_checkpoint / "heldout.jsonl").read_text().splitlines()
    ]
    assert rows and all(set(r) == {"text", "label"} and r["label"] in labels for r in rows)
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    assert report["split_sizes"]["test"] == len(rows)


def test_tiny_checkpoint_beats_chance(tiny_checkpoint):
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    # five classes: chance is 20%; the tiny model reaches ~90%
    assert report["accuracy"] >= 0.6
    assert report["macro_f1"] >= 0.5

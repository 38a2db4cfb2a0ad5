"""Every bad input ends with one readable ``error:`` line and a non-zero exit, no traceback."""

from __future__ import annotations

import json
import re

import pytest

from training.cli import main

LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (debug|info|warning) +[\w.]+: ")


def _csv(tmp_path, content: str) -> str:
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    return str(path)


def _assert_one_line_error(capsys, code: int, *fragments: str) -> None:
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    # the last line is the error; anything before it is a progress log line, not a traceback
    assert lines and lines[-1].startswith("error: "), captured.err
    assert all(LOG_LINE.match(line) for line in lines[:-1]), captured.err
    assert "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in lines[-1]


def test_missing_data_path(tmp_path, capsys):
    code = main(["--data", str(tmp_path / "nope"), "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "data not found")


def test_unknown_text_column(tmp_path, capsys):
    data = _csv(tmp_path, "body,label\na,x\nb,y\n")
    code = main(["--data", data, "--text-column", "content", "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "no text column 'content'")


def test_unknown_label_column(tmp_path, capsys):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n')
    code = main(["--data", str(path), "--label-column", "topic", "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "no label column 'topic'")


def test_single_class(tmp_path, capsys):
    data = _csv(tmp_path, "text,label\na,x\nb,x\nc,x\n")
    code = main(["--data", data, "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "single class")


def test_empty_dataset(tmp_path, capsys):
    data = _csv(tmp_path, "text,label\n,x\n  ,y\n")
    code = main(["--data", data, "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "no usable articles")


def test_missing_model_path(tmp_path, capsys):
    code = main(["--model", str(tmp_path / "no-model"), "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "model not found")


def test_unreadable_model_dir(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{ not json")
    code = main(["--model", str(model), "--limit", "60", "--output", str(tmp_path / "o")])
    _assert_one_line_error(capsys, code, "cannot load")


def test_bad_json_config(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text('{"epochs": 3,}')
    _assert_one_line_error(capsys, main(["--config", str(path)]), "not valid JSON")


def test_missing_config_file(tmp_path, capsys):
    code = main(["--config", str(tmp_path / "none.json")])
    _assert_one_line_error(capsys, code, "config file not found")


def test_unknown_config_key(tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"epochs": 1, "learning_rte": 1e-4}))
    _assert_one_line_error(capsys, main(["--config", str(path)]), "unknown key(s): learning_rte")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--epochs", "many"], "invalid float value"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--head-tokens", "300", "--max-length", "128"], "head_tokens must be between"),
        (["--data-format", "xml"], "invalid choice"),
        (["search", "--search-batch-sizes", "8,x"], "comma-separated integers"),
        (["--repeats", "0"], "repeats must be at least 1"),
        (["--repeats", "two"], "invalid int value"),
        (["--repeats", "3", "--search"], "repeats cannot be combined with search"),
        (["search", "--repeats", "3"], "repeats cannot be combined with search"),
        (["--repeats", "3", "--no-baseline"], "repeats needs the baseline"),
        (["--review-target-accuracy", "0"], "review_target_accuracy must be in (0, 1]"),
        (["--review-target-accuracy", "1.5"], "review_target_accuracy must be in (0, 1]"),
        (["--near-duplicate-threshold", "1.5"], "near_duplicate_threshold must be in (0, 1]"),
        (["--near-duplicate-threshold", "close"], "expected a number or none"),
    ],
)
def test_bad_flags(argv, fragment, capsys):
    _assert_one_line_error(capsys, main(argv), fragment)

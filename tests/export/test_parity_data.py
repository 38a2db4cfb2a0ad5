"""Parity inputs and rules that need no model: data sampling, thresholds, the report's
verdict, and the graph checks that keep an unservable export out of a model directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.errors import ExportError
from export.graph import GraphInfo
from export.parity import (
    DEFAULT_THRESHOLDS,
    ParityReport,
    ParityThresholds,
    load_parity_data,
)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_takes_every_row_when_there_are_few(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}", "label": "a"} for i in range(5)])
    data = load_parity_data(path, 10)
    assert data.texts == [f"t{i}" for i in range(5)]
    assert data.labels == ["a"] * 5
    assert data.available == 5


def test_samples_deterministically_across_the_file(tmp_path: Path) -> None:
    rows = [{"text": f"t{i}", "label": "a" if i < 50 else "b"} for i in range(100)]
    path = _jsonl(tmp_path / "d.jsonl", rows)
    first, second = load_parity_data(path, 20), load_parity_data(path, 20)
    assert first == second
    assert len(first.texts) == 20
    indices = [int(t[1:]) for t in first.texts]
    assert indices == sorted(indices)  # file order kept
    assert set(first.labels) == {"a", "b"}  # a label-sorted file still gives a mix


def test_composes_title_and_text_like_serving(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"title": " Big  news ", "text": "Body\n\ttext"}])
    assert load_parity_data(path, 1).texts == ["Big news Body text"]
    assert load_parity_data(path, 1).labels == [None]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no articles"),
        ('{"text": "a"}\n[1, 2]\n', "line 2 is not a JSON object"),
        ('{"title": "", "text": "  "}\n', "line 1 has no text"),
        ("not json\n", "line 1 is not JSON"),
    ],
)
def test_bad_parity_files(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "d.jsonl").write_text(content)
    with pytest.raises(ExportError, match=message):
        load_parity_data(tmp_path / "d.jsonl", 5)


def test_threshold_validation() -> None:
    with pytest.raises(ValueError, match="min_label_agreement"):
        ParityThresholds(min_label_agreement=1.5)
    with pytest.raises(ValueError, match="max_abs_logit_diff"):
        ParityThresholds(min_label_agreement=0.9, max_abs_logit_diff=-1)


def test_default_thresholds_per_variant() -> None:
    assert DEFAULT_THRESHOLDS["fp32"].min_label_agreement == 0.999
    assert DEFAULT_THRESHOLDS["optimized"].min_label_agreement == 0.999
    assert DEFAULT_THRESHOLDS["fp32"].max_abs_logit_diff == 1e-3
    assert DEFAULT_THRESHOLDS["int8"].min_label_agreement == 0.99
    assert DEFAULT_THRESHOLDS["fp16"].min_label_agreement == 0.995


def _report(agreement: float, max_diff: float, thresholds: ParityThresholds) -> ParityReport:
    return ParityReport(
        samples=1000,
        max_abs_logit_diff=max_diff,
        mean_abs_logit_diff=max_diff / 10,
        label_agreement=agreement,
        disagreements=round((1 - agreement) * 1000),
        provider="CPUExecutionProvider",
        thresholds=thresholds,
        data="d.jsonl",
        torch_accuracy=None,
        onnx_accuracy=None,
        seconds=0.1,
    )


def test_report_verdicts() -> None:
    fp32 = DEFAULT_THRESHOLDS["fp32"]
    assert _report(1.0, 1e-5, fp32).passed
    assert _report(0.999, 1e-3, fp32).passed  # both limits are inclusive
    failures = _report(0.99, 2e-3, fp32).failures()
    assert failures == [
        "label agreement 0.9900 < 0.999 (10 of 1000 differ)",
        "max |logit diff| 0.002 > 0.001",
    ]
    assert not _report(1.0, float("nan"), fp32).passed
    int8 = DEFAULT_THRESHOLDS["int8"]
    assert _report(0.995, 0.8, int8).passed  # int8: logits may move, decisions may not
    record = _report(0.995, 0.8, int8).to_dict()
    assert record["passed"] is True
    assert record["thresholds"] == {"min_label_agreement": 0.99, "max_abs_logit_diff": None}


def _graph(**changes) -> GraphInfo:
    base = dict(
        opset=18,
        inputs=["input_ids", "attention_mask", "token_type_ids"],
        outputs=["logits"],
        num_logits=5,
        fixed_axes=[],
        non_int64_inputs=[],
        external_data=[],
    )
    return GraphInfo(**{**base, **changes})


def test_servable_graph_passes() -> None:
    _graph().check_servable(5)
    _graph(inputs=["input_ids", "attention_mask"], num_logits=None).check_servable(5)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"inputs": ["input_ids", "attention_mask", "position_ids"]}, "unsupported inputs"),
        ({"inputs": ["input_ids"]}, "missing inputs"),
        ({"non_int64_inputs": ["input_ids"]}, "not int64"),
        ({"fixed_axes": ["input_ids:0"]}, "fixed batch/sequence axes"),
        ({"outputs": ["last_hidden_state"]}, "no 'logits' output"),
        ({"num_logits": 3}, "3 logits for 5 labels"),
    ],
)
def test_unservable_graphs_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        _graph(**changes).check_servable(5)


def test_top_up_adds_training_articles_but_scores_only_held_out_ones(tmp_path):
    held = tmp_path / "heldout.jsonl"
    held.write_text(
        "".join(json.dumps({"text": f"held {i}", "label": "a"}) + "\n" for i in range(30))
    )
    train = tmp_path / "train.jsonl"
    train.write_text(
        "".join(json.dumps({"text": f"train {i}", "label": "b"}) + "\n" for i in range(900))
    )
    data = load_parity_data(held, 512).top_up(load_parity_data(train, 512), 512)
    assert len(data.texts) == 512 and data.scored == 30
    assert data.texts[:30] == [f"held {i}" for i in range(30)]
    assert all(t.startswith("train ") for t in data.texts[30:])
    assert "heldout.jsonl (30)" in data.source and "(482)" in data.source
    same = load_parity_data(held, 512).top_up(load_parity_data(train, 512), 512)
    assert same.texts == data.texts  # seeded

"""``--repeats K``: K splits, each fine-tuned from the base model and compared with the baseline;
the summary's intervals and verdict; no checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.training.tiny import TINY
from training.cli import EXIT_ERROR, build_parser, config_from_args, main
from training.config import TrainConfig
from training.errors import TrainingError
from training.pipeline import load_data, split_data
from training.repeated import (
    REPEATED_JSON,
    REPEATED_MD,
    SplitRow,
    build_report,
    load_done,
    render_repeated,
    write_repeated,
)
from training.split_scores import SCORES_DIR, load_all, load_scores, write_scores

ROW = SplitRow(
    split=1,
    seed=42,
    train=1701,
    val=212,
    test=212,
    accuracy=0.98,
    macro_f1=0.98,
    baseline_accuracy=0.97,
    baseline_macro_f1=0.97,
    diff_accuracy=0.01,
    diff_macro_f1=0.01,
    temperature=1.4,
    threshold=0.9,
    val_ece_before=0.02,
    val_ece_after=0.01,
    ece_before=0.03,
    ece_after=0.015,
    nll_before=0.1,
    nll_after=0.08,
    coverage_at_threshold=0.95,
    accuracy_at_threshold=None,
    coverage_expected=0.9,
    accuracy_expected=0.99,
    coverage_empirical=0.95,
    accuracy_empirical=None,
    best_epoch=2.0,
    train_seconds=100.0,
    seconds=110.0,
)


def test_summary_and_markdown_from_known_rows():
    diffs = [0.01, 0.02, 0.03, 0.04, 0.05]
    # headline view: a lead the plain t interval calls a win, the corrected one does not
    headline = [0.0, 0.005, 0.01, 0.015, 0.02]
    rows = [
        replace(
            ROW,
            split=i,
            seed=41 + i,
            diff_accuracy=d,
            accuracy=0.94 + d,
            headline_accuracy=0.9,
            baseline_headline_accuracy=0.9 - h,
            diff_headline_accuracy=h,
            diff_headline_macro_f1=h,
        )
        for i, (d, h) in enumerate(zip(diffs, headline, strict=True), 1)
    ]
    report = build_report(TrainConfig(repeats=5), [42, 43, 44, 45, 46], rows, 550.0)
    # the verdict reads the overlap-corrected interval (plain t: +1.04 to +4.96)
    assert report["verdict"] == (
        "transformer - baseline accuracy: +3.00 points (95 % CI +0.50 to +5.50) over 5 splits: "
        "transformer wins"
    )
    plain = report["summary"]["headline"]["diff_accuracy"]
    assert plain["low"] > 0  # the textbook interval would name a winner
    assert report["verdicts"]["headline"]["accuracy"].endswith("no clear winner")
    assert "lead" not in report["verdicts"]  # no lead figures in these rows
    difference = report["summary"]["difference"]["accuracy"]
    assert difference["mean"] == pytest.approx(0.03) and difference["n"] == 5
    corrected = difference["corrected"]  # 1/5 + 212/1701 instead of 1/5: wider
    assert corrected["low"] < difference["low"] and corrected["high"] > difference["high"]
    assert report["summary"]["calibration"]["accuracy_at_threshold"]["n"] == 0  # all None
    assert report["summary"]["baseline"]["accuracy"]["std"] == 0.0
    md = render_repeated(report)
    assert f"**{report['verdict']}**" in md
    assert report["verdicts"]["headline"]["accuracy"] in md
    assert md.count("\n| ") == 1 + 23 + 1 + 5  # summary header, quantities, rows header, rows
    ece = report["summary"]["calibration"]["ece_change"]
    assert ece["mean"] == pytest.approx(-0.015) and ece["std"] == 0.0
    assert "one test article = 0.47 points" in md
    json.dumps(report)  # JSON-ready


def test_a_partial_run_reports_what_it_has():
    report = build_report(TrainConfig(repeats=3), [7, 8, 9], [replace(ROW, seed=7)], 110.0)
    assert report["completed"] == 1 and report["repeats"] == 3
    assert report["verdict"].endswith("over 1 split: too few splits for an interval")
    assert "Splits: 1 of 3 (seeds 7)" in render_repeated(report)


def test_resume_keeps_the_splits_of_the_same_recipe_and_refuses_another(tmp_path):
    config = TrainConfig(repeats=3, seed=7, output=str(tmp_path))
    rows = [replace(ROW, split=1, seed=7), replace(ROW, split=2, seed=8, accuracy=0.5)]
    write_repeated(tmp_path, build_report(config, [7, 8, 9], rows, 220.0))
    # more splits, another output, more threads: the same measurement, continued
    more = config.replace(repeats=5, resume=True, num_threads=4)
    done, seconds, rescore = load_done(tmp_path, more)
    assert done == {7: rows[0], 8: rows[1]} and seconds == 220.0 and rescore == ()
    # what is fitted on the fine-tuning's logits may change: the kept splits are scored again
    fusion = more.replace(long_branch_weight=None, review_target_accuracy=0.97)
    done, _, rescore = load_done(tmp_path, fusion)
    assert sorted(done) == [7, 8] and rescore == ("long_branch_weight", "review_target_accuracy")
    # a change to the fine-tuning would mix two measurements: refused, naming what changed
    with pytest.raises(TrainingError, match=r"another recipe \(learning_rate 0\.0001 -> 0\.0002\)"):
        load_done(tmp_path, fusion.replace(learning_rate=2e-4))
    (tmp_path / REPEATED_JSON).write_text('{"splits": []}')
    with pytest.raises(TrainingError, match="not a repeated-splits report"):
        load_done(tmp_path, more)
    assert load_done(tmp_path / "empty", more) == ({}, 0.0, ())  # nothing yet: start fresh


@pytest.mark.slow
def test_cli_repeats_trains_each_split_and_writes_the_summary(tmp_path, capsys):
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps({**TINY, "limit": 100, "epochs": 1.0, "seed": 3}))
    out = tmp_path / "repeated"
    code = main(
        ["--config", str(config_file), "--baseline", "--repeats", "2", "--output", str(out), "-q"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "transformer - baseline accuracy:" in captured.out and REPEATED_MD in captured.out
    report = json.loads((out / REPEATED_JSON).read_text())
    assert report["seeds"] == [3, 4] and report["completed"] == 2
    rows = report["splits"]
    assert [r["seed"] for r in rows] == [3, 4]
    assert {(r["train"], r["val"], r["test"]) for r in rows} == {(80, 10, 10)}
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["baseline_accuracy"] <= 1.0
        assert r["diff_accuracy"] == pytest.approx(r["accuracy"] - r["baseline_accuracy"])
        assert 0.05 <= r["temperature"] <= 20.0 and 0.0 <= r["threshold"] <= 1.0
        assert r["ece_before"] >= 0.0 and r["ece_after"] >= 0.0
        assert r["nll_after"] >= 0.0 and 0.0 <= r["coverage_at_threshold"] <= 1.0
    summary = report["summary"]
    assert summary["transformer"]["accuracy"]["n"] == 2
    for r in rows:  # the corpus has headlines: both short views scored on each split
        for view in ("headline", "lead"):
            assert 0.0 <= r[f"{view}_accuracy"] <= 1.0
            assert r[f"diff_{view}_accuracy"] == pytest.approx(
                r[f"{view}_accuracy"] - r[f"baseline_{view}_accuracy"]
            )
    assert set(report["verdicts"]) == {"full", "headline", "lead"}
    assert summary["difference"]["accuracy"]["mean"] == pytest.approx(
        sum(r["diff_accuracy"] for r in rows) / 2
    )
    assert {"ece_before", "ece_after"} <= set(summary["calibration"])
    md = (out / REPEATED_MD).read_text()
    assert report["verdict"] in md and "| 2 | 4 |" in md
    # an evaluation, not a checkpoint: the reports and each split's transformer scores
    assert sorted(p.name for p in out.iterdir()) == [REPEATED_JSON, REPEATED_MD, SCORES_DIR]
    _check_scores(out, config_file, rows)
    assert {r["device"] for r in rows} == {"cpu"}

    # --resume with one more split trains seed 5 only and keeps the two measured
    args = ["--config", str(config_file), "--baseline", "--output", str(out), "-q", "--resume"]
    assert main([*args, "--repeats", "3"]) == 0, capsys.readouterr().err
    resumed = json.loads((out / REPEATED_JSON).read_text())
    assert [r["seed"] for r in resumed["splits"]] == [3, 4, 5] and resumed["completed"] == 3
    assert resumed["splits"][:2] == rows  # kept as measured, not trained again
    assert resumed["total_seconds"] > report["total_seconds"]
    # another recipe in the same directory: one error line, the file untouched
    before = (out / REPEATED_JSON).read_text()
    assert main([*args, "--repeats", "3", "--epochs", "2"]) == EXIT_ERROR
    assert "another recipe (epochs 1.0 -> 2.0)" in capsys.readouterr().err
    assert (out / REPEATED_JSON).read_text() == before
    _check_rescoring(out, args, resumed, capsys)


def _check_rescoring(out: Path, args: list[str], measured: dict, capsys) -> None:
    """Another whole-article weight: nothing trains, every kept split is scored again from its
    stored logits; changed back, the rows are the ones the fine-tuning measured, exactly."""
    rows = measured["splits"]
    weight = measured["config"]["long_branch_weight"]
    other = "0.5" if weight is None else "none"
    assert main([*args, "--repeats", "3", "--long-branch-weight", other]) == 0
    rescored = json.loads((out / REPEATED_JSON).read_text())
    assert rescored["config"]["long_branch_weight"] == (0.5 if weight is None else None)
    assert [r["seed"] for r in rescored["splits"]] == [3, 4, 5]
    kept = ("best_epoch", "train_seconds", "seconds", "device", "transformer_accuracy")
    kept += ("baseline_accuracy", "headline_accuracy", "transformer_lead_accuracy")
    for new, old in zip(rescored["splits"], rows, strict=True):
        assert new["rescored"] is True and not old["rescored"]
        assert {k: new[k] for k in kept} == {k: old[k] for k in kept}  # unfused, or shorter
    assert sorted(p.name for p in out.iterdir()) == [REPEATED_JSON, REPEATED_MD, SCORES_DIR]
    back = "none" if weight is None else str(weight)
    assert main([*args, "--repeats", "3", "--long-branch-weight", back]) == 0
    again = json.loads((out / REPEATED_JSON).read_text())
    assert [{**r, "rescored": False} for r in again["splits"]] == rows
    assert again["summary"] == measured["summary"]
    # a kept split without its scores cannot be scored again: one error line, nothing written
    (out / SCORES_DIR / "seed-4.npz").unlink()
    before = (out / REPEATED_JSON).read_text()
    capsys.readouterr()
    assert main([*args, "--repeats", "3", "--long-branch-weight", other]) == EXIT_ERROR
    assert "no stored scores for seeds 4" in capsys.readouterr().err
    assert (out / REPEATED_JSON).read_text() == before


def test_the_committed_measurement_resumes_under_the_documented_command(tmp_path):
    """docs/repeated_splits.json is the default recipe's, continued on CPU or a lent GPU
    (scripts/gpu/repeats.sh) with `--repeats 20 --resume`: a change to the recipe's defaults
    would make that refuse it, or score it again (and leave the committed figures describing
    another recipe)."""
    committed = Path(__file__).resolve().parents[2] / "docs" / REPEATED_JSON
    (tmp_path / REPEATED_JSON).write_bytes(committed.read_bytes())
    args = ["--repeats", "20", "--resume", "--output", str(tmp_path)]
    config = config_from_args(build_parser().parse_args(args))
    done, seconds, rescore = load_done(tmp_path, config)
    assert rescore == ()
    report = json.loads(committed.read_text())
    assert sorted(done) == [row["seed"] for row in report["splits"]] and len(done) >= 3
    assert seconds == report["total_seconds"] > 0
    assert set(done) <= set(range(config.seed, config.seed + 20))


def _check_scores(out: Path, config_file: Path, rows: list[dict]) -> None:
    """Each split's scores file holds that split's held-out articles and the logits that gave
    the row's unfused transformer figures, on every view."""
    config = config_from_args(build_parser().parse_args(["--config", str(config_file)]))
    dataset = load_data(config)
    scores = load_all(out)
    assert [s.seed for s in scores] == [r["seed"] for r in rows]
    for s, row in zip(scores, rows, strict=True):
        split = split_data(dataset, config.replace(seed=s.seed)).split
        assert s.val_index.tolist() == split.val and s.test_index.tolist() == split.test
        assert s.test_labels.tolist() == [dataset.labels[i] for i in split.test]
        assert set(s.logits) == {f"{p}_{v}" for p in ("val", "test") for v in VIEWS}
        assert s.logits["test_full"].shape == (row["test"], len(dataset.label_names))
        for view, key in (("full", ""), ("headline", "headline_"), ("lead", "lead_")):
            right = (s.logits[f"test_{view}"].argmax(axis=1) == s.test_labels).mean()
            assert right == pytest.approx(row[f"transformer_{key}accuracy"])
        assert len(s.weights) == len(s.buckets) + 1 and all(0 <= w <= 1 for w in s.weights)
        for part, n in (("val", row["val"]), ("test", row["test"])):
            window, owner = s.windows[part]
            assert sorted(set(owner.tolist())) == list(range(n)) and len(owner) > n  # long ones
            assert owner.tolist() == sorted(owner.tolist()) and window.shape == (len(owner), 5)
    # the fusion study rebuilds every split from them and reproduces the served figures
    root = Path(__file__).resolve().parents[2]
    study = subprocess.run(
        [sys.executable, str(root / "scripts/studies/fusion_from_splits.py"), str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=300,
    )
    assert study.returncode == 0, study.stderr
    assert "served figures reproduce the report: yes" in study.stdout
    study_json = json.loads((out / "fusion_study.json").read_text())
    assert study_json["reproduced"] is True
    assert {k.split("/")[0] for k in study_json["summary"]} >= {
        "served",
        "long-scaled",
        "long-stacked",
        "long-pooled",
    }
    long_rules = ("long-scaled", "long-accuracy", "long-stacked", "long-equal", "long-pooled")
    for split in study_json["splits"]:  # the whole-article refits change nothing shorter
        for rule in long_rules:
            assert split[f"{rule}/headline/accuracy"] == split["served/headline/accuracy"]
        for branch in ("all-views", "whole"):  # the pooled-validation table, every weight
            table = split["validation_long"][branch]
            assert len(table) == 21 and all(e >= 0 and nll >= 0 for e, nll in table.values())
    assert set(study_json["validation_long"]) == {"all-views", "whole"}
    (out / "fusion_study.json").unlink()


VIEWS = ("full", "headline", "lead")


def test_split_scores_refuse_a_misfit_and_a_file_that_is_not_one(tmp_path):
    logits = {"val_full": np.zeros((2, 5)), "test_full": np.zeros((3, 5))}
    path = write_scores(tmp_path, 7, [1, 2], [3, 4, 5], [0, 1], [1, 2, 3], logits)
    loaded = load_scores(path)
    assert loaded.seed == 7 and loaded.test_index.tolist() == [3, 4, 5]
    assert loaded.logits["test_full"].shape == (3, 5) and loaded.weights == ()
    with pytest.raises(TrainingError, match="does not fit"):
        write_scores(tmp_path, 8, [1], [2], [0], [1], {"test_full": np.zeros((2, 5))})
    assert not (tmp_path / SCORES_DIR / "seed-8.npz").exists()
    with pytest.raises(TrainingError, match="do not cover"):  # article 1 has no window
        write_scores(
            tmp_path, 8, [1, 2], [3], [0, 1], [1], {}, windows={"val": (np.zeros((2, 5)), [0, 0])}
        )
    windows = {"test": (np.ones((4, 5)), np.array([0, 1, 1, 2]))}
    loaded = load_scores(
        write_scores(tmp_path, 10, [1], [3, 4, 5], [0], [1, 2, 3], {}, windows=windows)
    )
    assert loaded.windows["test"][1].tolist() == [0, 1, 1, 2] and loaded.windows["test"][
        0
    ].shape == (4, 5)
    bad = tmp_path / SCORES_DIR / "seed-9.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(TrainingError, match="cannot read split scores"):
        load_scores(bad)

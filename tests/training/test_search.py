"""Hyperparameter search: keeps the best trial's model, stops once the target is met."""

from __future__ import annotations

import csv
import json

import pytest

from tests.training.tiny import TINY
from training.config import TrainConfig
from training.search import TRIALS_CSV, TRIALS_MD, run_search, search_space

pytestmark = pytest.mark.slow

SEARCH = {**TINY, "limit": 200, "epochs": 4.0, "search": True, "search_strategy": "grid"}


def _rows(directory):
    with (directory / TRIALS_CSV).open() as fh:
        return list(csv.DictReader(fh))


def test_search_space_is_bounded_and_seeded():
    config = TrainConfig(
        search_learning_rates=[1e-4, 2e-4, 3e-4],
        search_batch_sizes=[8, 16],
        search_epochs=[1.0, 2.0],
        search_max_trials=5,
        search_strategy="random",
    )
    space = search_space(config)
    assert len(space) == 5 and len(set(space)) == 5
    assert space == search_space(config)
    grid = search_space(config.replace(search_strategy="grid", search_max_trials=12))
    assert grid[0] == (1e-4, 8, 1.0) and len(grid) == 12


def test_search_keeps_the_best_trial(tmp_path):
    # a learning rate that learns and one too small to move the weights
    config = TrainConfig(
        **SEARCH,
        output=str(tmp_path),
        search_learning_rates=[2e-3, 1e-7],
        search_batch_sizes=[16],
        search_epochs=[4.0],
    )
    result = run_search(config)
    rows = _rows(tmp_path)
    assert [float(r["learning_rate"]) for r in rows] == [2e-3, 1e-7]
    f1 = [float(r["val_macro_f1"]) for r in rows]
    assert f1[0] > f1[1]  # the sanity premise of this test
    assert result.best.trial == 1 and not result.stopped_early
    report = json.loads((tmp_path / "eval_report.json").read_text())
    assert report["hyperparameters"]["learning_rate"] == 2e-3
    # the saved model is the best trial's, not the last one trained
    assert report["validation"]["macro_f1"] == pytest.approx(f1[0])
    assert report["search"]["best_trial"] == 1
    assert TrainConfig.load(tmp_path / "training_config.json").learning_rate == 2e-3
    md = (tmp_path / TRIALS_MD).read_text()
    assert "| 1 **(best)** |" in md and md.count("\n") == 4


def test_search_stops_once_the_target_is_met(tmp_path):
    config = TrainConfig(
        **SEARCH,
        output=str(tmp_path),
        search_learning_rates=[2e-3, 1e-3, 5e-4],
        search_batch_sizes=[16],
        search_epochs=[1.0],
        target_f1=0.01,
    )
    result = run_search(config)
    assert result.stopped_early and len(result.trials) == 1
    assert len(_rows(tmp_path)) == 1
    report = json.loads((tmp_path / "eval_report.json").read_text())
    assert report["search"]["stopped_early"] is True and report["search"]["planned_trials"] == 3
    assert (tmp_path / "model.safetensors").is_file()
    assert not (tmp_path / ".trainer").exists()  # trial work dirs are cleaned up

"""The CLI end to end (config file + flag override) and resuming from a trainer checkpoint."""

from __future__ import annotations

import json
import logging

import pytest

from tests.training.tiny import TINY
from training.cli import main
from training.config import TrainConfig
from training.pipeline import TRAINER_DIR, run_training

pytestmark = pytest.mark.slow


def test_cli_trains_from_a_config_file_with_flag_overrides(tmp_path, capsys):
    config_file = tmp_path / "tiny.json"
    config_file.write_text(json.dumps({**TINY, "epochs": 3, "seed": 5}))
    out = tmp_path / "ckpt"
    argv = ["--config", str(config_file), "--epochs", "1", "--train-max-length", "16"]
    code = main([*argv, "--output", str(out), "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "test accuracy" in captured.out and str(out) in captured.out
    saved = TrainConfig.load(out / "training_config.json")
    assert saved.epochs == 1.0  # the flag
    assert saved.seed == 5 and saved.limit == TINY["limit"]  # the file
    # trained on 16-token windows, evaluated and served with the 32-token preprocessing
    report = json.loads((out / "eval_report.json").read_text())
    assert report["hyperparameters"]["train_max_length"] == 16
    assert json.loads((out / "preprocessing.json").read_text())["max_length"] == 32
    for name in ("model.safetensors", "tokenizer.json", "preprocessing.json", "heldout.jsonl"):
        assert (out / name).is_file()
    assert not (out / TRAINER_DIR).exists()  # trainer checkpoints are cleaned up


def test_resume_continues_from_the_last_trainer_checkpoint(tmp_path, caplog):
    out = tmp_path / "ckpt"
    base = TrainConfig(**TINY, output=str(out), keep_trainer_checkpoints=True)
    run_training(base.replace(epochs=1.0))
    assert list((out / TRAINER_DIR).glob("checkpoint-*"))
    with caplog.at_level(logging.INFO, logger="training.train"):
        result = run_training(base.replace(epochs=2.0, resume=True))
    assert "train.resume checkpoint=" in caplog.text
    epochs = [h["epoch"] for h in result.report["history"]]
    assert epochs == [1.0, 2.0]


def test_progress_lines_with_eta_when_no_terminal(tmp_path, caplog):
    """Off a terminal, training says where it is: step/total, epoch, ETA, validation score."""
    import json as _json
    import logging

    from tests.training.tiny import TINY
    from training.cli import main as train_main

    config_file = tmp_path / "tiny.json"
    config_file.write_text(_json.dumps({**TINY, "limit": 60, "epochs": 1.0, "baseline": False}))
    with caplog.at_level(logging.INFO, logger="training.train"):
        code = train_main(["--config", str(config_file), "--output", str(tmp_path / "out")])
    assert code == 0
    progress = [r.getMessage() for r in caplog.records if "train.progress" in r.getMessage()]
    assert progress and "eta_s=" in progress[-1]
    step, total = progress[-1].split("step=")[1].split()[0].split("/")
    assert step == total and int(total) > 0  # the last line is the last step
    assert any("train.validation" in r.getMessage() for r in caplog.records)

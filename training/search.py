"""A small, bounded hyperparameter search: learning rate × batch size × epochs.

Each trial fine-tunes a fresh copy of the base model on the training split and is scored on the
validation split (the test split stays untouched until the chosen model is evaluated). The best
trial by validation macro-F1 becomes the checkpoint; the search stops as soon as a trial reaches
``target_f1``. Trials are written as ``search_trials.csv`` and ``search_trials.md``.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.config import TrainConfig
from training.modeling import check_model_source
from training.pipeline import (
    TRAINER_DIR,
    PreparedData,
    TrainedModel,
    TrainResult,
    finalize,
    prepare_data,
    train_once,
)

log = logging.getLogger(__name__)

TRIALS_CSV = "search_trials.csv"
TRIALS_MD = "search_trials.md"


@dataclass(frozen=True)
class Trial:
    trial: int
    learning_rate: float
    batch_size: int
    epochs: float
    val_accuracy: float
    val_macro_f1: float
    best_epoch: float | None
    train_seconds: float


@dataclass
class SearchResult(TrainResult):
    trials: list[Trial]
    best: Trial
    stopped_early: bool


def search_space(config: TrainConfig) -> list[tuple[float, int, float]]:
    """The trials to run, in order: the grid (lr × batch size × epochs), shuffled by seed for
    the ``random`` strategy, cut to ``search_max_trials``."""
    grid = list(
        itertools.product(
            config.search_learning_rates, config.search_batch_sizes, config.search_epochs
        )
    )
    if config.search_strategy == "random":
        order = np.random.default_rng(config.seed).permutation(len(grid))
        grid = [grid[i] for i in order]
    return grid[: config.search_max_trials]


def run_search(config: TrainConfig, *, progress: bool = False) -> SearchResult:
    """Run the trials, keep the best by validation macro-F1, save it as the checkpoint."""
    start = time.perf_counter()
    output_dir = Path(config.output)
    output_dir.mkdir(parents=True, exist_ok=True)
    if config.resume:
        log.warning("search.resume_ignored every trial starts from the base model")
    check_model_source(config.model, allow_hub=config.allow_hub)  # fail before loading data
    data: PreparedData = prepare_data(config)
    space = search_space(config)
    trials: list[Trial] = []
    best: tuple[Trial, TrainConfig, TrainedModel] | None = None
    stopped_early = False
    for i, (lr, bs, epochs) in enumerate(space, 1):
        trial_config = config.replace(
            learning_rate=lr, batch_size=bs, epochs=epochs, resume=False, search=False
        )
        log.info(
            "search.trial n=%d/%d lr=%g batch_size=%d epochs=%s", i, len(space), lr, bs, epochs
        )
        trained = train_once(
            trial_config, data, output_dir / TRAINER_DIR / f"trial-{i}", progress=progress
        )
        trial = Trial(
            trial=i,
            learning_rate=lr,
            batch_size=bs,
            epochs=epochs,
            val_accuracy=trained.val_metrics["accuracy"],
            val_macro_f1=trained.val_metrics["macro_f1"],
            best_epoch=trained.fit.best_epoch,
            train_seconds=round(trained.fit.train_seconds, 2),
        )
        trials.append(trial)
        write_trials(output_dir, trials)
        if best is None or trial.val_macro_f1 > best[0].val_macro_f1:
            best = (trial, trial_config, trained)
        log.info(
            "search.trial_done n=%d val_macro_f1=%.4f best=%d",
            i,
            trial.val_macro_f1,
            best[0].trial,
        )
        if config.target_f1 is not None and best[0].val_macro_f1 >= config.target_f1:
            stopped_early = i < len(space)
            log.info("search.target_met target_f1=%.4f after=%d trials", config.target_f1, i)
            break
    assert best is not None  # search_space is never empty (validated config)
    with contextlib.suppress(OSError):  # trial work dirs are gone; drop their parent if empty
        (output_dir / TRAINER_DIR).rmdir()
    best_trial, best_config, best_model = best
    extra: dict[str, Any] = {
        "search": {
            "strategy": config.search_strategy,
            "planned_trials": len(space),
            "trials": [asdict(t) for t in trials],
            "best_trial": best_trial.trial,
            "target_f1": config.target_f1,
            "stopped_early": stopped_early,
        },
        "total_seconds": round(time.perf_counter() - start, 2),
    }
    report = finalize(best_config, data, best_model, output_dir, extra=extra)
    return SearchResult(output_dir, report, trials, best_trial, stopped_early)


def write_trials(directory: Path, trials: list[Trial]) -> None:
    """``search_trials.csv`` and a Markdown table of the same rows."""
    names = list(Trial.__dataclass_fields__)
    with (directory / TRIALS_CSV).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=names)
        writer.writeheader()
        writer.writerows(asdict(t) for t in trials)
    best = max(trials, key=lambda t: t.val_macro_f1)
    lines = [
        "| trial | learning rate | batch size | epochs | val accuracy | val macro-F1 "
        "| best epoch | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in trials:
        mark = " **(best)**" if t is best else ""
        lines.append(
            f"| {t.trial}{mark} | {t.learning_rate:g} | {t.batch_size} | {t.epochs:g} "
            f"| {100 * t.val_accuracy:.2f}% | {100 * t.val_macro_f1:.2f}% "
            f"| {t.best_epoch if t.best_epoch is not None else '–'} | {t.train_seconds:.0f} |"
        )
    (directory / TRIALS_MD).write_text("\n".join(lines) + "\n", encoding="utf-8")

"""The transformer's own scores on one repeated split, kept beside ``repeated_splits.json``.

Fine-tuning is the whole cost of a split (minutes on a GPU, ~25 min on 2 CPU cores); fitting a
TF-IDF branch and choosing fusion weights take seconds. ``--repeats`` therefore writes, for
every split it trains, ``scores/seed-<seed>.npz``: the split's validation and test article
indices and labels, and the fine-tuned transformer's unfused logits on every view of them
(``val_full``, ``val_headline``, ``val_lead``, ``test_full`` …), the served fusion weights, and
the logits of consecutive serving-length windows over the whole of each validation and test
article (``training.train.window_logits``: the middle a head+tail window skips included).
With the corpus, that is everything a fusion rule or another lexical branch needs to be measured
again over all the splits, chosen on validation and scored on test as the served one was
(``scripts/studies/fusion_from_splits.py``), without training anything.

Numpy only, no pickle: ``load_scores`` reads a file with ``allow_pickle=False``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.errors import TrainingError

SCORES_DIR = "scores"
_LOGITS = "logits_"
_WINDOWS = "windows_"
_OWNER = "owner_"


def scores_path(output_dir: Path, seed: int) -> Path:
    return Path(output_dir) / SCORES_DIR / f"seed-{seed}.npz"


@dataclass(frozen=True)
class SplitScores:
    """One split's held-out indices and labels and the transformer's logits by view."""

    seed: int
    val_index: np.ndarray
    test_index: np.ndarray
    val_labels: np.ndarray
    test_labels: np.ndarray
    logits: dict[str, np.ndarray]  # "{part}_{view}" -> (n, labels), before any fusion
    weights: tuple[float, ...] = ()  # the served transformer weight per length bucket
    buckets: tuple[int, ...] = ()  # the buckets' upper bounds in words
    # part -> (logits of each window over the whole article, the article each belongs to)
    windows: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def write_scores(
    output_dir: Path,
    seed: int,
    val_index: list[int],
    test_index: list[int],
    val_labels: list[int],
    test_labels: list[int],
    logits: dict[str, np.ndarray],
    weights: tuple[float, ...] = (),
    buckets: tuple[int, ...] = (),
    windows: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """Write one split's scores (atomically: a reader never sees half a file)."""
    sizes = {"val": len(val_index), "test": len(test_index)}
    for name, array in logits.items():
        part = name.split("_", 1)[0]
        if part not in sizes or np.ndim(array) != 2 or len(array) != sizes[part]:
            raise TrainingError(f"scores {name}: shape {np.shape(array)} does not fit {sizes}")
    for part, (window, owner) in (windows or {}).items():
        owner = np.asarray(owner)
        if (
            part not in sizes
            or len(window) != len(owner)
            or set(owner.tolist()) != set(range(sizes[part]))
        ):
            raise TrainingError(f"scores windows_{part}: windows do not cover the {part} articles")
    path = scores_path(output_dir, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    arrays: dict[str, Any] = {
        "seed": np.int64(seed),
        "val_index": np.asarray(val_index, dtype=np.int64),
        "test_index": np.asarray(test_index, dtype=np.int64),
        "val_labels": np.asarray(val_labels, dtype=np.int64),
        "test_labels": np.asarray(test_labels, dtype=np.int64),
        "weights": np.asarray(weights, dtype=np.float64),
        "buckets": np.asarray(buckets, dtype=np.int64),
    }
    arrays |= {_LOGITS + name: np.asarray(array) for name, array in logits.items()}
    for part, (window, owner) in (windows or {}).items():
        arrays[_WINDOWS + part] = np.asarray(window)
        arrays[_OWNER + part] = np.asarray(owner, dtype=np.int64)
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_scores(path: Path) -> SplitScores:
    """One split's scores; a file that is not one is a :class:`TrainingError` naming why."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        return SplitScores(
            seed=int(arrays["seed"]),
            val_index=arrays["val_index"],
            test_index=arrays["test_index"],
            val_labels=arrays["val_labels"],
            test_labels=arrays["test_labels"],
            logits={k[len(_LOGITS) :]: v for k, v in arrays.items() if k.startswith(_LOGITS)},
            weights=tuple(float(w) for w in arrays["weights"]),
            buckets=tuple(int(b) for b in arrays["buckets"]),
            windows={
                k[len(_WINDOWS) :]: (v, arrays[_OWNER + k[len(_WINDOWS) :]])
                for k, v in arrays.items()
                if k.startswith(_WINDOWS)
            },
        )
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"cannot read split scores {path}: {exc}") from exc


def load_all(output_dir: Path) -> list[SplitScores]:
    """Every split's scores under ``output_dir``, by seed."""
    paths = (Path(output_dir) / SCORES_DIR).glob("seed-*.npz")
    loaded = [load_scores(p) for p in paths if not p.name.endswith(".tmp.npz")]
    return sorted(loaded, key=lambda scores: scores.seed)

"""Reading a training checkpoint directory: what it holds, its labels, its evaluation.

Standard library + ``newsclf`` (text preparation, the calibration file's check: numpy) only, so
bad input is rejected before anything heavy (torch, transformers, Optimum) is imported.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from export.errors import CheckpointError, EvalGateError
from newsclf.calibration import Calibration
from newsclf.lexical import PARITY_ATOL, Lexical, LexicalError
from newsclf.lexical import present as lexical_present
from newsclf.textprep import PREPROCESSING_FILE, Preprocessing

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
EVAL_REPORT_FILE = "eval_report.json"
TRAINING_CONFIG_FILE = "training_config.json"
HELDOUT_FILE = "heldout.jsonl"
TRAIN_SAMPLE_FILE = "train_sample.jsonl"
TOKENIZER_JSON = "tokenizer.json"
CALIBRATION_FILE = "calibration.json"  # newsclf.calibration: temperature, review threshold
LANGUAGES_FILE = "languages.json"  # the training data's languages (newsclf.language)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# Tokenizer files copied into the model directory when the checkpoint has them.
TOKENIZER_FILES = (
    TOKENIZER_JSON,
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
METRIC_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1")


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint directory."""

    path: Path
    labels: list[str]
    preprocessing: Preprocessing
    eval_report: dict[str, Any] | None
    training_config: dict[str, Any] | None
    calibration: dict[str, Any] | None = None
    languages: dict[str, Any] | None = None
    lexical: Lexical | None = None  # a hybrid's TF-IDF branch (newsclf.lexical)
    lexical_parity: float | None = None  # its max |Δ log p| from training's reference

    def served_scores(self, logits: Any, texts: list[str]) -> Any:
        """What the service turns into probabilities: the logits, fused with the lexical
        branch when the checkpoint is a hybrid."""
        return self.lexical.fuse(logits, texts) if self.lexical is not None else logits

    @property
    def temperature(self) -> float:
        return float((self.calibration or {}).get("temperature", 1.0))

    @property
    def weights_file(self) -> Path:
        return next(self.path / n for n in WEIGHT_FILES if (self.path / n).is_file())

    @property
    def heldout(self) -> Path | None:
        path = self.path / HELDOUT_FILE
        return path if path.is_file() else None

    @property
    def train_sample(self) -> Path | None:
        path = self.path / TRAIN_SAMPLE_FILE
        return path if path.is_file() else None

    @property
    def tokenizer_files(self) -> list[str]:
        return [n for n in TOKENIZER_FILES if (self.path / n).is_file()]

    @property
    def macro_f1(self) -> float | None:
        value = (self.eval_report or {}).get("macro_f1")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return None
        return float(value)

    @property
    def metrics(self) -> dict[str, Any]:
        """The checkpoint's test-split metrics (and its baseline's), for the manifest."""
        report = self.eval_report or {}
        metrics: dict[str, Any] = {k: report[k] for k in METRIC_KEYS if k in report}
        if isinstance(report.get("per_class"), dict):
            metrics["per_class"] = report["per_class"]
        baseline = report.get("baseline")
        if isinstance(baseline, dict):
            metrics["baseline"] = {k: baseline[k] for k in METRIC_KEYS if k in baseline}
        return metrics

    @property
    def base_model(self) -> str | None:
        for source in (self.eval_report, self.training_config):
            for key in ("base_model", "model", "model_name_or_path"):
                value = (source or {}).get(key)
                if isinstance(value, str) and value:
                    return value
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} is not a JSON object")
    return raw


def _labels(config: dict[str, Any], path: Path) -> list[str]:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or len(id2label) < 2:
        raise CheckpointError(f"{path} has no id2label with two or more labels")
    try:
        by_index = {int(k): str(v) for k, v in id2label.items()}
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has non-integer id2label keys") from exc
    if sorted(by_index) != list(range(len(by_index))):
        raise CheckpointError(f"{path} id2label indices are not 0..{len(by_index) - 1}")
    labels = [by_index[i] for i in range(len(by_index))]
    if len(set(labels)) != len(labels):
        raise CheckpointError(f"{path} id2label has duplicate labels")
    return labels


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Validate a checkpoint directory; :class:`CheckpointError` says what is wrong."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint directory {path} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} is not a directory")
    required = (CONFIG_FILE, TOKENIZER_JSON, PREPROCESSING_FILE)
    missing = [n for n in required if not (path / n).is_file()]
    if not any((path / n).is_file() for n in WEIGHT_FILES):
        missing.append(WEIGHT_FILES[0])
    if missing:
        raise CheckpointError(f"{path} is not a checkpoint directory: missing {', '.join(missing)}")
    config = _read_json(path / CONFIG_FILE) or {}
    labels = _labels(config, path / CONFIG_FILE)
    try:
        prep = Preprocessing.load(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CheckpointError(str(exc)) from exc
    return Checkpoint(
        path=path,
        labels=labels,
        preprocessing=prep,
        eval_report=_read_json(path / EVAL_REPORT_FILE),
        training_config=_read_json(path / TRAINING_CONFIG_FILE),
        calibration=_calibration(path / CALIBRATION_FILE),
        languages=_languages(path / LANGUAGES_FILE),
        **_lexical(path, labels),
    )


def _lexical(path: Path, labels: list[str]) -> dict[str, Any]:
    """The checkpoint's TF-IDF branch and its measured parity (the Checkpoint's fields), held
    to the parity gate: it must reproduce the figures scikit-learn gave at training within
    ``PARITY_ATOL``."""
    if not lexical_present(path):
        return {}
    try:
        branch = Lexical.load(path)
        error = branch.parity_error()
    except LexicalError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    if list(branch.labels) != list(labels):
        raise CheckpointError(
            f"{path}: the lexical branch's labels {list(branch.labels)} are not the model's "
            f"{list(labels)}"
        )
    if error > PARITY_ATOL:
        raise CheckpointError(
            f"{path}: the lexical branch disagrees with training by {error:.2e} "
            f"(> {PARITY_ATOL}) on its reference articles"
        )
    log.info("export.lexical terms=%d parity=%.1e", len(branch.vocabulary), error)
    return {"lexical": branch, "lexical_parity": error}


def _calibration(path: Path) -> dict[str, Any] | None:
    """The checkpoint's ``calibration.json``, checked as training wrote it, kept as it is."""
    raw = _read_json(path)
    if raw is None:
        return None
    try:
        Calibration.from_dict(raw)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    return raw


def _languages(path: Path) -> dict[str, Any] | None:
    raw = _read_json(path)
    if raw is None:
        return None
    supported = raw.get("supported")
    if not isinstance(supported, list) or not all(isinstance(x, str) for x in supported):
        raise CheckpointError(f"{path}: 'supported' must be a list of language codes")
    return raw


def check_eval_gate(checkpoint: Checkpoint, min_macro_f1: float | None) -> float | None:
    """Refuse a checkpoint whose test macro-F1 is below ``min_macro_f1`` (or unknown).

    Returns the checkpoint's macro-F1 (``None`` when there is no gate and no report).
    """
    score = checkpoint.macro_f1
    if min_macro_f1 is None:
        return score
    if checkpoint.eval_report is None:
        raise EvalGateError(
            f"{checkpoint.path / EVAL_REPORT_FILE} is missing; cannot check "
            f"min macro-F1 {min_macro_f1:g}"
        )
    if score is None:
        raise EvalGateError(
            f"{checkpoint.path / EVAL_REPORT_FILE} has no numeric macro_f1; cannot check "
            f"min macro-F1 {min_macro_f1:g}"
        )
    if score < min_macro_f1:
        raise EvalGateError(
            f"checkpoint macro-F1 {score:.4f} is below the required {min_macro_f1:g}; "
            "refusing to export"
        )
    log.info("export.gate macro_f1=%.4f min=%g passed", score, min_macro_f1)
    return score

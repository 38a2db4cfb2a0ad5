"""Evaluation over K stratified splits (``--repeats K``): is the transformer better than the
TF-IDF baseline beyond the luck of one split?

One test split of BBC News holds 212 articles (one article = 0.47 points), so one split cannot
separate two classifiers ~0.5 points apart. For each seed ``seed, seed+1, ..., seed+K-1`` this
mode draws a fresh stratified train/validation/test split (same fractions, same ``limit`` subset),
fine-tunes the base model from scratch, scores it and the baseline on that split's test articles,
fits the calibration on its validation articles and measures it on the test articles. Per
quantity it reports mean, standard deviation and a Student-t interval over the K values; the
comparison is paired (transformer − baseline on the same split).

Writes ``repeated_splits.json`` and ``repeated_splits.md`` into ``config.output`` after every
split (an interrupted run keeps what it measured), and no model checkpoint: K models trained on
different splits are an evaluation, not a product; train the checkpoint with a plain run. Beside
them, ``scores/seed-<seed>.npz`` keeps each split's transformer logits (``training.split_scores``)
so that fusion rules can be measured over the splits again without fine-tuning.

With ``--resume`` the run continues the ``repeated_splits.json`` already in ``config.output``:
the splits it holds are kept and only the missing seeds are trained, so K splits can be measured
over several sittings (or machines: each row names its device). The file must have been written
with the same recipe; any option that changes what a split measures and differs is refused.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from newsclf.calibration import THRESHOLD_RULES, coverage_accuracy, select_threshold, softmax
from training.config import TrainConfig
from training.data import Dataset
from training.errors import TrainingError
from training.modeling import check_model_source
from training.pipeline import (
    DEFAULT_BASE_MODEL_NAME,
    HYPERPARAMETER_KEYS,
    TRAINER_DIR,
    Evaluation,
    PreparedData,
    TrainResult,
    corpus_groups,
    evaluate,
    load_data,
    split_data,
    train_once,
)
from training.split_scores import SCORES_DIR, load_scores, scores_path, write_scores
from training.stats import CONFIDENCE, Interval, t_interval, verdict
from training.train import window_logits
from training.views import SHORT_VIEWS

log = logging.getLogger(__name__)

REPEATED_JSON = "repeated_splits.json"
REPEATED_MD = "repeated_splits.md"
# config keys a resumed run may change: where it writes, how many splits, how fast it runs
RESUMABLE_KEYS = frozenset(
    {"output", "repeats", "resume", "keep_trainer_checkpoints", "num_threads"}
)
# config keys the fine-tuning never reads, only what is fitted on its logits afterwards (the
# whole-article branch, the review threshold): a resumed run may change them, and scores each
# kept split again from its stored logits (scores/seed-<seed>.npz) under the new values
RESCORABLE_KEYS = frozenset(
    {
        "long_branch_weight",
        "review_target_accuracy",
        "threshold_rule",
        "max_review_share",
        "review_min_confidence",
    }
)


@dataclass(frozen=True)
class SplitRow:
    """One split's figures (fractions; test split unless named ``val_``)."""

    split: int
    seed: int
    train: int
    val: int
    test: int
    accuracy: float
    macro_f1: float
    baseline_accuracy: float
    baseline_macro_f1: float
    diff_accuracy: float  # transformer − baseline
    diff_macro_f1: float
    temperature: float
    threshold: float
    val_ece_before: float
    val_ece_after: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    coverage_at_threshold: float
    accuracy_at_threshold: float | None
    # the test split at the threshold each rule chooses on validation (side by side)
    coverage_expected: float
    accuracy_expected: float | None
    coverage_empirical: float
    accuracy_empirical: float | None
    best_epoch: float | None
    train_seconds: float
    seconds: float
    # the short-text views of the same test articles (None without headlines in the data)
    headline_accuracy: float | None = None
    headline_macro_f1: float | None = None
    baseline_headline_accuracy: float | None = None
    baseline_headline_macro_f1: float | None = None
    diff_headline_accuracy: float | None = None
    diff_headline_macro_f1: float | None = None
    lead_accuracy: float | None = None
    lead_macro_f1: float | None = None
    baseline_lead_accuracy: float | None = None
    baseline_lead_macro_f1: float | None = None
    diff_lead_accuracy: float | None = None
    diff_lead_macro_f1: float | None = None
    # a hybrid's transformer alone, unfused (None when the served model is the transformer)
    transformer_accuracy: float | None = None
    transformer_macro_f1: float | None = None
    transformer_headline_accuracy: float | None = None
    transformer_lead_accuracy: float | None = None
    device: str | None = None  # where the split was trained ("cpu", or the GPU's name)
    # scored again from the stored logits of its fine-tuning, under a later fusion or
    # calibration recipe (RESCORABLE_KEYS); best_epoch, train_seconds, seconds and device are
    # the fine-tuning's
    rescored: bool = False

    @property
    def ece_change(self) -> float:
        """Test ECE after − before calibration (negative: calibration helped)."""
        return self.ece_after - self.ece_before


# summary group -> {name in the report: SplitRow field}
SUMMARY_FIELDS: dict[str, dict[str, str]] = {
    "transformer": {"accuracy": "accuracy", "macro_f1": "macro_f1"},  # what is served
    "transformer_alone": {
        "accuracy": "transformer_accuracy",
        "macro_f1": "transformer_macro_f1",
        "headline_accuracy": "transformer_headline_accuracy",
        "lead_accuracy": "transformer_lead_accuracy",
    },
    "baseline": {"accuracy": "baseline_accuracy", "macro_f1": "baseline_macro_f1"},
    "difference": {"accuracy": "diff_accuracy", "macro_f1": "diff_macro_f1"},
    "headline": {
        "accuracy": "headline_accuracy",
        "macro_f1": "headline_macro_f1",
        "baseline_accuracy": "baseline_headline_accuracy",
        "baseline_macro_f1": "baseline_headline_macro_f1",
        "diff_accuracy": "diff_headline_accuracy",
        "diff_macro_f1": "diff_headline_macro_f1",
    },
    "lead": {
        "accuracy": "lead_accuracy",
        "macro_f1": "lead_macro_f1",
        "baseline_accuracy": "baseline_lead_accuracy",
        "baseline_macro_f1": "baseline_lead_macro_f1",
        "diff_accuracy": "diff_lead_accuracy",
        "diff_macro_f1": "diff_lead_macro_f1",
    },
    "calibration": {
        "temperature": "temperature",
        "ece_before": "ece_before",
        "ece_after": "ece_after",
        "ece_change": "ece_change",
        "coverage_at_threshold": "coverage_at_threshold",
        "accuracy_at_threshold": "accuracy_at_threshold",
        "coverage_expected": "coverage_expected",
        "accuracy_expected": "accuracy_expected",
        "coverage_empirical": "coverage_empirical",
        "accuracy_empirical": "accuracy_empirical",
    },
}


@dataclass
class RepeatedResult(TrainResult):
    rows: list[SplitRow]
    verdict: str


def run_repeated(config: TrainConfig, *, progress: bool = False) -> RepeatedResult:
    """Train and evaluate on ``config.repeats`` splits; write the JSON and Markdown summary."""
    start = time.perf_counter()
    output_dir = Path(config.output)
    check_model_source(config.model, allow_hub=config.allow_hub)  # fail before loading data
    seeds = [config.seed + i for i in range(config.repeats)]
    done, earlier_seconds, rescore = (
        load_done(output_dir, config) if config.resume else ({}, 0.0, ())
    )
    dataset = load_data(config)
    groups = corpus_groups(dataset, config)  # the same for every seed
    output_dir.mkdir(parents=True, exist_ok=True)
    by_seed = {seed: done[seed] for seed in seeds if seed in done}
    if config.resume:
        log.info("repeated.resume kept=%d to_run=%d", len(by_seed), len(seeds) - len(by_seed))
    if rescore:
        log.info("repeated.rescore splits=%d changed=%s", len(by_seed), ",".join(rescore))
        missing = [seed for seed in by_seed if not scores_path(output_dir, seed).exists()]
        if missing:
            raise TrainingError(
                f"cannot rescore the kept splits under the changed {', '.join(rescore)}: "
                f"no stored scores for seeds {', '.join(map(str, missing))} in "
                f"{output_dir / SCORES_DIR}; use the same options or another --output"
            )
        for n, seed in enumerate(sorted(by_seed), 1):
            by_seed[seed] = rescore_split(config, dataset, groups, by_seed[seed], output_dir)
            log.info(
                "repeated.rescored n=%d/%d seed=%d accuracy=%.4f diff_accuracy=%+.4f",
                n,
                len(by_seed),
                seed,
                by_seed[seed].accuracy,
                by_seed[seed].diff_accuracy,
            )

    def rows() -> list[SplitRow]:  # in seed order, whichever sitting measured them
        return [by_seed[seed] for seed in seeds if seed in by_seed]

    def report_now() -> dict[str, Any]:
        return build_report(config, seeds, rows(), earlier_seconds + time.perf_counter() - start)

    report = report_now()
    if rescore:  # the kept splits' figures changed: written now, before any split trains
        write_repeated(output_dir, report)
    for i, seed in enumerate(seeds, 1):
        if seed in by_seed:
            continue
        log.info("repeated.split n=%d/%d seed=%d", i, len(seeds), seed)
        row = by_seed[seed] = _run_split(
            config, dataset, groups, i, seed, output_dir, progress=progress
        )
        report = report_now()
        write_repeated(output_dir, report)
        log.info(
            "repeated.split_done n=%d/%d seed=%d accuracy=%.4f baseline_accuracy=%.4f "
            "diff_accuracy=%+.4f ece_before=%.4f ece_after=%.4f coverage=%.4f seconds=%.1f",
            i,
            len(seeds),
            seed,
            row.accuracy,
            row.baseline_accuracy,
            row.diff_accuracy,
            row.ece_before,
            row.ece_after,
            row.coverage_at_threshold,
            row.seconds,
        )
    with contextlib.suppress(OSError):  # the split work dirs are gone; drop an empty parent
        (output_dir / TRAINER_DIR).rmdir()
    log.info(
        "repeated.done splits=%d seconds=%.1f %s",
        len(by_seed),
        report["total_seconds"],
        report["verdict"],
    )
    return RepeatedResult(output_dir, report, rows(), report["verdict"])


def load_done(
    output_dir: Path, config: TrainConfig
) -> tuple[dict[int, SplitRow], float, tuple[str, ...]]:
    """The splits an earlier run of the same fine-tuning recipe wrote into ``output_dir`` (by
    seed), the seconds it spent, and the :data:`RESCORABLE_KEYS` that differ (the kept splits
    must be scored again); nothing when there is no file. A file of another recipe, or one that
    does not read as a repeated-splits report, is a :class:`TrainingError` naming why."""
    path = output_dir / REPEATED_JSON
    if not path.exists():
        log.warning("repeated.resume_nothing file=%s starting fresh", path)
        return {}, 0.0, ()
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        stored, splits = report["config"], report["splits"]
        rows = [SplitRow(**row) for row in splits]
        seconds = float(report.get("total_seconds", 0.0))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingError(
            f"cannot resume from {path}: not a repeated-splits report ({exc})"
        ) from exc
    current = config.to_dict()
    changed = sorted(
        key
        for key in set(stored) | set(current)
        if key not in RESUMABLE_KEYS and stored.get(key) != current.get(key)
    )
    refused = [key for key in changed if key not in RESCORABLE_KEYS]
    if refused:
        shown = ", ".join(f"{k} {stored.get(k)!r} -> {current.get(k)!r}" for k in refused)
        raise TrainingError(
            f"cannot resume from {path}: it was written with another recipe ({shown}); "
            "use the same options or another --output"
        )
    return {row.seed: row for row in rows}, seconds, tuple(changed)


def _device() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def _run_split(
    config: TrainConfig,
    dataset: Dataset,
    groups: Sequence[int],
    index: int,
    seed: int,
    output_dir: Path,
    *,
    progress: bool,
) -> SplitRow:
    """Fine-tune from the base model on the split of ``seed`` and evaluate it there."""
    start = time.perf_counter()
    split_config = config.replace(seed=seed, repeats=1, resume=False)
    data = split_data(dataset, split_config, groups)
    trained = train_once(
        split_config, data, output_dir / TRAINER_DIR / f"split-{index}", progress=progress
    )
    evaluation = evaluate(split_config, data, trained)
    row = _row(
        config,
        data,
        evaluation,
        split=index,
        seed=seed,
        best_epoch=trained.fit.best_epoch,
        train_seconds=round(trained.fit.train_seconds, 2),
        seconds=round(time.perf_counter() - start, 2),
        device=_device(),
    )
    started = time.perf_counter()
    windows = {
        part: window_logits(
            trained.model,
            trained.tokenizer,
            data.part(part)[0],
            trained.prep.max_length,
            config.eval_batch_size,
        )
        for part in ("val", "test")
    }
    log.info(
        "repeated.windows val=%d test=%d seconds=%.1f",
        len(windows["val"][1]),
        len(windows["test"][1]),
        time.perf_counter() - started,
    )
    _write_split_scores(output_dir, seed, data, evaluation, windows)
    del trained, evaluation
    _release_memory()
    return row


def rescore_split(
    config: TrainConfig,
    dataset: Dataset,
    groups: Sequence[int],
    kept: SplitRow,
    output_dir: Path,
) -> SplitRow:
    """The row of a split measured earlier, scored again under ``config`` from the transformer
    logits its fine-tuning stored (nothing is trained): the same split (checked against the
    stored article indices), the TF-IDF branches, fusion weights, calibration and baseline fitted
    again. The scores file is rewritten with the fusion weights now served."""
    split_config = config.replace(seed=kept.seed, repeats=1, resume=False)
    data = split_data(dataset, split_config, groups)
    path = scores_path(output_dir, kept.seed)
    stored = load_scores(path)
    if stored.val_index.tolist() != list(data.split.val) or stored.test_index.tolist() != list(
        data.split.test
    ):
        raise TrainingError(
            f"cannot rescore seed {kept.seed}: {path} holds other validation or test articles "
            "than this corpus and recipe split off"
        )
    evaluation = evaluate(split_config, data, None, stored=stored.logits)
    row = _row(
        config,
        data,
        evaluation,
        split=kept.split,
        seed=kept.seed,
        best_epoch=kept.best_epoch,
        train_seconds=kept.train_seconds,
        seconds=kept.seconds,
        device=kept.device,
        rescored=True,
    )
    _write_split_scores(output_dir, kept.seed, data, evaluation, stored.windows)
    return row


def _row(
    config: TrainConfig,
    data: PreparedData,
    evaluation: Evaluation,
    **fields: Any,
) -> SplitRow:
    """One split's row from its evaluation; ``fields`` name the split and its cost."""
    metrics, baseline, cal = evaluation.metrics, evaluation.baseline, evaluation.calibration
    assert baseline is not None  # validated: repeats needs the baseline
    sizes = data.split.sizes()
    values: dict[str, Any] = dict(
        train=sizes["train"],
        val=sizes["val"],
        test=sizes["test"],
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        baseline_accuracy=baseline["accuracy"],
        baseline_macro_f1=baseline["macro_f1"],
        diff_accuracy=metrics["accuracy"] - baseline["accuracy"],
        diff_macro_f1=metrics["macro_f1"] - baseline["macro_f1"],
        temperature=cal.temperature,
        threshold=cal.threshold,
        val_ece_before=cal.validation["ece_before"],
        val_ece_after=cal.validation["ece_after"],
        ece_before=cal.test["ece_before"],
        ece_after=cal.test["ece_after"],
        nll_before=cal.test["nll_before"],
        nll_after=cal.test["nll_after"],
        coverage_at_threshold=cal.test["coverage_at_threshold"],
        accuracy_at_threshold=cal.test["accuracy_at_threshold"],
        **_rules_side_by_side(evaluation, config.review_target_accuracy),
        **_view_fields(metrics, baseline),
        **_alone_fields(metrics),
        **fields,
    )
    return SplitRow(**values)


def _write_split_scores(
    output_dir: Path,
    seed: int,
    data: PreparedData,
    evaluation: Evaluation,
    windows: dict[str, tuple[Any, Any]],
) -> None:
    lexical = evaluation.lexical
    write_scores(
        output_dir,
        seed,
        data.split.val,
        data.split.test,
        list(evaluation.val_labels or []),
        evaluation.test_labels,
        evaluation.transformer_logits,
        weights=lexical.weights if lexical is not None else (),
        buckets=lexical.buckets if lexical is not None else (),
        windows=windows,
    )


def _view_fields(metrics: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    """The SplitRow fields of the short-text views both sides were scored on."""
    out: dict[str, float] = {}
    ours, theirs = metrics.get("views") or {}, baseline.get("views") or {}
    for view in SHORT_VIEWS:
        if view not in ours or view not in theirs:
            continue
        for metric in ("accuracy", "macro_f1"):
            out[f"{view}_{metric}"] = ours[view][metric]
            out[f"baseline_{view}_{metric}"] = theirs[view][metric]
            out[f"diff_{view}_{metric}"] = ours[view][metric] - theirs[view][metric]
    return out


def _alone_fields(metrics: dict[str, Any]) -> dict[str, float]:
    """A hybrid's transformer alone (the SplitRow's ``transformer_*`` fields)."""
    alone = metrics.get("transformer")
    if not alone:
        return {}
    out = {"transformer_accuracy": alone["accuracy"], "transformer_macro_f1": alone["macro_f1"]}
    for view in SHORT_VIEWS:
        if view in alone.get("views", {}):
            out[f"transformer_{view}_accuracy"] = alone["views"][view]["accuracy"]
    return out


def _release_memory() -> None:
    """Drop the split's model before the next one loads (GPU memory included)."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _rules_side_by_side(evaluation: Evaluation, target_accuracy: float) -> dict[str, Any]:
    """Test coverage and accuracy at the threshold each rule picks on validation."""
    cal = evaluation.calibration
    assert evaluation.val_logits is not None and evaluation.val_labels is not None
    val_probs = softmax(evaluation.val_logits, cal.temperature)
    test_probs = softmax(evaluation.test_logits, cal.temperature)
    out: dict[str, Any] = {}
    for rule in THRESHOLD_RULES:
        threshold = select_threshold(val_probs, evaluation.val_labels, target_accuracy, rule)
        kept = coverage_accuracy(test_probs, evaluation.test_labels, [threshold])[0]
        out[f"coverage_{rule}"] = kept["coverage"]
        out[f"accuracy_{rule}"] = kept["accuracy"]
    return out


def summarize(rows: Sequence[SplitRow], confidence: float = CONFIDENCE) -> dict[str, Any]:
    """Per group of :data:`SUMMARY_FIELDS`: the Student-t interval of each quantity over the
    splits, and the interval corrected for the splits' overlap (``corrected``)."""
    ratio = sum(r.test / r.train for r in rows) / len(rows) if rows else 0.0
    summary: dict[str, Any] = {}
    for group, names in SUMMARY_FIELDS.items():
        summary[group] = {}
        for name, attr in names.items():
            values = [getattr(r, attr) for r in rows]
            entry = t_interval(values, confidence).to_dict()
            corrected = t_interval(values, confidence, test_train_ratio=ratio)
            entry["corrected"] = {"low": corrected.low, "high": corrected.high}
            summary[group][name] = entry
    return summary


def build_report(
    config: TrainConfig, seeds: Sequence[int], rows: Sequence[SplitRow], seconds: float
) -> dict[str, Any]:
    summary = summarize(rows)
    difference = summary["difference"]
    verdicts = {
        "full": {
            "accuracy": verdict(_corrected(difference["accuracy"]), "accuracy"),
            "macro_f1": verdict(_corrected(difference["macro_f1"]), "macro-F1"),
        }
    }
    for view in SHORT_VIEWS:
        group = summary[view]
        if group["diff_accuracy"]["n"]:
            verdicts[view] = {
                "accuracy": verdict(_corrected(group["diff_accuracy"]), f"{view} accuracy"),
                "macro_f1": verdict(_corrected(group["diff_macro_f1"]), f"{view} macro-F1"),
            }
    return {
        "repeats": len(seeds),
        "completed": len(rows),
        "seeds": list(seeds),
        "confidence": CONFIDENCE,
        "interval": "corrected resampled t (Nadeau & Bengio: variance x (1/K + n_test/n_train))",
        "verdict": verdicts["full"]["accuracy"],
        "verdict_macro_f1": verdicts["full"]["macro_f1"],
        "verdicts": verdicts,
        "summary": summary,
        "splits": [asdict(r) for r in rows],
        "base_model": config.model or DEFAULT_BASE_MODEL_NAME,
        "review_target_accuracy": config.review_target_accuracy,
        "hyperparameters": {
            **{k: getattr(config, k) for k in HYPERPARAMETER_KEYS if k != "seed"},
            "head_tokens": config.serving_head_tokens(),
            "train_max_length": config.train_lengths()[0],
            "train_head_tokens": config.train_lengths()[1],
        },
        "config": config.to_dict(),
        "total_seconds": round(seconds, 2),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _corrected(entry: dict[str, Any]) -> Interval:
    """The overlap-corrected interval of a summary entry: what every verdict reads."""
    corrected = entry["corrected"]
    return Interval(
        entry["n"],
        entry["mean"],
        entry["std"],
        corrected["low"],
        corrected["high"],
        entry["confidence"],
    )


def write_repeated(directory: Path, report: dict[str, Any]) -> list[Path]:
    json_path = directory / REPEATED_JSON
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path = directory / REPEATED_MD
    md_path.write_text(render_repeated(report), encoding="utf-8")
    return [json_path, md_path]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def _pts(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.2f}"


def _range(low: float | None, high: float | None, fmt: Any) -> str:
    return "–" if low is None or high is None else f"{fmt(low)} to {fmt(high)}"


SUMMARY_LABELS = (
    ("transformer", "accuracy", "transformer accuracy", _pct),
    ("transformer", "macro_f1", "transformer macro-F1", _pct),
    ("baseline", "accuracy", "baseline accuracy", _pct),
    ("baseline", "macro_f1", "baseline macro-F1", _pct),
    ("difference", "accuracy", "**transformer − baseline accuracy** (points)", _pts),
    ("difference", "macro_f1", "**transformer − baseline macro-F1** (points)", _pts),
    ("headline", "accuracy", "transformer accuracy, headline only", _pct),
    ("headline", "baseline_accuracy", "baseline accuracy, headline only", _pct),
    ("headline", "diff_accuracy", "**transformer − baseline, headline only** (points)", _pts),
    ("headline", "diff_macro_f1", "transformer − baseline macro-F1, headline only", _pts),
    ("lead", "accuracy", "transformer accuracy, headline + first sentence", _pct),
    ("lead", "baseline_accuracy", "baseline accuracy, headline + first sentence", _pct),
    (
        "lead",
        "diff_accuracy",
        "**transformer − baseline, headline + first sentence** (points)",
        _pts,
    ),
    ("lead", "diff_macro_f1", "transformer − baseline macro-F1, headline + first sentence", _pts),
    ("transformer_alone", "accuracy", "hybrid's transformer alone, accuracy", _pct),
    ("transformer_alone", "headline_accuracy", "hybrid's transformer alone, headline", _pct),
    ("transformer_alone", "lead_accuracy", "hybrid's transformer alone, headline + sentence", _pct),
    ("calibration", "ece_before", "test ECE before calibration", _pct),
    ("calibration", "ece_after", "test ECE after calibration", _pct),
    ("calibration", "ece_change", "**test ECE after − before** (points, paired)", _pts),
    ("calibration", "coverage_at_threshold", "test coverage at the threshold", _pct),
    ("calibration", "accuracy_at_threshold", "test accuracy at the threshold", _pct),
    ("calibration", "coverage_expected", "test coverage, expected-accuracy rule", _pct),
    ("calibration", "accuracy_expected", "test accuracy, expected-accuracy rule", _pct),
    ("calibration", "coverage_empirical", "test coverage, empirical rule", _pct),
    ("calibration", "accuracy_empirical", "test accuracy, empirical rule", _pct),
)


def render_repeated(report: dict[str, Any]) -> str:
    rows = report["splits"]
    level = f"{100 * report['confidence']:g} %"
    sizes = sorted({(r["train"], r["val"], r["test"]) for r in rows})
    test_n = rows[0]["test"] if rows else 0
    lines = [
        "# Repeated stratified splits",
        "",
        *[
            f"- **{line}**" if name == "full" else f"- {line}"
            for name, pair in report.get("verdicts", {}).items()
            for line in pair.values()
        ],
        "",
        f"- Splits: {report['completed']} of {report['repeats']} "
        f"(seeds {', '.join(str(s) for s in report['seeds'][: report['completed']])}); "
        "train/val/test sizes "
        + ", ".join(f"{a}/{b}/{c}" for a, b, c in sizes)
        + (f"; one test article = {100 / test_n:.2f} points" if test_n else ""),
        f"- Base model: `{report['base_model']}`; every split fine-tuned from it with the same "
        "settings; the TF-IDF + LR baseline trained and tested on the same split",
        f"- Interval: Student t over the per-split values ({level}); with few splits it is wide. "
        "The splits share most of their training articles, so even this interval is "
        "optimistic; the overlap-corrected one (Nadeau & Bengio: variance × (1/K + "
        "n_test/n_train) instead of 1/K) is the more cautious reading, and every verdict above "
        "uses it: a winner is named only when the corrected interval is on its side of 0. "
        "Short views: the headline alone, and the headline + first sentence, of each test "
        "article; the baseline is fitted on whole articles, as it is served.",
        "",
        "## Summary",
        "",
        f"| quantity | mean | std (points) | {level} interval | overlap-corrected |",
        "|---|---|---|---|---|",
    ]
    summary = report["summary"]
    for group, name, label, fmt in SUMMARY_LABELS:
        e = summary[group][name]
        if group == "transformer_alone" and not e["n"]:
            continue  # the served model is the transformer: nothing to set beside it
        std = "–" if e["std"] is None else f"{100 * e['std']:.2f}"
        interval = _range(e["low"], e["high"], fmt)
        corrected = _range(e["corrected"]["low"], e["corrected"]["high"], fmt)
        lines.append(f"| {label} | {fmt(e['mean'])} | {std} | {interval} | {corrected} |")
    t = summary["calibration"]["temperature"]
    if t["mean"] is not None:
        lines += [
            "",
            f"Fitted temperature: mean {t['mean']:.3f}"
            + ("" if t["std"] is None else f", std {t['std']:.3f}"),
        ]
    lines += [
        "",
        "## Per split (test split; calibration fitted on the split's validation articles)",
        "",
        "| split | seed | transformer acc / macro-F1 | baseline acc / macro-F1 | difference acc "
        "(points) | T | threshold | ECE before → after | coverage / accuracy at threshold "
        "| best epoch | split s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['split']} | {r['seed']} | {_pct(r['accuracy'])} / {_pct(r['macro_f1'])} "
            f"| {_pct(r['baseline_accuracy'])} / {_pct(r['baseline_macro_f1'])} "
            f"| {_pts(r['diff_accuracy'])} | {r['temperature']:.3f} | {r['threshold']:.6g} "
            f"| {_pct(r['ece_before'])} → {_pct(r['ece_after'])} "
            f"| {_pct(r['coverage_at_threshold'])} / {_pct(r['accuracy_at_threshold'])} "
            f"| {r['best_epoch'] if r['best_epoch'] is not None else '–'} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"

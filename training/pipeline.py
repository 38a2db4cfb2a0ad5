"""One training run end to end: data → split → fine-tune → test evaluation + baseline +
calibration → checkpoint directory (model, tokenizer, preprocessing, calibration.json, reports,
held-out split)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from newsclf.calibration import Calibration
from newsclf.lexical import FILES as LEXICAL_FILES
from newsclf.lexical import Lexical
from newsclf.textprep import Preprocessing
from training.baseline import run_baseline
from training.calibration_report import calibration_section, fit_calibration
from training.config import TrainConfig
from training.data import Dataset, add_reviewed, load_dataset
from training.duplicates import group_count, near_duplicate_groups
from training.errors import TrainingError
from training.hybrid import choose_weights, fit_branch, with_long_branch
from training.metrics import classification_metrics
from training.modeling import check_model_source, load_model, load_tokenizer, resolve_model
from training.report import (
    HELDOUT_JSONL,
    TRAIN_SAMPLE_JSONL,
    TRAIN_SAMPLE_SIZE,
    write_heldout,
    write_report,
)
from training.split import Split, stratified_split, stratified_subset
from training.train import (
    FitResult,
    fine_tune,
    predict_logits,
    preprocessing_for,
    training_preprocessing,
)
from training.views import short_views

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

log = logging.getLogger(__name__)

DEFAULT_BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
TRAINER_DIR = ".trainer"
HYPERPARAMETER_KEYS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "warmup_ratio",
    "weight_decay",
    "lr_scheduler",
    "gradient_accumulation",
    "max_length",
    "head_tokens",
    "group_by_length",
    "train_short_views",
    "freeze_embeddings",
    "num_hidden_layers",
    "seed",
)


@dataclass
class PreparedData:
    """The deduplicated dataset (after ``limit``) and its split."""

    dataset: Dataset
    split: Split
    near_duplicate_groups: int = 0  # groups of 2+ corpus articles kept on one side

    def part(self, name: str) -> tuple[list[str], list[int]]:
        return self.dataset.subset(getattr(self.split, name))

    def train_views(self) -> dict[str, list[str]] | None:
        """The training articles' short views (``training.views``); None without headlines."""
        texts, _ = self.part("train")
        return short_views(texts, [self.dataset.title_of(i) for i in self.split.train])


@dataclass
class TrainedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerFast
    prep: Preprocessing  # serving/evaluation preprocessing (preprocessing.json)
    fit: FitResult
    val_metrics: dict[str, Any]  # validation split, encoded with ``prep``


@dataclass
class TrainResult:
    output_dir: Path
    report: dict[str, Any]


def load_data(config: TrainConfig) -> Dataset:
    """Load + dedupe, then take the stratified ``limit`` subset (drawn with ``config.seed``)."""
    dataset = load_dataset(
        config.data,
        config.data_format,
        text_column=config.text_column,
        label_column=config.label_column,
        title_column=config.title_column,
    )
    if config.limit is not None and config.limit < len(dataset):
        keep = stratified_subset(dataset.labels, config.limit, config.seed)
        dataset = dataset.select(keep)
        log.info("data.limit articles=%d", len(dataset))
    if config.add_data:
        dataset, _ = add_reviewed(dataset, config.add_data)
    return dataset


def corpus_groups(dataset: Dataset, config: TrainConfig) -> list[int]:
    """The near-duplicate group of every corpus article (``training.duplicates``): they depend
    on the corpus and ``config.near_duplicate_threshold`` only, not on the seed."""
    size = dataset.corpus_size
    return near_duplicate_groups(
        dataset.texts[:size], dataset.titles[:size], config.near_duplicate_threshold
    )


def split_data(
    dataset: Dataset, config: TrainConfig, groups: Sequence[int] | None = None
) -> PreparedData:
    """Split train/val/test, stratified, by ``config.seed``, each group of near duplicates on
    one side (``groups``: :func:`corpus_groups`, computed here when not given). Only the corpus
    is split: the reviewed articles added to it train, so validation and test stay what they
    are without."""
    if groups is None:
        groups = corpus_groups(dataset, config)
    split = stratified_split(
        dataset.labels[: dataset.corpus_size],
        config.val_fraction,
        config.test_fraction,
        config.seed,
        groups,
    )
    if dataset.added:
        split = Split(
            split.train + list(range(dataset.corpus_size, len(dataset))), split.val, split.test
        )
        log.info("data.reviewed added_to_train=%d", dataset.added)
    present = {dataset.labels[i] for i in split.train}
    if len(present) < 2:
        raise TrainingError("the training split holds a single class; use more data")
    grouped = group_count(groups)
    log.info(
        "data.split seed=%d train=%d val=%d test=%d near_duplicate_groups=%d",
        config.seed,
        *split.sizes().values(),
        grouped,
    )
    return PreparedData(dataset, split, grouped)


def prepare_data(config: TrainConfig) -> PreparedData:
    """Load + dedupe, take the stratified ``limit`` subset, split train/val/test by seed."""
    return split_data(load_data(config), config)


def train_once(
    config: TrainConfig, data: PreparedData, work_dir: Path, *, progress: bool = False
) -> TrainedModel:
    """Load the base model fresh (seeded) and fine-tune it on the training split."""
    from transformers import set_seed

    model_path = resolve_model(config.model)
    tokenizer = load_tokenizer(model_path, allow_hub=config.allow_hub)
    prep = preprocessing_for(config, tokenizer)
    train_prep = training_preprocessing(config, prep)
    set_seed(config.seed)
    model = load_model(
        model_path,
        data.dataset.label_names,
        prep.pad_token_id,
        allow_hub=config.allow_hub,
        num_hidden_layers=config.num_hidden_layers,
    )
    _check_positions(model, prep.max_length, model_path)
    train_texts, train_labels = training_examples(config, data)
    val_texts, val_labels = data.part("val")
    fit = fine_tune(
        model,
        tokenizer,
        train_prep,
        config,
        train_texts,
        train_labels,
        val_texts,
        val_labels,
        data.dataset.label_names,
        work_dir,
        val_prep=prep,  # choose the epoch on what will be served
        progress=progress,
    )
    return TrainedModel(fit.model, tokenizer, prep, fit, fit.val_metrics)


def training_examples(config: TrainConfig, data: PreparedData) -> tuple[list[str], list[int]]:
    """The training split's articles and, with ``train_short_views`` (the default), their
    headline and headline + first sentence views as further examples of the same label. Data
    without a headline for every training article has no such views: its articles alone, said
    in the log (the evaluation skips the short views of such data the same way)."""
    texts, labels = data.part("train")
    if not config.train_short_views:
        return texts, labels
    views = data.train_views()
    if views is None:
        log.warning(
            "train.short_views_skipped reason=not every training article has a headline "
            "(a title column, or the corpus folder layout) examples=%d",
            len(texts),
        )
        return texts, labels
    log.info("train.short_views articles=%d examples=%d", len(texts), 3 * len(texts))
    return [*texts, *views["headline"], *views["lead"]], list(labels) * 3


def _check_positions(model: PreTrainedModel, max_length: int, model_path: str) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if isinstance(limit, int) and max_length > limit:
        raise TrainingError(
            f"max_length {max_length} exceeds what {model_path} supports ({limit} positions)"
        )


@dataclass
class Evaluation:
    """A fine-tuned model on its split, scored as it is served (fused with the lexical branch
    when the model is a hybrid): test metrics, the baseline, the calibration. ``test_logits``
    and ``val_logits`` are the served scores, before temperature; ``transformer_logits`` the
    transformer's own, unfused, by ``"{part}_{view}"`` (``test_full``, ``val_headline`` …)."""

    metrics: dict[str, Any]  # classification_metrics on the test split
    baseline: dict[str, Any] | None
    calibration: Calibration
    test_logits: np.ndarray
    test_labels: list[int]
    val_logits: np.ndarray | None = None
    val_labels: list[int] | None = None
    lexical: Lexical | None = None
    transformer_logits: dict[str, np.ndarray] = field(default_factory=dict)


def _scores(names: list[str], labels: list[int], scores: np.ndarray) -> dict[str, float]:
    scored = classification_metrics(labels, np.argmax(scores, axis=-1).tolist(), names)
    return {k: scored[k] for k in ("accuracy", "macro_f1")}


def fit_hybrid(
    config: TrainConfig,
    data: PreparedData,
    val_views: dict[str, tuple[list[str], np.ndarray]],
    val_labels: list[int],
) -> Lexical:
    """The served TF-IDF branch, fitted on every view of the training articles, with its
    fusion weights chosen on ``val_views`` (view -> texts, transformer logits); with
    ``config.long_branch_weight``, whole articles read by a branch fitted on whole training
    articles only, at that weight."""
    names = data.dataset.label_names
    train_texts, train_labels = data.part("train")
    train_views = data.train_views()
    texts = [*train_texts, *(t for view in (train_views or {}).values() for t in view)]
    labels = list(train_labels) * (1 + len(train_views or {}))
    branch = choose_weights(
        fit_branch(texts, labels, names, config.seed),
        {view: logits for view, (_, logits) in val_views.items()},
        {view: texts for view, (texts, _) in val_views.items()},
        val_labels,
    )
    if config.long_branch_weight is None:
        return branch
    return with_long_branch(
        branch, fit_branch(train_texts, train_labels, names, config.seed), config.long_branch_weight
    )


def evaluate(
    config: TrainConfig,
    data: PreparedData,
    trained: TrainedModel | None,
    *,
    stored: Mapping[str, np.ndarray] | None = None,
) -> Evaluation:
    """Test metrics and the baseline on the test split; temperature and review threshold fitted
    on the validation split (serving preprocessing) and measured on the test split. A hybrid
    (``config.hybrid``) is scored fused, and its transformer alone under ``"transformer"``.

    The transformer's logits come from ``trained``, or, without a model, from ``stored``: the
    ``"{part}_{view}"`` logits an earlier evaluation of the same fine-tuning kept
    (``Evaluation.transformer_logits``, ``training.split_scores``); everything after them (the
    TF-IDF branches, fusion weights, calibration, baseline) is fitted again."""
    names = data.dataset.label_names

    def logits_of(key: str, texts: list[str]) -> np.ndarray:
        if trained is not None:
            return predict_logits(
                trained.model, trained.tokenizer, texts, trained.prep, config.eval_batch_size
            )
        logits = (stored or {}).get(key)
        if logits is None or np.ndim(logits) != 2 or len(logits) != len(texts):
            shape = None if logits is None else np.shape(logits)
            raise TrainingError(f"stored logits {key}: {shape} do not fit {len(texts)} texts")
        return np.asarray(logits)

    def views_of(part: str, short: bool) -> dict[str, tuple[list[str], np.ndarray]]:
        texts, _ = data.part(part)
        idx = getattr(data.split, part)
        views = (short_views(texts, [data.dataset.title_of(i) for i in idx]) or {}) if short else {}
        return {"full": (texts, logits_of(f"{part}_full", texts))} | {
            name: (view, logits_of(f"{part}_{name}", view)) for name, view in views.items()
        }

    test_texts, test_labels = data.part("test")
    val_texts, val_labels = data.part("val")
    test = views_of("test", short=True)
    val = views_of("val", short=config.hybrid)  # the short views choose the fusion weights
    lexical = fit_hybrid(config, data, val, list(val_labels)) if config.hybrid else None

    def served(texts: list[str], logits: np.ndarray) -> np.ndarray:
        return lexical.fuse(logits, texts) if lexical is not None else logits

    scores = {view: served(texts, logits) for view, (texts, logits) in test.items()}
    metrics = classification_metrics(
        test_labels, np.argmax(scores["full"], axis=-1).tolist(), names
    )
    log.info("eval.test accuracy=%.4f macro_f1=%.4f", metrics["accuracy"], metrics["macro_f1"])
    short = {view: texts for view, (texts, _) in test.items() if view != "full"}
    if short:
        metrics["views"] = {}
        for view in short:
            metrics["views"][view] = _scores(names, test_labels, scores[view])
            log.info(
                "eval.view name=%s accuracy=%.4f macro_f1=%.4f",
                view,
                metrics["views"][view]["accuracy"],
                metrics["views"][view]["macro_f1"],
            )
    if lexical is not None:  # the transformer alone, beside what is served
        alone = {view: _scores(names, test_labels, logits) for view, (_, logits) in test.items()}
        metrics["transformer"] = {**alone.pop("full"), "views": alone}
        metrics["hybrid"] = {
            "branch": "tfidf(sublinear_tf, english stop words) + logistic_regression(C=10), "
            "fitted on every view of the training articles",
            "terms": len(lexical.vocabulary),
            "buckets_max_words": list(lexical.buckets),
            "transformer_weights": list(lexical.weights),
        }
        if lexical.long is not None:
            metrics["hybrid"]["long_branch"] = {
                "branch": "the same recipe fitted on whole training articles only; reads "
                "the inputs of the last bucket at a constant transformer weight",
                "terms": len(lexical.long.vocabulary),
                "transformer_weight": lexical.weights[-1],
            }
    val_scores = served(val_texts, val["full"][1])
    calibration = fit_calibration(
        val_scores,
        val_labels,
        scores["full"],
        test_labels,
        config.review_target_accuracy,
        config.threshold_rule,
        config.max_review_share,
        config.review_min_confidence,
    )
    baseline = None
    if config.baseline:
        train_texts, train_labels = data.part("train")
        baseline = run_baseline(
            train_texts,
            train_labels,
            test_texts,
            test_labels,
            names,
            seed=config.seed,
            views=short or None,
        )
    return Evaluation(
        metrics,
        baseline,
        calibration,
        scores["full"],
        list(test_labels),
        val_scores,
        list(val_labels),
        lexical,
        {
            f"{part}_{view}": logits
            for part, views in (("val", val), ("test", test))
            for view, (_, logits) in views.items()
        },
    )


LANGUAGES_JSON = "languages.json"


def write_languages(output_dir: Path, texts: list[str]) -> dict[str, Any]:
    """The languages of the training split (``languages.json``): export puts them in the
    manifest, and the service sends articles in any other language to review."""
    from newsclf.language import language_profile  # the serving detector, as served

    started = time.perf_counter()
    profile = language_profile(texts)
    (output_dir / LANGUAGES_JSON).write_text(json.dumps(profile, indent=2) + "\n", "utf-8")
    log.info(
        "languages.profile supported=%s undetermined=%d seconds=%.1f",
        ",".join(profile["supported"]),
        profile["undetermined"],
        time.perf_counter() - started,
    )
    return profile


def finalize(
    config: TrainConfig,
    data: PreparedData,
    trained: TrainedModel,
    output_dir: Path,
    *,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate on the untouched test split, run the baseline, save everything."""
    labels = data.dataset.label_names
    test_texts, test_labels = data.part("test")
    evaluation = evaluate(config, data, trained)
    metrics, baseline = evaluation.metrics, evaluation.baseline

    output_dir.mkdir(parents=True, exist_ok=True)
    trained.model.save_pretrained(output_dir, safe_serialization=True)
    trained.tokenizer.save_pretrained(output_dir)
    trained.prep.save(output_dir)
    config.save(output_dir)
    evaluation.calibration.save(output_dir)
    for name in LEXICAL_FILES:  # a rerun without the branch must not leave an old one
        (output_dir / name).unlink(missing_ok=True)
    if evaluation.lexical is not None:
        evaluation.lexical.save(output_dir)
    write_heldout(output_dir / HELDOUT_JSONL, test_texts, [labels[i] for i in test_labels])
    train_texts_all, train_labels_all = data.part("train")
    sample = sorted(
        random.Random(config.seed).sample(
            range(len(train_texts_all)), min(TRAIN_SAMPLE_SIZE, len(train_texts_all))
        )
    )
    write_heldout(
        output_dir / TRAIN_SAMPLE_JSONL,
        [train_texts_all[i] for i in sample],
        [labels[train_labels_all[i]] for i in sample],
    )
    languages = write_languages(output_dir, train_texts_all)

    report: dict[str, Any] = {
        **metrics,
        "baseline": baseline,
        "languages": languages,
        "base_model": config.model or DEFAULT_BASE_MODEL_NAME,
        "hyperparameters": {
            **{k: getattr(config, k) for k in HYPERPARAMETER_KEYS},
            "head_tokens": config.serving_head_tokens(),
            "train_max_length": config.train_lengths()[0],
            "train_head_tokens": config.train_lengths()[1],
        },
        "train_seconds": round(trained.fit.train_seconds, 2),
        "split_sizes": data.split.sizes(),
        "validation": {
            k: trained.val_metrics[k]
            for k in ("accuracy", "macro_precision", "macro_recall", "macro_f1")
        },
        "best_epoch": trained.fit.best_epoch,
        "history": trained.fit.history,
        "data": {
            "source": data.dataset.source,
            **data.dataset.stats.as_dict(),
            "reviewed_added": data.dataset.added,
            "near_duplicate_groups": data.near_duplicate_groups,
            "near_duplicate_threshold": config.near_duplicate_threshold,
        },
        "calibration": calibration_section(
            evaluation.calibration, evaluation.test_logits, evaluation.test_labels
        ),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if extra:
        report.update(extra)
    write_report(output_dir, report)
    log.info("checkpoint.saved dir=%s", output_dir)
    return report


def run_training(config: TrainConfig, *, progress: bool = False) -> TrainResult:
    """The whole default job: returns the checkpoint directory and its evaluation report."""
    start = time.perf_counter()
    output_dir = Path(config.output)
    check_model_source(config.model, allow_hub=config.allow_hub)  # fail before loading data
    data = prepare_data(config)
    trained = train_once(config, data, output_dir / TRAINER_DIR, progress=progress)
    report = finalize(
        config,
        data,
        trained,
        output_dir,
        extra={"total_seconds": round(time.perf_counter() - start, 2)},
    )
    return TrainResult(output_dir, report)

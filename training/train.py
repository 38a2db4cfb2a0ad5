"""Fine-tuning with ``transformers.Trainer``; tokenisation through ``newsclf.textprep``."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from transformers import TrainerCallback

from newsclf.textprep import Preprocessing, encode_batch
from training.config import TrainConfig
from training.metrics import classification_metrics
from training.modeling import backend_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

log = logging.getLogger(__name__)


def preprocessing_for(config: TrainConfig, tokenizer: PreTrainedTokenizerFast) -> Preprocessing:
    """What evaluation and serving use (saved as ``preprocessing.json``)."""
    pad = tokenizer.pad_token_id
    return Preprocessing(
        max_length=config.max_length,
        head_tokens=config.serving_head_tokens(),
        pad_token_id=0 if pad is None else int(pad),
    )


def training_preprocessing(config: TrainConfig, serving: Preprocessing) -> Preprocessing:
    """The (possibly shorter) head+tail windows the model is fine-tuned on."""
    length, head = config.train_lengths()
    return Preprocessing(max_length=length, head_tokens=head, pad_token_id=serving.pad_token_id)


def encode(
    tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], prep: Preprocessing
) -> list[list[int]]:
    """Token ids exactly as serving computes them (head+tail truncation included)."""
    return encode_batch(backend_tokenizer(tokenizer), texts, prep)


class EncodedDataset(torch.utils.data.Dataset):
    """Pre-tokenised articles as ``{"input_ids", "attention_mask"[, "labels"]}`` dicts."""

    def __init__(self, ids: list[list[int]], labels: Sequence[int] | None = None) -> None:
        if labels is not None and len(labels) != len(ids):
            raise ValueError(f"{len(ids)} texts but {len(labels)} labels")
        self.ids = ids
        self.labels = None if labels is None else list(labels)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item: dict[str, Any] = {"input_ids": self.ids[i], "attention_mask": [1] * len(self.ids[i])}
        if self.labels is not None:
            item["labels"] = self.labels[i]
        return item


class _LogCallback(TrainerCallback):
    """Trainer's per-epoch logs (loss, validation metrics) as log records."""

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any):
        if logs:
            fields = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in logs.items()
            )
            log.info("train.log step=%d %s", state.global_step, fields)


class _ProgressLog(TrainerCallback):
    """Progress as log lines, for a log file or a pod (no terminal for a bar): every
    ``every_s`` seconds the step, epoch, elapsed time and ETA; after each evaluation the
    validation score."""

    def __init__(self, every_s: float = 30.0) -> None:
        self.every_s = every_s
        self._start = 0.0
        self._last = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any):
        self._start = self._last = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any):
        now = time.perf_counter()
        total = state.max_steps or 0
        if now - self._last < self.every_s and state.global_step != total:
            return
        self._last = now
        elapsed = now - self._start
        done = state.global_step
        eta = elapsed / done * (total - done) if done and total else float("nan")
        log.info(
            "train.progress step=%d/%d epoch=%.2f elapsed_s=%.0f eta_s=%.0f",
            done,
            total,
            state.epoch or 0.0,
            elapsed,
            eta,
        )

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics=None, **kw: Any):
        if metrics:
            log.info(
                "train.validation epoch=%.2f accuracy=%.4f macro_f1=%.4f",
                state.epoch or 0.0,
                metrics.get("eval_accuracy", float("nan")),
                metrics.get("eval_macro_f1", float("nan")),
            )


@dataclass
class FitResult:
    model: PreTrainedModel
    train_seconds: float
    val_metrics: dict[str, Any]
    best_epoch: float | None
    history: list[dict[str, float]] = field(default_factory=list)


_SCALARS = ("accuracy", "macro_precision", "macro_recall", "macro_f1")


def _compute_metrics_fn(label_names: Sequence[str]):
    def compute(eval_pred: Any) -> dict[str, float]:
        logits = eval_pred.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        metrics = classification_metrics(
            [int(x) for x in eval_pred.label_ids], np.argmax(logits, axis=-1).tolist(), label_names
        )
        return {k: metrics[k] for k in _SCALARS}

    return compute


def fine_tune(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    prep: Preprocessing,
    config: TrainConfig,
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    val_texts: Sequence[str],
    val_labels: Sequence[int],
    label_names: Sequence[str],
    work_dir: str | Path,
    *,
    val_prep: Preprocessing | None = None,
    progress: bool = False,
) -> FitResult:
    """Train with the config's hyperparameters on texts encoded with ``prep``, evaluate on
    validation every epoch and return the best model by validation macro-F1. Validation is
    encoded with ``val_prep`` (default ``prep``): pass the serving preprocessing so the epoch
    is chosen for what will be served. Epoch checkpoints go to ``work_dir`` (resumable with
    ``config.resume``); they are deleted at the end unless ``config.keep_trainer_checkpoints``.
    """
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.trainer_utils import get_last_checkpoint

    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    work_dir = Path(work_dir)
    resume_from: str | None = None
    if work_dir.is_dir():
        last = get_last_checkpoint(str(work_dir))
        if config.resume and last:
            resume_from = last
            log.info("train.resume checkpoint=%s", last)
        else:
            if config.resume:
                log.warning("train.resume_nothing dir=%s starting fresh", work_dir)
            shutil.rmtree(work_dir)
    elif config.resume:
        log.warning("train.resume_nothing dir=%s starting fresh", work_dir)

    if config.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    train_ds = EncodedDataset(encode(tokenizer, train_texts, prep), train_labels)
    val_ds = EncodedDataset(encode(tokenizer, val_texts, val_prep or prep), val_labels)
    args = TrainingArguments(
        output_dir=str(work_dir),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler,
        group_by_length=config.group_by_length,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        save_total_limit=1,
        seed=config.seed,
        data_seed=config.seed,
        report_to=[],
        disable_tqdm=not progress,
        dataloader_pin_memory=torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=_compute_metrics_fn(label_names),
    )
    # Trainer prints its log dicts to stdout; route them through logging instead.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if progress:
        trainer.add_callback(ProgressCallback)
    else:
        trainer.add_callback(_ProgressLog())
    trainer.add_callback(_LogCallback())
    log.info(
        "train.start train=%d val=%d epochs=%s batch_size=%d lr=%g max_length=%d "
        "val_max_length=%d threads=%d",
        len(train_ds),
        len(val_ds),
        config.epochs,
        config.batch_size,
        config.learning_rate,
        prep.max_length,
        (val_prep or prep).max_length,
        torch.get_num_threads(),
    )
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = time.perf_counter() - start

    history = [
        {k: float(v) for k, v in entry.items() if isinstance(v, int | float)}
        for entry in trainer.state.log_history
        if "eval_macro_f1" in entry
    ]
    if history:  # the best epoch's validation scores (load_best_model_at_end restored it)
        best = max(history, key=lambda e: e["eval_macro_f1"])
        val_metrics = {k: best[f"eval_{k}"] for k in _SCALARS}
    else:  # less than one epoch: no evaluation ran
        best = {}
        val_metrics = _val_metrics(trainer, val_ds, label_names)
    log.info(
        "train.done seconds=%.1f best_epoch=%s val_accuracy=%.4f val_macro_f1=%.4f",
        train_seconds,
        best.get("epoch"),
        val_metrics["accuracy"],
        val_metrics["macro_f1"],
    )
    if not config.keep_trainer_checkpoints:
        shutil.rmtree(work_dir, ignore_errors=True)
    return FitResult(
        model=trainer.model,
        train_seconds=train_seconds,
        val_metrics=val_metrics,
        best_epoch=best.get("epoch"),
        history=history,
    )


def _val_metrics(trainer: Any, val_ds: EncodedDataset, label_names: Sequence[str]) -> dict:
    # The evaluation loader may reorder (length grouping): pair predictions with the
    # label_ids that come back with them, never with the dataset's own order.
    output = trainer.predict(val_ds)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    metrics = classification_metrics(
        [int(x) for x in output.label_ids], np.argmax(logits, axis=-1).tolist(), label_names
    )
    return {k: metrics[k] for k in _SCALARS}


def predict_logits(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    prep: Preprocessing,
    batch_size: int = 64,
) -> np.ndarray:
    """Logits ``[len(texts), num_labels]`` in input order; batches sorted by length."""
    return _logits_of_ids(model, tokenizer, encode(tokenizer, texts, prep), batch_size)


def window_logits(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    texts: Sequence[str],
    max_length: int,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """The whole of each text read in consecutive windows of ``max_length`` tokens (special
    tokens included, no overlap): logits ``[windows, num_labels]`` and the text each window
    belongs to. A text that fits one window gets one window, the ids of ``predict_logits``
    with the same ``max_length``."""
    specials = len(tokenizer.build_inputs_with_special_tokens([]))
    step = max_length - specials
    if step < 1:
        raise ValueError(f"max_length {max_length} leaves no room beside {specials} specials")
    encodings = backend_tokenizer(tokenizer).encode_batch_fast(
        list(texts), add_special_tokens=False
    )
    ids: list[list[int]] = []
    owner: list[int] = []
    for i, encoding in enumerate(encodings):
        body = list(encoding.ids)
        for start in range(0, max(len(body), 1), step):
            ids.append(tokenizer.build_inputs_with_special_tokens(body[start : start + step]))
            owner.append(i)
    return _logits_of_ids(model, tokenizer, ids, batch_size), np.asarray(owner, dtype=np.int64)


@torch.no_grad()
def _logits_of_ids(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    ids: list[list[int]],
    batch_size: int,
) -> np.ndarray:
    from transformers import DataCollatorWithPadding

    collate = DataCollatorWithPadding(tokenizer)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = collate(
                [{"input_ids": ids[i], "attention_mask": [1] * len(ids[i])} for i in chunk]
            )
            batch = {k: v.to(device) for k, v in batch.items()}
            out[chunk] = model(**batch).logits.float().cpu().numpy()
    finally:
        model.train(was_training)
    return out

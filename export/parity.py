"""Parity: does the ONNX model reproduce the PyTorch checkpoint on real articles?

Both models see the same token ids, built by :func:`newsclf.textprep.encode_batch` with the
checkpoint's ``preprocessing.json`` and padded as the consumer pads them (``pad_token_id``,
attention mask, zero ``token_type_ids``), in mixed-length batches so padding is exercised.
The report holds the largest absolute logit difference and the share of articles on which
both models pick the same label; :func:`check_parity` raises :class:`ParityError` when
either misses its threshold.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from export.checkpoint import TOKENIZER_JSON, Checkpoint
from export.errors import ExportError, ParityError
from newsclf.feeds import build_feeds
from newsclf.textprep import Preprocessing, compose, encode_batch, prepare_tokenizer

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = 512
BATCH_SIZE = 32
SAMPLE_SEED = 0
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class ParityThresholds:
    """Minimum share of identical labels; largest allowed |logit difference| (``None``: not
    checked, as for int8 where quantisation moves logits but should not move decisions)."""

    min_label_agreement: float
    max_abs_logit_diff: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_label_agreement <= 1.0:
            raise ValueError(
                f"min_label_agreement must be within [0, 1], got {self.min_label_agreement}"
            )
        if self.max_abs_logit_diff is not None and not self.max_abs_logit_diff >= 0.0:
            raise ValueError(f"max_abs_logit_diff must be >= 0, got {self.max_abs_logit_diff}")


DEFAULT_THRESHOLDS = {
    "fp32": ParityThresholds(min_label_agreement=0.999, max_abs_logit_diff=1e-3),
    "optimized": ParityThresholds(min_label_agreement=0.999, max_abs_logit_diff=1e-3),
    "int8": ParityThresholds(min_label_agreement=0.99, max_abs_logit_diff=None),
    "fp16": ParityThresholds(min_label_agreement=0.995, max_abs_logit_diff=0.1),
}


@dataclass(frozen=True)
class ParityData:
    texts: list[str]
    labels: list[str | None]
    source: str
    available: int  # rows in the source before sampling
    scored: int | None = None  # the first rows that count for accuracy (None: all of them)

    def top_up(self, more: ParityData, samples: int) -> ParityData:
        """These rows, then ``more``'s up to ``samples`` in all. Accuracy stays on these:
        ``more`` (training articles) measures agreement, not generalisation."""
        room = max(samples - len(self.texts), 0)
        if not room:
            return self
        keep = sorted(
            random.Random(SAMPLE_SEED).sample(range(len(more.texts)), min(room, len(more.texts)))
        )
        return ParityData(
            self.texts + [more.texts[i] for i in keep],
            self.labels + [more.labels[i] for i in keep],
            f"{self.source} ({len(self.texts)}) + {more.source} ({len(keep)})",
            self.available + more.available,
            len(self.texts) if self.scored is None else self.scored,
        )


@dataclass(frozen=True)
class ParityReport:
    samples: int
    max_abs_logit_diff: float
    mean_abs_logit_diff: float
    label_agreement: float
    disagreements: int
    provider: str
    thresholds: ParityThresholds
    data: str
    torch_accuracy: float | None
    onnx_accuracy: float | None
    seconds: float

    def failures(self) -> list[str]:
        out = []
        if self.label_agreement < self.thresholds.min_label_agreement:
            out.append(
                f"label agreement {self.label_agreement:.4f} < "
                f"{self.thresholds.min_label_agreement:g} ({self.disagreements} of "
                f"{self.samples} differ)"
            )
        limit = self.thresholds.max_abs_logit_diff
        if limit is not None and not self.max_abs_logit_diff <= limit:
            out.append(f"max |logit diff| {self.max_abs_logit_diff:.3g} > {limit:g}")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["thresholds"] = asdict(self.thresholds)
        data["passed"] = self.passed
        return data


def load_parity_data(path: Path, samples: int) -> ParityData:
    """Articles from a JSONL file: objects with ``text`` (and optional ``title``/``label``).

    Takes every row when there are at most ``samples``, else a seeded random sample (so a
    label-sorted file still gives a mixed sample), in file order.
    """
    if samples < 1:
        raise ExportError(f"parity samples must be at least 1, got {samples}")
    rows: list[tuple[str, str | None]] = []
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ExportError(f"{path} line {number} is not JSON: {exc.msg}") from exc
                if not isinstance(row, dict):
                    raise ExportError(f"{path} line {number} is not a JSON object")
                text = compose(row.get("title"), row.get("text"))
                if not text:
                    raise ExportError(f"{path} line {number} has no text")
                label = row.get("label")
                rows.append((text, None if label is None else str(label)))
    except FileNotFoundError as exc:
        raise ExportError(f"parity data {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read parity data {path}: {exc}") from exc
    if not rows:
        raise ExportError(f"parity data {path} holds no articles")
    available = len(rows)
    if samples < available:
        keep = sorted(random.Random(SAMPLE_SEED).sample(range(available), samples))
        rows = [rows[i] for i in keep]
    return ParityData([t for t, _ in rows], [lab for _, lab in rows], str(path), available)


def feed_batches(
    ids: Sequence[Sequence[int]], prep: Preprocessing, inputs: Sequence[str], size: int
) -> list[dict[str, np.ndarray]]:
    """Consecutive chunks of ``size`` rows, each padded by the consumer's own feed builder."""
    return [
        build_feeds(ids[start : start + size], prep.pad_token_id, inputs)
        for start in range(0, len(ids), size)
    ]


def _torch_logits(checkpoint: Path, batches: list[dict[str, np.ndarray]]) -> np.ndarray:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification

    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            checkpoint, local_files_only=True, dtype=torch.float32
        )
    except Exception as exc:  # transformers raises OSError, ValueError, safetensors errors
        raise ExportError(f"cannot load the PyTorch checkpoint {checkpoint}: {exc}") from exc
    model.eval()
    outs = []
    with torch.inference_mode():
        for feeds in batches:
            tensors = {k: torch.from_numpy(v) for k, v in feeds.items()}
            outs.append(model(**tensors).logits.float().numpy())
    return np.concatenate(outs)


def onnx_session(model: Path, provider: str | None) -> Any:
    import onnxruntime as ort

    available = ort.get_available_providers()
    provider = provider or CPU
    if provider not in available:
        raise ExportError(f"execution provider {provider} is not available ({available})")
    providers = [provider] if provider == CPU else [provider, CPU]
    try:
        return ort.InferenceSession(str(model), providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ParityError(f"ONNX Runtime ({provider}) cannot load {model}: {exc}") from exc


def measure_parity(
    checkpoint: Checkpoint,
    model: Path,
    data: ParityData,
    thresholds: ParityThresholds,
    *,
    provider: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> ParityReport:
    """Run both models on ``data`` and compare their logits (no thresholds enforced)."""
    import numpy as np
    from tokenizers import Tokenizer

    started = time.perf_counter()
    prep = checkpoint.preprocessing
    tokenizer = prepare_tokenizer(Tokenizer.from_file(str(checkpoint.path / TOKENIZER_JSON)))
    ids = encode_batch(tokenizer, data.texts, prep)
    session = onnx_session(model, provider)
    inputs = [i.name for i in session.get_inputs()]
    batches = feed_batches(ids, prep, inputs, batch_size)
    try:
        onnx_out = np.concatenate(
            [np.asarray(session.run(["logits"], b)[0], dtype=np.float32) for b in batches]
        )
    except Exception as exc:  # onnxruntime raises its own runtime error types
        raise ParityError(f"ONNX Runtime failed to run {model}: {exc}") from exc
    torch_out = _torch_logits(checkpoint.path, batches)
    if onnx_out.shape != torch_out.shape:
        raise ParityError(
            f"ONNX logits have shape {onnx_out.shape}, PyTorch logits {torch_out.shape}"
        )
    diff = np.abs(onnx_out - torch_out)
    max_diff = float(diff.max()) if np.isfinite(diff).all() else math.inf
    # Labels and accuracy as served (fused with a hybrid's lexical branch); the logit
    # difference is the graph's own.
    onnx_served = checkpoint.served_scores(onnx_out, data.texts)
    torch_served = checkpoint.served_scores(torch_out, data.texts)
    same = onnx_served.argmax(axis=1) == torch_served.argmax(axis=1)
    report = ParityReport(
        samples=len(data.texts),
        max_abs_logit_diff=max_diff,
        mean_abs_logit_diff=float(diff.mean()),
        label_agreement=float(same.mean()),
        disagreements=int((~same).sum()),
        provider=session.get_providers()[0],
        thresholds=thresholds,
        data=data.source,
        torch_accuracy=_accuracy(
            torch_served[: data.scored], data.labels[: data.scored], checkpoint.labels
        ),
        onnx_accuracy=_accuracy(
            onnx_served[: data.scored], data.labels[: data.scored], checkpoint.labels
        ),
        seconds=round(time.perf_counter() - started, 3),
    )
    log.info(
        "export.parity samples=%d max_abs_logit_diff=%.3g label_agreement=%.4f provider=%s "
        "seconds=%.2f",
        report.samples,
        report.max_abs_logit_diff,
        report.label_agreement,
        report.provider,
        report.seconds,
    )
    return report


def _accuracy(
    logits: np.ndarray, labels: Sequence[str | None], names: Sequence[str]
) -> float | None:
    """Accuracy against the data's own labels, when every row has a known one."""
    if not labels or any(label not in names for label in labels):
        return None
    truth = [names.index(label) for label in labels if label is not None]
    hits = sum(int(p == t) for p, t in zip(logits.argmax(axis=1).tolist(), truth, strict=True))
    return round(hits / len(truth), 6)


def check_parity(
    checkpoint: Checkpoint,
    model: Path,
    data: ParityData,
    thresholds: ParityThresholds,
    *,
    variant: str = "",
    provider: str | None = None,
) -> ParityReport:
    """:func:`measure_parity`, raising :class:`ParityError` when a threshold is missed."""
    report = measure_parity(checkpoint, model, data, thresholds, provider=provider)
    failures = report.failures()
    if failures:
        name = f"{variant} " if variant else ""
        raise ParityError(
            f"{name}parity failed on {report.samples} articles ({report.provider}): "
            + "; ".join(failures)
        )
    return report

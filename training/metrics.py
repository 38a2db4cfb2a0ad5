"""Classification metrics: accuracy, macro and per-class precision/recall/F1, confusion matrix.

Computed directly from the confusion matrix (no sklearn), with 0 where a ratio's denominator
is 0 (a class never predicted has precision 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_labels: int) -> np.ndarray:
    """``cm[i, j]`` = number of articles of true class ``i`` predicted as ``j``."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    cm = np.zeros((n_labels, n_labels), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[int(t), int(p)] += 1
    return cm


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]
) -> dict[str, Any]:
    """Metrics as plain JSON-ready values.

    Keys: ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1`` (unweighted means
    over all ``labels``), ``per_class`` ({label: {precision, recall, f1, support}}),
    ``confusion_matrix`` (rows = true, columns = predicted), ``labels``, ``n``.
    """
    cm = confusion_matrix(y_true, y_pred, len(labels))
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = int(cm.sum())
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(labels)
        },
        "confusion_matrix": cm.tolist(),
        "labels": list(labels),
        "n": total,
    }

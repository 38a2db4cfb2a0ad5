"""Evaluation report files: ``eval_report.json``, ``eval_report.md``, ``confusion_matrix.png``,
with a calibration section ``reliability_diagram.png`` and ``coverage_accuracy.png``
(:mod:`training.calibration_report`); the held-out test split as ``heldout.jsonl``, and a seeded
sample of the training split as ``train_sample.jsonl`` (the export parity gate measures
numerical agreement, not generalisation: it tops the held-out articles up with these)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.calibration_report import render_calibration, write_calibration_figures
from training.model_card import write_model_card

REPORT_JSON = "eval_report.json"
REPORT_MD = "eval_report.md"
CONFUSION_PNG = "confusion_matrix.png"
HELDOUT_JSONL = "heldout.jsonl"
TRAIN_SAMPLE_JSONL = "train_sample.jsonl"
TRAIN_SAMPLE_SIZE = 512

METRIC_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1")


def write_heldout(path: str | Path, texts: Sequence[str], labels: Sequence[str]) -> Path:
    """One ``{"text": ..., "label": ...}`` object per line (texts already composed)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as fh:
        for text, label in zip(texts, labels, strict=True):
            fh.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    return path


def write_report(directory: str | Path, report: dict[str, Any]) -> list[Path]:
    """Write the JSON, Markdown and PNG forms of ``report`` into ``directory``."""
    directory = Path(directory)
    json_path = directory / REPORT_JSON
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path = directory / REPORT_MD
    md_path.write_text(render_markdown(report), encoding="utf-8")
    png_path = plot_confusion_matrix(
        report["confusion_matrix"], report["labels"], directory / CONFUSION_PNG
    )
    written = [json_path, md_path, png_path, write_model_card(directory, report)]
    if report.get("calibration"):
        written += write_calibration_figures(report["calibration"], directory)
    return written


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def render_markdown(report: dict[str, Any]) -> str:
    labels: list[str] = report["labels"]
    baseline = report.get("baseline") or {}
    lines = [
        "# Evaluation report",
        "",
        f"- Base model: `{report.get('base_model')}`",
        f"- Split sizes: {report.get('split_sizes')}",
        f"- Training time: {report.get('train_seconds', 0):.0f} s",
        "",
        "## Test split",
        "",
        "| metric | model | TF-IDF + LR baseline |",
        "|---|---|---|",
    ]
    for key in METRIC_KEYS:
        lines.append(f"| {key} | {_pct(report[key])} | {_pct(baseline.get(key))} |")
    views, baseline_views = report.get("views") or {}, baseline.get("views") or {}
    for view, scores in views.items():
        other = baseline_views.get(view) or {}
        for key in ("accuracy", "macro_f1"):
            lines.append(
                f"| {key}, {view} only | {_pct(scores[key])} | {_pct(other.get(key))} |"
                if view == "headline"
                else f"| {key}, headline + first sentence | {_pct(scores[key])} "
                f"| {_pct(other.get(key))} |"
            )
    lines += hybrid_lines(report)
    lines += ["", "## Per class (model)", "", "| label | precision | recall | F1 | support |"]
    lines.append("|---|---|---|---|---|")
    for name in labels:
        c = report["per_class"][name]
        lines.append(
            f"| {name} | {_pct(c['precision'])} | {_pct(c['recall'])} | {_pct(c['f1'])} "
            f"| {c['support']} |"
        )
    lines += ["", "## Confusion matrix (rows: true, columns: predicted)", ""]
    lines.append("| | " + " | ".join(labels) + " |")
    lines.append("|---" * (len(labels) + 1) + "|")
    for name, row in zip(labels, report["confusion_matrix"], strict=True):
        lines.append(f"| **{name}** | " + " | ".join(str(v) for v in row) + " |")
    if report.get("calibration"):
        lines += render_calibration(report["calibration"])
    hp = report.get("hyperparameters") or {}
    if hp:
        lines += ["", "## Hyperparameters", "", "| name | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in hp.items()]
    return "\n".join(lines) + "\n"


def hybrid_lines(report: dict[str, Any]) -> list[str]:
    """The served hybrid: its transformer alone beside the fused model, and the weights."""
    hybrid, alone = report.get("hybrid"), report.get("transformer")
    if not hybrid or not alone:
        return []
    names = {"full": "whole article", "headline": "headline only", "lead": "headline + first"}
    served = {"full": report, **(report.get("views") or {})}
    lines = [
        "",
        "## Hybrid: what fusing the TF-IDF branch adds",
        "",
        f"Served: the transformer fused with a TF-IDF branch ({hybrid['terms']} terms), "
        f"transformer weight {hybrid['transformer_weights']} for inputs of up to "
        f"{hybrid['buckets_max_words']} words and longer (chosen on validation)."
        + (
            f" Whole articles: a branch fitted on whole training articles only "
            f"({hybrid['long_branch']['terms']} terms), at the recipe's constant weight "
            f"{hybrid['long_branch']['transformer_weight']}."
            if hybrid.get("long_branch")
            else ""
        ),
        "",
        "| input | transformer alone | served (fused) |",
        "|---|---|---|",
    ]
    for view, name in names.items():
        mine = alone if view == "full" else (alone.get("views") or {}).get(view)
        if mine and view in served:
            lines.append(
                f"| {name} | {_pct(mine['accuracy'])} | {_pct(served[view]['accuracy'])} |"
            )
    return lines


def plot_confusion_matrix(matrix: list[list[int]], labels: Sequence[str], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    size = 1.2 + 0.9 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    try:
        image = ax.imshow(matrix, cmap="Blues")
        fig.colorbar(image, ax=ax)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        peak = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                colour = "white" if peak and value > peak / 2 else "black"
                ax.text(j, i, str(value), ha="center", va="center", color=colour)
        ax.set_title("Confusion matrix (test split)")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path

"""Calibration in the evaluation report: fitting it (with its log lines), the ``calibration``
section of ``eval_report.json``, its Markdown, ``reliability_diagram.png`` and
``coverage_accuracy.png``. The figures are drawn from the report section alone, as the
confusion matrix is drawn from the report's matrix."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from newsclf.calibration import (
    CALIBRATION_FILE,
    DEFAULT_BINS,
    DEFAULT_THRESHOLDS,
    Calibration,
    calibrate,
    coverage_accuracy,
    reliability_bins,
    softmax,
)

log = logging.getLogger(__name__)

RELIABILITY_PNG = "reliability_diagram.png"
COVERAGE_PNG = "coverage_accuracy.png"


def fit_calibration(
    val_logits: np.ndarray,
    val_labels: Sequence[int],
    test_logits: np.ndarray,
    test_labels: Sequence[int],
    target_accuracy: float,
    threshold_rule: str = "empirical",
    max_review_share: float | None = None,
    min_confidence: float = 0.0,
) -> Calibration:
    """Temperature and review threshold from validation, measured on test (logged)."""
    cal = calibrate(
        val_logits,
        val_labels,
        test_logits,
        test_labels,
        target_accuracy,
        threshold_rule,
        max_review_share,
        min_confidence,
    )
    val, test = cal.validation, cal.test
    log.info(
        "calibration.fit temperature=%.3f val_ece_before=%.4f val_ece_after=%.4f "
        "val_nll_before=%.4f val_nll_after=%.4f test_ece_before=%.4f test_ece_after=%.4f",
        cal.temperature,
        val["ece_before"],
        val["ece_after"],
        val["nll_before"],
        val["nll_after"],
        test["ece_before"],
        test["ece_after"],
    )
    log.info(
        "calibration.threshold rule=%s target_accuracy=%.4f threshold=%.6g val_coverage=%.4f "
        "test_coverage=%.4f test_accuracy=%s",
        cal.threshold_rule,
        cal.target_accuracy,
        cal.threshold,
        val["coverage_at_threshold"],
        test["coverage_at_threshold"],
        _fmt(test["accuracy_at_threshold"], ".4f"),
    )
    return cal


def calibration_section(
    cal: Calibration, test_logits: np.ndarray, test_labels: Sequence[int]
) -> dict[str, Any]:
    """``calibration.json``'s content plus the test split's reliability bins (before and after
    scaling), a coverage–accuracy table (a handful of thresholds and the chosen one) and the
    whole coverage–accuracy curve (every observed calibrated confidence as a threshold)."""
    before = softmax(test_logits)
    after = cal.probabilities(test_logits)
    curve = coverage_accuracy(
        after, test_labels, np.unique(after.max(axis=1)) if len(after) else []
    )
    return {
        **cal.to_dict(),
        "file": CALIBRATION_FILE,
        "test_reliability": {
            "n_bins": DEFAULT_BINS,
            "before": reliability_bins(before, test_labels),
            "after": reliability_bins(after, test_labels),
        },
        "test_coverage_table": coverage_accuracy(
            after, test_labels, sorted({*DEFAULT_THRESHOLDS, cal.threshold})
        ),
        "test_coverage_curve": {
            "threshold": [r["threshold"] for r in curve],
            "coverage": [r["coverage"] for r in curve],
            "accuracy": [r["accuracy"] for r in curve],
        },
    }


def _fmt(x: float | None, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def render_calibration(section: dict[str, Any]) -> list[str]:
    """Markdown lines for the report's calibration section."""
    test = section["test"]
    lines = [
        "",
        f"## Calibration (temperature scaling, `{CALIBRATION_FILE}`)",
        "",
        f"- Temperature: {section['temperature']:.3f} (fitted on the validation split; serving "
        "computes softmax(logits / temperature))",
        f"- Review threshold: {section['threshold']:.6g} on the calibrated maximum probability "
        "(below it an article goes to review): " + _threshold_story(section),
        f"- Test split at the threshold: coverage {_pct(test['coverage_at_threshold'])} "
        f"(accepted without review), accuracy {_pct(test['accuracy_at_threshold'])}",
        "",
        "| split | n | ECE before | ECE after | NLL before | NLL after | coverage at threshold "
        "| accuracy at threshold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("validation", "test"):
        f = section[name]
        lines.append(
            f"| {name} | {f['n']} | {_pct(f['ece_before'])} | {_pct(f['ece_after'])} "
            f"| {f['nll_before']:.4f} | {f['nll_after']:.4f} | {_pct(f['coverage_at_threshold'])} "
            f"| {_pct(f['accuracy_at_threshold'])} |"
        )
    lines += [
        "",
        "### Coverage and accuracy on the test split (calibrated probabilities)",
        "",
        "| threshold | coverage | accuracy of kept |",
        "|---|---|---|",
    ]
    for row in section["test_coverage_table"]:
        mark = " **(chosen)**" if row["threshold"] == section["threshold"] else ""
        lines.append(
            f"| {row['threshold']:.6g}{mark} | {_pct(row['coverage'])} | {_pct(row['accuracy'])} |"
        )
    lines += [
        "",
        f"Figures: `{RELIABILITY_PNG}` (test split, before and after scaling), "
        f"`{COVERAGE_PNG}` (test split, accuracy of kept articles against coverage).",
    ]
    return lines


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_reliability_diagram(section: dict[str, Any], path: str | Path) -> Path:
    """Two panels (before / after scaling): accuracy per confidence bin, the bin's mean
    confidence, and the diagonal of perfect calibration."""
    plt = _pyplot()
    path = Path(path)
    reliability = section["test_reliability"]
    panels = (
        ("before", "before (T = 1)", section["test"]["ece_before"]),
        ("after", f"after (T = {section['temperature']:.3g})", section["test"]["ece_after"]),
    )
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharey=True)
    try:
        for ax, (key, title, ece) in zip(axes, panels, strict=True):
            bins = [b for b in reliability[key] if b["count"]]
            width = 1.0 / reliability["n_bins"]
            ax.bar(
                [b["lo"] for b in bins],
                [b["accuracy"] for b in bins],
                width=width,
                align="edge",
                edgecolor="black",
                color="tab:blue",
                alpha=0.8,
                label="accuracy",
            )
            ax.plot(
                [b["confidence"] for b in bins],
                [b["confidence"] for b in bins],
                "o",
                color="tab:red",
                label="mean confidence",
            )
            for b in bins:
                ax.annotate(
                    str(b["count"]),
                    (b["lo"] + width / 2, b["accuracy"]),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
            ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.05)
            ax.set_xlabel("confidence (max probability)")
            ax.set_title(f"{title}: ECE {100 * ece:.2f}%")
        axes[0].set_ylabel("accuracy")
        axes[0].legend(loc="upper left", fontsize=8)
        fig.suptitle("Reliability diagram (test split; numbers: articles per bin)")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def plot_coverage_accuracy(section: dict[str, Any], path: str | Path) -> Path:
    """Accuracy of the kept articles against coverage as the threshold moves; the chosen
    threshold and the target accuracy marked."""
    plt = _pyplot()
    path = Path(path)
    curve = section["test_coverage_curve"]
    points = [
        (c, a) for c, a in zip(curve["coverage"], curve["accuracy"], strict=True) if a is not None
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    try:
        if points:
            coverage, accuracy = zip(*points, strict=True)
            ax.plot(coverage, accuracy, "-", color="tab:blue", label="test split")
        ax.axhline(
            section["target_accuracy"],
            linestyle=":",
            color="grey",
            label=f"target {100 * section['target_accuracy']:.1f}%",
        )
        test = section["test"]
        if test["accuracy_at_threshold"] is not None:
            ax.plot(
                test["coverage_at_threshold"],
                test["accuracy_at_threshold"],
                "o",
                color="tab:red",
                label=f"threshold {section['threshold']:.4g}",
            )
        ax.set_xlim(0, 1.02)
        ax.set_xlabel("coverage (share accepted without review)")
        ax.set_ylabel("accuracy of accepted articles")
        ax.set_title("Coverage and accuracy (test split, calibrated)")
        ax.legend(loc="lower left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


def write_calibration_figures(section: dict[str, Any], directory: Path) -> list[Path]:
    return [
        plot_reliability_diagram(section, directory / RELIABILITY_PNG),
        plot_coverage_accuracy(section, directory / COVERAGE_PNG),
    ]


def _threshold_story(section: dict[str, Any]) -> str:
    """How the threshold came about: the rule for the target, the floor, the cap."""
    rule = section.get("rule_threshold")
    rule = section["threshold"] if rule is None else rule
    text = (
        f"the {section.get('threshold_rule', 'empirical')} rule gives {rule:.6g} for "
        f"{_pct(section['target_accuracy'])} accuracy of the validation articles kept"
    )
    floor = section.get("min_confidence")
    if floor is not None:
        text += f"; never below {floor:g} (the floor)"
    cap = section.get("max_review_share")
    if cap is not None:
        text += f"; never sending more than {_pct(cap)} of validation to review (the cap)"
    return text

"""The model card (``README.md``, Hugging Face model-card layout) written with every checkpoint
and copied by export into the model directory: what the model is for, what it was trained and
measured on, and where it should not be trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL_CARD = "README.md"

_VIEW_NAMES = {"headline": "headline only", "lead": "headline + first sentence"}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f} %"


def render_model_card(report: dict[str, Any]) -> str:
    """The card's Markdown, YAML front matter first, from an evaluation report."""
    labels: list[str] = report["labels"]
    baseline = report.get("baseline") or {}
    base_model = report.get("base_model") or "unknown"
    hp = report.get("hyperparameters") or {}
    data = report.get("data") or {}
    sizes = report.get("split_sizes") or {}
    calibration = report.get("calibration") or {}
    languages = (report.get("languages") or {}).get("supported") or []
    front = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        f"base_model: {base_model}",
        "language:",
        *[f"- {code}" for code in (languages or ["en"])],
        "tags:",
        "- news",
        "- topic-classification",
        "- onnx",
        "model-index:",
        "- name: news-classifier",
        "  results:",
        "  - task:",
        "      type: text-classification",
        "    metrics:",
        f"    - {{type: accuracy, value: {report['accuracy']:.4f}}}",
        f"    - {{type: f1, name: macro-F1, value: {report['macro_f1']:.4f}}}",
        "---",
        "",
    ]
    lines = [
        "# news-classifier topic model",
        "",
        f"Classifies an English news article into one of {len(labels)} topics: "
        + ", ".join(f"`{name}`" for name in labels)
        + f". Fine-tuned from `{base_model}` by `python -m training`.",
        "",
        "## Intended use",
        "",
        "Routing and tagging English news articles, headlines and short descriptions in a "
        "stream (the news-classifier service). Outputs a calibrated distribution over the labels "
        "above; low-confidence articles and articles in other languages are meant for human "
        "review (`news.review`), not for automatic action.",
        "",
        "## Training data and split",
        "",
        f"- Source: `{data.get('source', 'unknown')}`; read {data.get('read', '–')} articles, "
        f"{data.get('duplicates', 0)} exact duplicates and {data.get('conflicting', 0)} with "
        f"conflicting labels dropped (so no duplicate spans two splits), "
        f"{data.get('kept', '–')} kept."
        + (
            f" Plus {data['reviewed_added']} reviewed articles (`--add-data`), in training only."
            if data.get("reviewed_added")
            else ""
        ),
        f"- Stratified split by seed {hp.get('seed', '–')}: train {sizes.get('train', '–')}, "
        f"validation {sizes.get('val', '–')}, test {sizes.get('test', '–')} (the test articles "
        "were never used to train or choose anything)"
        + (
            f"; {data['near_duplicate_groups']} groups of near duplicates (one story under two "
            "headlines, one headline over two edits, a close rewrite) each kept on one side."
            if data.get("near_duplicate_groups")
            else "."
        ),
        f"- Windows: trained on {hp.get('train_max_length', '–')} tokens "
        f"(head {hp.get('train_head_tokens', '–')} + tail), served on "
        f"{hp.get('max_length', '–')} (head {hp.get('head_tokens', '–')} + tail).",
        "",
        "## Evaluation (test split)",
        "",
        "| input | model accuracy | model macro-F1 | TF-IDF + LR accuracy | TF-IDF + LR macro-F1 |",
        "|---|---|---|---|---|",
        f"| whole article | {_pct(report['accuracy'])} | {_pct(report['macro_f1'])} "
        f"| {_pct(baseline.get('accuracy'))} | {_pct(baseline.get('macro_f1'))} |",
    ]
    ours, theirs = report.get("views") or {}, baseline.get("views") or {}
    for view, name in _VIEW_NAMES.items():
        if view in ours:
            other = theirs.get(view) or {}
            lines.append(
                f"| {name} | {_pct(ours[view]['accuracy'])} | {_pct(ours[view]['macro_f1'])} "
                f"| {_pct(other.get('accuracy'))} | {_pct(other.get('macro_f1'))} |"
            )
    hybrid = report.get("hybrid")
    if hybrid:
        long_branch = hybrid.get("long_branch")
        whole = (
            "; whole articles (the last bucket) read by a second branch fitted on whole "
            "training articles only, at the recipe's constant transformer weight "
            f"{long_branch['transformer_weight']}"
            if long_branch
            else ""
        )
        lines += [
            "",
            "The model is a hybrid: the fine-tuned transformer's probabilities fused "
            "log-linearly with a TF-IDF + logistic-regression branch that reads every word "
            f"(`lexical.json`, `lexical.npz`), transformer weight {hybrid['transformer_weights']} "
            f"for inputs of up to {hybrid['buckets_max_words']} words and longer, chosen on the "
            f"validation split{whole}. The figures above are the fused model's, as served.",
        ]
    n_test = sizes.get("test")
    lines += [
        "",
        "One split is one sample: "
        + (f"one test article is {100 / n_test:.2f} points. " if n_test else "")
        + "Compare models over repeated splits (`python -m training --repeats 20`), whose "
        "report gives the overlap-corrected interval of the difference.",
    ]
    if calibration:
        val = calibration.get("validation") or {}
        test = calibration.get("test") or {}
        lines += [
            "",
            "## Calibration",
            "",
            f"Temperature {calibration.get('temperature', float('nan')):.3f} fitted on the "
            f"validation split; test ECE {_pct(test.get('ece_before'))} before, "
            f"{_pct(test.get('ece_after'))} after (validation {_pct(val.get('ece_before'))} → "
            f"{_pct(val.get('ece_after'))}). Review threshold on the calibrated confidence: "
            f"{calibration.get('threshold', float('nan')):.4g}.",
        ]
    lines += [
        "",
        "## Limits",
        "",
        "- Languages: trained on "
        + (", ".join(languages) if languages else "English")
        + " only. A softmax over these topics says nothing about a text it cannot read; the "
        "service sends other languages to review.",
        f"- Topics: only {', '.join(labels)}. An article on anything else (science, health, "
        "weather, crime) still gets one of these labels, usually with lower confidence.",
        "- Period and source: BBC News articles from 2004–2005 by default; vocabulary, names "
        "and events drift, so watch the service's drift metrics.",
        "- Short texts: a headline alone carries far less than an article; see the table above "
        "for how much is lost.",
        "",
    ]
    return "\n".join(front + lines)


def write_model_card(directory: str | Path, report: dict[str, Any]) -> Path:
    path = Path(directory) / MODEL_CARD
    path.write_text(render_model_card(report), encoding="utf-8")
    return path

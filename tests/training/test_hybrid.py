"""Fitting the served TF-IDF branch and choosing its fusion weights on validation
(training.hybrid), and a tiny hybrid checkpoint end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from newsclf.lexical import LEXICAL_JSON, LEXICAL_NPZ, Lexical
from training.errors import TrainingError
from training.hybrid import choose_weights, fit_branch

WORDS = {
    0: "shares bank profits market economy",
    1: "match goal striker cup league",
    2: "election minister vote party parliament",
}


def _texts(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    labels = [int(k) for k in rng.integers(0, 3, n)]
    texts = [" ".join(rng.choice(WORDS[y].split(), 6).tolist() + ["news", "today"]) for y in labels]
    return texts, labels


def test_a_label_missing_from_the_training_texts_is_refused():
    texts, _ = _texts(30, 0)
    with pytest.raises(TrainingError, match="every label"):
        fit_branch(texts, [0, 1] * 15, ["a", "b", "c"], seed=0)


def test_the_weight_goes_to_whichever_side_knows_the_answer():
    texts, labels = _texts(90, 1)
    branch = fit_branch(texts, labels, ["business", "sport", "politics"], seed=0)
    val, val_labels = _texts(60, 2)
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 1, (60, 3))  # a transformer that knows nothing
    sure = np.eye(3)[val_labels] * 12.0  # one that is always right, and sure of it
    assert choose_weights(branch, {"full": noise}, {"full": val}, val_labels).weights[0] == 0.0
    assert choose_weights(branch, {"full": sure}, {"full": val}, val_labels).weights[0] == 1.0
    # buckets without validation texts keep the transformer alone
    assert choose_weights(branch, {"full": noise}, {"full": val}, val_labels).weights[1:] == (
        1.0,
        1.0,
    )


def test_the_default_checkpoint_is_a_hybrid_scored_as_served(tiny_checkpoint):
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    assert (tiny_checkpoint / LEXICAL_JSON).is_file() and (tiny_checkpoint / LEXICAL_NPZ).is_file()
    branch = Lexical.load(tiny_checkpoint)
    assert branch.parity_error() < 1e-6
    hybrid = report["hybrid"]
    assert hybrid["transformer_weights"] == list(branch.weights)
    assert hybrid["terms"] == len(branch.vocabulary)
    # the transformer alone stands beside what is served, on every view
    assert set(report["transformer"]["views"]) == set(report["views"]) == {"headline", "lead"}
    assert "## Hybrid" in (tiny_checkpoint / "eval_report.md").read_text()
    assert "The model is a hybrid" in (tiny_checkpoint / "README.md").read_text()


def test_training_without_the_hybrid_leaves_no_branch(tmp_path):
    from tests.training.tiny import TINY
    from training.config import TrainConfig
    from training.pipeline import run_training

    out = tmp_path / "ckpt"
    out.mkdir()
    (out / LEXICAL_JSON).write_text("{}")  # left by an earlier hybrid run into the same dir
    result = run_training(TrainConfig(**{**TINY, "epochs": 1.0}, output=str(out), hybrid=False))
    assert not (out / LEXICAL_JSON).exists() and not (out / LEXICAL_NPZ).exists()
    assert "hybrid" not in result.report and "transformer" not in result.report


def test_a_whole_article_branch_is_trained_exported_and_served():
    """``long_branch_weight``: training fits a second branch on whole training articles and
    serves it on whole articles at that weight; the exported model serves exactly that."""
    from consumer.model import OnnxClassifier
    from newsclf.calibration import softmax
    from newsclf.lexical import mix
    from newsclf.manifest import load_manifest
    from tests.fixtures.checkpoints import TINY_CHECKPOINT_SETTINGS, build_tiny_checkpoint
    from tests.fixtures.models import build_tiny_model_dir

    settings = {
        **TINY_CHECKPOINT_SETTINGS,
        "epochs": 2.0,
        "train_short_views": True,  # so the served branch reads headlines too, unlike the long
        "long_branch_weight": 0.15,
    }
    ckpt = build_tiny_checkpoint(settings=settings)
    report = json.loads((ckpt / "eval_report.json").read_text())
    branch = Lexical.load(ckpt)
    assert branch.long is not None and branch.weights[-1] == 0.15
    assert report["hybrid"]["long_branch"]["transformer_weight"] == 0.15
    assert "Whole articles: a branch fitted on whole" in (ckpt / "eval_report.md").read_text()
    assert "second branch fitted on whole training articles" in (ckpt / "README.md").read_text()
    model_dir = build_tiny_model_dir(ckpt)
    lexical = load_manifest(model_dir).extra["lexical"]
    assert lexical["long_branch_terms"] == len(branch.long.vocabulary)
    assert lexical["transformer_weights"][-1] == 0.15
    model = OnnxClassifier.load(model_dir, "cpu", 1)
    rows = [json.loads(x) for x in (ckpt / "heldout.jsonl").read_text().splitlines()]
    whole = [r["text"] for r in rows[:6]]
    assert all(branch.bucket_of(t) == len(branch.buckets) for t in whole)
    texts = whole + [t.split("\n")[0][:60] for t in whole]
    logits = model.logits(model.tokenize(texts))
    fused = branch.fuse(logits, texts)
    np.testing.assert_allclose(
        fused[:6], mix(logits[:6], branch.long.log_proba(whole), 0.15), atol=1e-5
    )
    assert not np.allclose(branch.long.log_proba(whole), branch.log_proba(whole), atol=1e-3)
    served = model.predict_texts(texts)
    np.testing.assert_allclose(served, softmax(fused, model.info.temperature), atol=1e-6)

"""Loading a model directory: verification, the pinned digest, what the service reports."""

from __future__ import annotations

import json
import shutil

import pytest

from consumer.cli import main
from consumer.model import ModelError, OnnxClassifier
from newsclf.manifest import MANIFEST_FILE, sha256_file

pytestmark = pytest.mark.slow


def test_the_model_reports_both_digests(tiny_model_dir):
    model = OnnxClassifier.load(tiny_model_dir, "cpu", 1)
    assert model.info.sha256 == sha256_file(tiny_model_dir / "model.onnx")
    assert model.info.manifest_sha256 == sha256_file(tiny_model_dir / MANIFEST_FILE)


def test_a_pinned_digest_refuses_a_model_rewritten_with_its_manifest(tiny_model_dir, tmp_path):
    pinned = sha256_file(tiny_model_dir / MANIFEST_FILE)
    OnnxClassifier.load(tiny_model_dir, "cpu", 1, pinned)  # the pinned model loads
    forged = tmp_path / "model"
    shutil.copytree(tiny_model_dir, forged)
    with (forged / "model.onnx").open("ab") as fh:
        fh.write(b"\0")  # edited ...
    manifest = json.loads((forged / MANIFEST_FILE).read_text())
    manifest["files"]["model.onnx"] = sha256_file(forged / "model.onnx")  # ... and re-hashed
    (forged / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="not the pinned model"):
        OnnxClassifier.load(forged, "cpu", 1, pinned)


def test_the_cli_refuses_an_unpinned_model_in_one_line(tiny_model_dir, monkeypatch, capsys):
    monkeypatch.setenv("NEWSCLF_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("NEWSCLF_MODEL_SHA256", "0" * 64)
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "NEWSCLF_MODEL_SHA256" in err and "\n" not in err


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("calibration", {"method": "temperature"}, "'calibration' is not valid"),
        ("languages", {"supported": "en"}, "'languages.supported' must be a list"),
        ("reference", {"n": 0}, "'reference' is not valid"),
    ],
)
def test_malformed_trust_data_in_the_manifest_is_refused(
    tiny_model_dir, tmp_path, key, value, says
):
    import json
    import shutil

    from consumer.model import ModelError, OnnxClassifier

    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest[key] = value
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=says):
        OnnxClassifier.load(copy, "cpu", 1)


def test_the_manifests_typed_views_are_what_the_model_serves(tiny_model_dir):
    from consumer.model import OnnxClassifier
    from newsclf.manifest import load_manifest

    manifest = load_manifest(tiny_model_dir)
    info = OnnxClassifier.load(tiny_model_dir, "cpu", 1).info
    assert (manifest.model_version, manifest.variant, tuple(manifest.labels)) == (
        info.version,
        info.variant,
        info.labels,
    )
    calibration = manifest.calibration
    assert (calibration.temperature if calibration else 1.0) == info.temperature
    assert manifest.supported_languages == info.supported_languages
    assert (manifest.reference is None) == (info.reference is None)
    assert load_manifest(tiny_model_dir).to_dict() == manifest.to_dict()  # nothing lost


def test_a_hybrid_serves_the_fused_calibrated_probabilities(tiny_model_dir, tiny_checkpoint):
    """The default model fuses its TF-IDF branch: through the service's classify stage, an
    article's probabilities are softmax(fuse(logits, text) / T), for whole articles and
    headlines alike, and the branch is what training saved."""
    import contextlib

    import numpy as np

    from consumer.pipeline import classify
    from newsclf.calibration import softmax
    from newsclf.lexical import Lexical

    model = OnnxClassifier.load(tiny_model_dir, "cpu", 1)
    assert model.lexical is not None
    rows = [json.loads(x) for x in (tiny_checkpoint / "heldout.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows[:6]] + [r["text"].split("\n")[0][:60] for r in rows[:6]]
    ids = model.tokenize(texts)
    fused = Lexical.load(tiny_checkpoint).fuse(model.logits(ids), texts)
    expected = softmax(fused, model.info.temperature)
    np.testing.assert_allclose(model.predict_texts(texts), expected, atol=1e-6)
    classified = classify(model, texts, 4, 1 << 20, lambda _stage: contextlib.nullcontext())
    np.testing.assert_allclose(classified.probs, expected, atol=1e-6)
    with pytest.raises(ModelError, match="needs the texts"):
        model.predict(ids)


def test_a_hybrid_whose_branch_does_not_load_is_refused(tiny_model_dir, tmp_path):
    from newsclf.lexical import LEXICAL_JSON

    broken = tmp_path / "model"
    shutil.copytree(tiny_model_dir, broken)
    meta = json.loads((broken / LEXICAL_JSON).read_text())
    meta["weights"] = [2.0] * len(meta["weights"])
    (broken / LEXICAL_JSON).write_text(json.dumps(meta))
    manifest = json.loads((broken / MANIFEST_FILE).read_text())
    manifest["files"][LEXICAL_JSON] = sha256_file(broken / LEXICAL_JSON)  # re-hashed: it verifies
    (broken / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="lexical branch.*must lie in"):
        OnnxClassifier.load(broken, "cpu", 1)

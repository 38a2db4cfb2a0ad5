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

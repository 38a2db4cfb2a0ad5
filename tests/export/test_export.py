"""Real exports of the tiny checkpoint: Optimum → ONNX (each variant) → parity → model dir."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from export.cli import main
from export.errors import EvalGateError, ParityError
from export.parity import DEFAULT_THRESHOLDS, ParityThresholds
from export.pipeline import export_model
from newsclf.feeds import build_feeds
from newsclf.manifest import Manifest, ManifestError, sha256_file, verify_model_dir
from newsclf.textprep import Preprocessing, encode_batch, prepare_tokenizer

pytestmark = pytest.mark.slow

Exported = Callable[[str], tuple[Path, Manifest]]


@pytest.fixture(scope="module")
def exported(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """``exported(variant)``: a fresh export through the API, built once per module."""
    done: dict[str, tuple[Path, Manifest]] = {}

    def get(variant: str) -> tuple[Path, Manifest]:
        if variant not in done:
            out = tmp_path_factory.mktemp(f"export-{variant}") / "model"
            done[variant] = (out, export_model(tiny_checkpoint, out, variant))
        return done[variant]

    return get


def _heldout(checkpoint: Path) -> list[dict]:
    lines = (checkpoint / "heldout.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _feeds(model_dir: Path, texts: list[str], inputs: set[str]) -> dict[str, np.ndarray]:
    """Token ids exactly as the consumer builds them: the model dir's tokenizer + prep, padded
    by the one feed builder serving uses (newsclf.feeds)."""
    from tokenizers import Tokenizer

    prep = Preprocessing.load(model_dir)
    tokenizer = prepare_tokenizer(Tokenizer.from_file(str(model_dir / "tokenizer.json")))
    return build_feeds(encode_batch(tokenizer, texts, prep), prep.pad_token_id, inputs)


def _session(model_dir: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])


def _torch_logits(checkpoint: Path, feeds: dict[str, np.ndarray]):
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(checkpoint, local_files_only=True)
    model.eval()
    with torch.inference_mode():
        return model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits


def test_fp32_manifest_records_the_export(exported: Exported, tiny_checkpoint: Path) -> None:
    out, manifest = exported("fp32")
    assert verify_model_dir(out) == manifest
    assert sorted(p.name for p in out.iterdir()) == sorted([*manifest.files, "manifest.json"])
    for name in ("model.onnx", "tokenizer.json", "config.json", "preprocessing.json"):
        assert manifest.files[name] == sha256_file(out / name)
    for name in ("tokenizer.json", "config.json", "preprocessing.json", "README.md"):
        assert (out / name).read_bytes() == (tiny_checkpoint / name).read_bytes()
    assert manifest.files["README.md"] == sha256_file(out / "README.md")  # the model card
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert manifest.labels == [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    assert manifest.variant == "fp32"
    assert manifest.opset >= 14
    assert manifest.inputs == ["input_ids", "attention_mask", "token_type_ids"]
    assert manifest.model_version == (f"{tiny_checkpoint.name}-fp32-{manifest.model_sha256[:12]}")
    created = datetime.fromisoformat(manifest.created_at)
    assert created.utcoffset() == timezone.utc.utcoffset(None)
    assert manifest.preprocessing == json.loads(
        (tiny_checkpoint / "preprocessing.json").read_text()
    )
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    assert manifest.metrics["macro_f1"] == report["macro_f1"]
    assert manifest.metrics["accuracy"] == report["accuracy"]
    assert manifest.base_model == report["base_model"]
    parity = manifest.parity
    train_sample = (tiny_checkpoint / "train_sample.jsonl").read_text().count("\n")
    # the held-out articles, topped up with training ones: agreement on more than 25 articles
    assert parity["samples"] == min(512, len(_heldout(tiny_checkpoint)) + train_sample) > 100
    assert "train_sample.jsonl" in parity["data"]
    assert parity["label_agreement"] == 1.0
    assert parity["disagreements"] == 0
    assert 0.0 <= parity["max_abs_logit_diff"] <= 1e-3
    assert parity["thresholds"] == {"min_label_agreement": 0.999, "max_abs_logit_diff": 1e-3}
    assert parity["passed"] is True
    assert parity["onnx_accuracy"] == parity["torch_accuracy"]
    assert manifest.extra["outputs"] == ["logits"]
    assert manifest.extra["model_bytes"] == (out / "model.onnx").stat().st_size
    assert manifest.extra["source"]["weights_sha256"] == sha256_file(
        tiny_checkpoint / "model.safetensors"
    )


def test_onnx_runtime_reproduces_torch_logits(exported: Exported, tiny_checkpoint: Path) -> None:
    import torch

    out, manifest = exported("fp32")
    session = _session(out)
    texts = [row["text"] for row in _heldout(tiny_checkpoint)]
    feeds = _feeds(out, texts, {i.name for i in session.get_inputs()})
    onnx_logits = session.run(["logits"], feeds)[0]
    expected = _torch_logits(tiny_checkpoint, feeds)
    torch.testing.assert_close(torch.from_numpy(onnx_logits), expected, atol=1e-3, rtol=0)
    # Dynamic axes: another batch size and a shorter sequence give the same rows.
    small = _feeds(out, texts[:3], {i.name for i in session.get_inputs()})
    small = {k: v[:, :12] for k, v in small.items()}
    torch.testing.assert_close(
        torch.from_numpy(session.run(["logits"], small)[0]),
        _torch_logits(tiny_checkpoint, small),
        atol=1e-3,
        rtol=0,
    )


def test_the_consumers_classifier_gives_the_checkpoints_logits(
    exported: Exported, tiny_checkpoint: Path
) -> None:
    """Through the service's own code (OnnxClassifier: its tokenizer, truncation, feed builder
    and session) the served model's logits are PyTorch's for the same articles, and its
    probabilities are the calibrated softmax of them."""
    import torch

    from consumer.model import OnnxClassifier
    from newsclf.calibration import softmax

    out, _ = exported("fp32")
    model = OnnxClassifier.load(out, "cpu", 1)
    texts = [row["text"] for row in _heldout(tiny_checkpoint)][:16]
    ids = model.tokenize(texts)
    served = model.logits(ids)
    feeds = build_feeds(ids, model.prep.pad_token_id, {"input_ids", "attention_mask"})
    expected = _torch_logits(tiny_checkpoint, feeds)
    torch.testing.assert_close(torch.from_numpy(served), expected, atol=1e-3, rtol=0)
    scores = expected.numpy()
    if model.lexical is not None:  # a hybrid fuses its TF-IDF branch before calibration
        scores = model.lexical.fuse(scores, texts)
    np.testing.assert_allclose(
        model.predict(ids, texts), softmax(scores, model.info.temperature), atol=1e-4
    )


def test_graph_interface_is_what_the_consumer_feeds(exported: Exported) -> None:
    out, manifest = exported("fp32")
    session = _session(out)
    for value in session.get_inputs():
        assert value.type == "tensor(int64)"
        assert all(isinstance(dim, str) for dim in value.shape)  # symbolic batch, sequence
    (logits,) = session.get_outputs()
    assert logits.name == "logits"
    assert logits.shape[1] == len(manifest.labels)
    assert isinstance(logits.shape[0], str)


@pytest.mark.parametrize("variant", ["optimized", "int8", "fp16"])
def test_each_variant_is_loadable_with_parity_recorded(
    exported: Exported, tiny_checkpoint: Path, variant: str
) -> None:
    out, manifest = exported(variant)
    fp32_dir, fp32 = exported("fp32")
    assert verify_model_dir(out) == manifest
    assert manifest.variant == variant
    assert manifest.model_sha256 != fp32.model_sha256
    parity = manifest.parity
    thresholds = DEFAULT_THRESHOLDS[variant]
    assert parity["passed"] is True
    assert parity["samples"] > len(_heldout(tiny_checkpoint))
    assert parity["label_agreement"] >= thresholds.min_label_agreement
    assert parity["thresholds"]["min_label_agreement"] == thresholds.min_label_agreement
    session = _session(out)
    texts = [row["text"] for row in _heldout(tiny_checkpoint)]
    probs = session.run(["logits"], _feeds(out, texts, {i.name for i in session.get_inputs()}))[0]
    assert probs.shape == (len(texts), len(manifest.labels))
    assert probs.dtype == np.float32  # fp16 keeps fp32 inputs and outputs
    size, fp32_size = (out / "model.onnx").stat().st_size, (fp32_dir / "model.onnx").stat().st_size
    details = manifest.extra["variant_details"]
    if variant == "int8":
        assert size < 0.4 * fp32_size
        assert details["mode"] == "dynamic"
        assert details["target"] == "portable"
        assert parity["max_abs_logit_diff"] > 0
    elif variant == "fp16":
        assert size < 0.6 * fp32_size
        assert details["fp16"] is True
        assert parity["max_abs_logit_diff"] <= 0.1
        assert manifest.extra["providers"] == ["CUDAExecutionProvider"]
    else:
        assert details["optimization_level"] == 2
        assert parity["max_abs_logit_diff"] <= 1e-3


def test_a_new_export_replaces_an_earlier_model_dir(
    exported: Exported, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    fp32_dir, _ = exported("fp32")
    out = tmp_path / "model"
    shutil.copytree(fp32_dir, out)
    manifest = export_model(tiny_checkpoint, out, "int8", parity_samples=8)
    assert verify_model_dir(out) == manifest
    assert manifest.variant == "int8"
    assert manifest.parity["samples"] == 8
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging left behind


def test_tampered_model_fails_verification(exported: Exported, tmp_path: Path) -> None:
    fp32_dir, _ = exported("fp32")
    out = shutil.copytree(fp32_dir, tmp_path / "model")
    with (out / "model.onnx").open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ManifestError, match="sha256 mismatch"):
        verify_model_dir(out)


def test_missing_file_fails_verification(exported: Exported, tmp_path: Path) -> None:
    fp32_dir, _ = exported("fp32")
    out = shutil.copytree(fp32_dir, tmp_path / "model")
    (out / "tokenizer.json").unlink()
    with pytest.raises(ManifestError, match="tokenizer.json is missing"):
        verify_model_dir(out)


IMPOSSIBLE = ParityThresholds(min_label_agreement=1.0, max_abs_logit_diff=1e-9)


def test_parity_failure_fails_the_export_and_writes_nothing(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    with pytest.raises(ParityError, match=r"fp32 parity failed .*max \|logit diff\|"):
        export_model(tiny_checkpoint, out, "fp32", parity_thresholds=IMPOSSIBLE)
    assert list(tmp_path.iterdir()) == []


def test_parity_failure_keeps_the_earlier_model_dir(
    exported: Exported, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    fp32_dir, fp32 = exported("fp32")
    out = shutil.copytree(fp32_dir, tmp_path / "model")
    with pytest.raises(ParityError):
        export_model(tiny_checkpoint, out, "optimized", parity_thresholds=IMPOSSIBLE)
    assert verify_model_dir(out) == fp32
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_eval_gate_on_a_real_checkpoint(checkpoint_with_report, tmp_path: Path) -> None:
    ckpt = checkpoint_with_report({"macro_f1": 0.42, "accuracy": 0.5})
    with pytest.raises(EvalGateError, match="0.4200 is below the required 0.6"):
        export_model(ckpt, tmp_path / "model", "fp32", min_macro_f1=0.6)
    assert not (tmp_path / "model").exists()


def test_cli_exports_and_prints_a_summary(
    capsys, checkpoint_with_report, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    report = json.loads((tiny_checkpoint / "eval_report.json").read_text())
    ckpt = checkpoint_with_report(report)
    out = tmp_path / "cli-model"
    argv = [str(ckpt), str(out), "--min-macro-f1", "0.01", "--parity-samples", "10"]
    assert main([*argv, "--model-version", "tiny-2025.1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    manifest = verify_model_dir(out)
    assert summary["model_version"] == manifest.model_version == "tiny-2025.1"
    assert summary["model_sha256"] == manifest.model_sha256
    assert summary["parity"]["samples"] == manifest.parity["samples"] == 10
    assert manifest.extra["eval_gate"] == {"min_macro_f1": 0.01, "macro_f1": report["macro_f1"]}


def test_tiny_model_dir_fixture(tiny_model_dir: Path) -> None:
    manifest = verify_model_dir(tiny_model_dir)
    assert manifest.variant == "fp32"
    assert tiny_model_dir.name.startswith("model-")
    assert manifest.parity["passed"] is True


def test_a_hybrids_branch_travels_pinned_with_its_parity(
    exported: Exported, tiny_checkpoint: Path
) -> None:
    from newsclf.lexical import FILES, Lexical

    out, manifest = exported("fp32")
    for name in FILES:
        assert (out / name).read_bytes() == (tiny_checkpoint / name).read_bytes()
        assert manifest.files[name] == sha256_file(out / name)
    lexical = manifest.extra["lexical"]
    branch = Lexical.load(out)
    assert lexical["transformer_weights"] == list(branch.weights)
    assert lexical["terms"] == len(branch.vocabulary)
    assert lexical["parity_max_abs_log_proba_diff"] < 1e-6
    # the drift reference is the served (fused) model's accuracy on the test split
    assert manifest.extra["reference"]["accuracy"] == pytest.approx(
        json.loads((tiny_checkpoint / "eval_report.json").read_text())["accuracy"], abs=0.02
    )


def test_a_branch_that_disagrees_with_training_is_not_exported(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from export.errors import CheckpointError
    from newsclf.lexical import LEXICAL_NPZ

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, ckpt)
    with np.load(ckpt / LEXICAL_NPZ) as arrays:
        parts = dict(arrays)
    parts["idf"][::2] *= 1.5  # a branch that is not the one training measured (a uniform
    # scaling would not do: the l2 normalisation cancels it)
    np.savez(ckpt / LEXICAL_NPZ, **parts)
    out = tmp_path / "model"
    with pytest.raises(CheckpointError, match="disagrees with training"):
        export_model(ckpt, out, "fp32")
    assert not out.exists()

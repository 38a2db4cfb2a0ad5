"""manifest.json: round trip, verification, tamper and missing-file detection, light import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from newsclf.manifest import (
    MANIFEST_FILE,
    Manifest,
    ManifestError,
    load_manifest,
    sha256_file,
    verify_model_dir,
    write_manifest,
)

REPO = Path(__file__).resolve().parents[2]


def _model_dir(root: Path) -> Path:
    """A model directory with placeholder contents and a correct manifest."""
    root.mkdir()
    contents = {
        "model.onnx": bytes(range(256)) * 4096,  # 1 MiB: more than one hash chunk
        "tokenizer.json": b'{"version": "1.0"}',
        "config.json": b'{"id2label": {"0": "a", "1": "b"}}',
        "preprocessing.json": b'{"max_length": 8, "head_tokens": 4, "pad_token_id": 0}',
    }
    for name, data in contents.items():
        (root / name).write_bytes(data)
    manifest = Manifest(
        model_version="m-fp32-0123456789ab",
        variant="fp32",
        opset=18,
        files={name: sha256_file(root / name) for name in contents},
        labels=["a", "b"],
        inputs=["input_ids", "attention_mask"],
        parity={"max_abs_logit_diff": 1e-6, "label_agreement": 1.0, "samples": 3},
        metrics={"macro_f1": 0.9},
        base_model="base",
        created_at="2025-01-01T00:00:00+00:00",
        preprocessing={"max_length": 8, "head_tokens": 4, "pad_token_id": 0},
        extra={"providers": ["CPUExecutionProvider"]},
    )
    write_manifest(root, manifest)
    return root


def _rewrite(root: Path, **changes: object) -> None:
    raw = json.loads((root / MANIFEST_FILE).read_text())
    raw.update(changes)
    (root / MANIFEST_FILE).write_text(json.dumps(raw))


def test_sha256_file_streams_large_files(tmp_path: Path) -> None:
    import hashlib

    data = b"x" * (3 * (1 << 20) + 17)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_round_trip_keeps_every_key(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    raw = json.loads((root / MANIFEST_FILE).read_text())
    assert raw["format_version"] == 1
    assert list(raw)[0] == "format_version"
    manifest = load_manifest(root)
    assert manifest.to_dict() == raw
    assert manifest.extra == {"providers": ["CPUExecutionProvider"]}
    assert manifest.model_sha256 == sha256_file(root / "model.onnx")


def test_verify_accepts_an_intact_directory(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    assert verify_model_dir(root) == load_manifest(root)


def test_one_flipped_byte_fails_verification(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    data = bytearray((root / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (root / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=r"sha256 mismatch for .*model\.onnx"):
        verify_model_dir(root)


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "preprocessing.json"])
def test_a_missing_file_fails_verification(tmp_path: Path, name: str) -> None:
    root = _model_dir(tmp_path / "m")
    (root / name).unlink()
    with pytest.raises(ManifestError, match=rf"{name} is missing"):
        verify_model_dir(root)


def test_missing_manifest(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    (root / MANIFEST_FILE).unlink()
    with pytest.raises(ManifestError, match="manifest.json is missing"):
        verify_model_dir(root)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 2}, "unsupported manifest format_version 2"),
        ({"labels": []}, "labels"),
        ({"inputs": ["input_ids", "pixel_values"]}, "unsupported graph inputs"),
        ({"opset": "18"}, "opset"),
        ({"parity": None}, "parity"),
    ],
)
def test_malformed_manifest(tmp_path: Path, changes: dict, message: str) -> None:
    root = _model_dir(tmp_path / "m")
    _rewrite(root, **changes)
    with pytest.raises(ManifestError, match=message):
        verify_model_dir(root)


def test_missing_key(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    raw = json.loads((root / MANIFEST_FILE).read_text())
    del raw["labels"]
    (root / MANIFEST_FILE).write_text(json.dumps(raw))
    with pytest.raises(ManifestError, match="lacks labels"):
        load_manifest(root)


def test_required_file_must_be_listed(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    files = json.loads((root / MANIFEST_FILE).read_text())["files"]
    del files["preprocessing.json"]
    _rewrite(root, files=files)
    with pytest.raises(ManifestError, match="does not list preprocessing.json"):
        verify_model_dir(root)


def test_file_names_cannot_leave_the_directory(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    (tmp_path / "outside").write_bytes(b"x")
    files = json.loads((root / MANIFEST_FILE).read_text())["files"]
    files["../outside"] = sha256_file(tmp_path / "outside")
    _rewrite(root, files=files)
    with pytest.raises(ManifestError, match="invalid file name"):
        verify_model_dir(root)


def test_unreadable_json(tmp_path: Path) -> None:
    root = _model_dir(tmp_path / "m")
    (root / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ManifestError, match="cannot be read"):
        load_manifest(root)


def test_manifest_error_is_a_value_error() -> None:
    assert issubclass(ManifestError, ValueError)


def test_manifest_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, newsclf.manifest; "
        "heavy = {'torch', 'transformers', 'onnx', 'onnxruntime', 'optimum', 'numpy'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"

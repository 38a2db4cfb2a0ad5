"""``manifest.json``: what a model directory holds, and the check that it still does.

The consumer imports this module at start-up, so it stays light: standard library only
(no torch, transformers, onnx or onnxruntime).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from newsclf.calibration import Calibration
    from newsclf.drift import Reference

T = TypeVar("T")

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.onnx"
FORMAT_VERSION = 1
# Files every model directory must list (and hold) for the consumer to serve it.
REQUIRED_FILES = (MODEL_FILE, "tokenizer.json", "config.json", "preprocessing.json")
# The only graph inputs the consumer knows how to feed (all int64).
KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")

_CHUNK = 1 << 20


class ManifestError(ValueError):
    """A model directory's manifest is missing or invalid, or a file no longer matches it."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (models can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """The parsed ``manifest.json`` (format version 1).

    ``files`` maps each file name in the model directory to its sha256; ``labels`` is in
    logit order; ``inputs`` are the ONNX graph's input names; ``extra`` keeps any further
    keys (provenance, variant details) so a round trip loses nothing.
    """

    model_version: str
    variant: str
    opset: int
    files: dict[str, str]
    labels: list[str]
    inputs: list[str]
    parity: dict[str, Any]
    metrics: dict[str, Any]
    base_model: str | None
    created_at: str
    preprocessing: dict[str, Any]
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_sha256(self) -> str:
        return self.files[MODEL_FILE]

    # Typed views of what the service reads from ``extra`` (written by export, docs/trust.md).
    # The raw objects stay in ``extra`` so a round trip keeps keys a newer export may add;
    # their classes import numpy, so they are imported only when asked for.
    @property
    def calibration(self) -> Calibration | None:
        """The temperature and review threshold; :class:`ManifestError` when malformed."""
        from newsclf.calibration import Calibration

        return self._view("calibration", Calibration.from_dict)

    @property
    def supported_languages(self) -> tuple[str, ...] | None:
        """The training data's languages (ISO 639-1); None: any."""

        def parse(raw: Any) -> tuple[str, ...]:
            supported = raw["supported"]
            if not isinstance(supported, list) or not all(isinstance(x, str) for x in supported):
                raise ValueError("'languages.supported' must be a list of language codes")
            return tuple(supported)

        return self._view("languages", parse)

    @property
    def reference(self) -> Reference | None:
        """The model's predictions on the test split (the drift reference)."""
        from newsclf.drift import Reference

        return self._view("reference", Reference.from_dict)

    def _view(self, key: str, parse: Callable[[Any], T]) -> T | None:
        raw = self.extra.get(key)
        if raw is None:
            return None
        try:
            return parse(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest {key!r} is not valid: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        ordered = {"format_version": data.pop("format_version"), **data}
        return {**ordered, **{k: v for k, v in extra.items() if k not in ordered}}

    @classmethod
    def from_dict(cls, raw: Any) -> Manifest:
        if not isinstance(raw, dict):
            raise ManifestError("manifest is not a JSON object")
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise ManifestError(
                f"unsupported manifest format_version {version!r} (expected {FORMAT_VERSION})"
            )
        names = [f.name for f in fields(cls) if f.name not in ("extra", "format_version")]
        missing = [n for n in names if n not in raw]
        if missing:
            raise ManifestError(f"manifest lacks {', '.join(missing)}")
        files = raw["files"]
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise ManifestError("manifest 'files' must map file names to sha256 strings")
        labels = raw["labels"]
        if not isinstance(labels, list) or not labels:
            raise ManifestError("manifest 'labels' must be a non-empty list")
        inputs = raw["inputs"]
        if not isinstance(inputs, list) or not inputs:
            raise ManifestError("manifest 'inputs' must be a non-empty list")
        unknown = [i for i in inputs if i not in KNOWN_INPUTS]
        if unknown:
            raise ManifestError(f"manifest lists unsupported graph inputs {unknown}")
        if not isinstance(raw["opset"], int):
            raise ManifestError("manifest 'opset' must be an integer")
        for key in ("parity", "metrics", "preprocessing"):
            if not isinstance(raw[key], dict):
                raise ManifestError(f"manifest '{key}' must be an object")
        known = {*names, "format_version"}
        return cls(
            model_version=str(raw["model_version"]),
            variant=str(raw["variant"]),
            opset=raw["opset"],
            files=dict(files),
            labels=[str(x) for x in labels],
            inputs=[str(x) for x in inputs],
            parity=raw["parity"],
            metrics=raw["metrics"],
            base_model=None if raw["base_model"] is None else str(raw["base_model"]),
            created_at=str(raw["created_at"]),
            preprocessing=raw["preprocessing"],
            format_version=version,
            extra={k: v for k, v in raw.items() if k not in known},
        )


def write_manifest(directory: str | os.PathLike[str], manifest: Manifest) -> Path:
    path = Path(directory) / MANIFEST_FILE
    path.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def load_manifest(directory: str | os.PathLike[str]) -> Manifest:
    """Parse ``DIR/manifest.json``; :class:`ManifestError` when missing or malformed."""
    path = Path(directory) / MANIFEST_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{path} is missing") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} cannot be read: {exc}") from exc
    try:
        return Manifest.from_dict(raw)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from exc


def _safe_name(name: str) -> bool:
    """A plain file name inside the directory: no separators, no parent references."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def verify_model_dir(directory: str | os.PathLike[str]) -> Manifest:
    """Load the manifest and check every listed file exists with the recorded sha256.

    Raises :class:`ManifestError` on a missing manifest, a required file the manifest does
    not list, a missing file, or a sha256 mismatch (a tampered or truncated file).
    """
    directory = Path(directory)
    manifest = load_manifest(directory)
    unlisted = [name for name in REQUIRED_FILES if name not in manifest.files]
    if unlisted:
        raise ManifestError(f"{directory / MANIFEST_FILE} does not list {', '.join(unlisted)}")
    for name, expected in manifest.files.items():
        if not _safe_name(name):
            raise ManifestError(f"manifest lists an invalid file name {name!r}")
        path = directory / name
        if not path.is_file():
            raise ManifestError(f"{path} is missing")
        actual = sha256_file(path)
        if actual != expected.lower():
            raise ManifestError(
                f"sha256 mismatch for {path}: manifest says {expected[:16]}..., "
                f"file has {actual[:16]}..."
            )
    return manifest

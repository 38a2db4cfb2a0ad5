"""One export end to end: checkpoint → ONNX → variant → parity → model directory.

Everything is built in a hidden staging directory beside the output and renamed into place
only once parity has passed and the manifest is written, so a failed export never leaves a
half-written model directory (and never touches an existing one).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from export.checkpoint import CONFIG_FILE, Checkpoint, check_eval_gate, load_checkpoint
from export.errors import ExportError, OutputError
from export.parity import (
    CPU,
    DEFAULT_SAMPLES,
    DEFAULT_THRESHOLDS,
    ParityThresholds,
    check_parity,
    load_parity_data,
)
from export.reference import test_split_reference
from export.variants import INT8_TARGETS, PROVIDERS, VARIANTS
from newsclf.lexical import FILES as LEXICAL_FILES
from newsclf.manifest import (
    MANIFEST_FILE,
    MODEL_FILE,
    Manifest,
    sha256_file,
    write_manifest,
)
from newsclf.textprep import PREPROCESSING_FILE

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
VERSIONED_PACKAGES = ("optimum-onnx", "optimum", "onnx", "onnxruntime", "torch", "transformers")


def _check_output(output: Path) -> None:
    """The output may be absent, an empty directory or an earlier model directory."""
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise OutputError(f"output {output} exists and is not a directory")
    if output.is_dir() and any(output.iterdir()) and not (output / MANIFEST_FILE).is_file():
        raise OutputError(
            f"output {output} is a non-empty directory without {MANIFEST_FILE}; "
            "refusing to replace it"
        )


def _make_staging(output: Path) -> Path:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{output.name}.export-", dir=output.parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {output.parent}: {exc.strerror or exc}") from exc


def _install(model_dir: Path, output: Path, staging: Path) -> None:
    """Rename the finished model directory into place, replacing an earlier one."""
    _check_output(output)
    try:
        if output.exists():
            previous = staging / "previous"
            os.replace(output, previous)
            try:
                os.replace(model_dir, output)
            except OSError:
                os.replace(previous, output)
                raise
        else:
            os.replace(model_dir, output)
    except OSError as exc:
        raise OutputError(f"cannot move the model into {output}: {exc.strerror or exc}") from exc


def _parity_provider(variant: str, provider: str | None) -> str:
    if provider:
        return provider
    if variant == "fp16":
        import onnxruntime as ort

        if CUDA in ort.get_available_providers():
            return CUDA
    return CPU


def _versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


MODEL_CARD = "README.md"  # training.model_card writes it into the checkpoint


def _assemble(checkpoint: Checkpoint, model: Path, external: list[str], model_dir: Path) -> None:
    """The model directory's files: graph (+ external data), tokenizer, config, preprocessing."""
    model_dir.mkdir()
    shutil.move(str(model), model_dir / MODEL_FILE)
    for name in external:
        shutil.move(str(model.parent / name), model_dir / name)
    for name in [*checkpoint.tokenizer_files, CONFIG_FILE, PREPROCESSING_FILE]:
        shutil.copyfile(checkpoint.path / name, model_dir / name)
    if checkpoint.lexical is not None:  # a hybrid's TF-IDF branch
        for name in LEXICAL_FILES:
            shutil.copyfile(checkpoint.path / name, model_dir / name)
    if (checkpoint.path / MODEL_CARD).is_file():  # the model card travels with the model
        shutil.copyfile(checkpoint.path / MODEL_CARD, model_dir / MODEL_CARD)


def export_model(
    checkpoint: str | Path,
    output: str | Path,
    variant: str = "fp32",
    *,
    opset: int | None = None,
    min_macro_f1: float | None = None,
    parity_samples: int = DEFAULT_SAMPLES,
    parity_data: str | Path | None = None,
    parity_thresholds: ParityThresholds | None = None,
    parity_provider: str | None = None,
    model_version: str | None = None,
    int8_target: str = "portable",
) -> Manifest:
    """Export ``checkpoint`` as ``variant`` into the model directory ``output``.

    Raises :class:`~export.errors.CheckpointError` (not a checkpoint),
    :class:`~export.errors.EvalGateError` (macro-F1 below ``min_macro_f1`` or unknown),
    :class:`~export.errors.OutputError` (output unwritable, or a non-empty directory that is
    not a model directory), :class:`~export.errors.ParityError` (ONNX does not reproduce
    PyTorch within ``parity_thresholds``, by default :data:`DEFAULT_THRESHOLDS[variant]`),
    or :class:`~export.errors.ExportError` for other failures. On any failure ``output`` is
    left as it was. An existing model directory at ``output`` is replaced atomically.
    """
    started = time.perf_counter()
    if variant not in VARIANTS:
        raise ExportError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    if int8_target not in INT8_TARGETS:
        raise ExportError(
            f"unknown int8 target {int8_target!r} (choose from {', '.join(INT8_TARGETS)})"
        )
    if model_version is not None and not model_version.strip():
        raise ExportError("model version must not be empty")
    ckpt = load_checkpoint(checkpoint)
    macro_f1 = check_eval_gate(ckpt, min_macro_f1)
    data_path = Path(parity_data) if parity_data is not None else ckpt.heldout
    if data_path is None:
        raise ExportError(
            f"no parity data: {ckpt.path} has no heldout.jsonl; pass a JSONL file of articles"
        )
    data = load_parity_data(data_path, parity_samples)
    if parity_data is None and ckpt.train_sample is not None:
        # Parity needs numerical agreement on enough articles, not unseen ones: a small
        # held-out split (a --limit run has 30) is topped up with training articles.
        data = data.top_up(load_parity_data(ckpt.train_sample, parity_samples), parity_samples)
    thresholds = parity_thresholds or DEFAULT_THRESHOLDS[variant]
    output = Path(output)
    _check_output(output)
    staging = _make_staging(output)
    log.info(
        "export.start checkpoint=%s variant=%s output=%s parity_samples=%d",
        ckpt.path,
        variant,
        output,
        len(data.texts),
    )
    try:
        from export.graph import inspect_graph
        from export.onnx_export import export_onnx
        from export.variants import build_variant

        steps: dict[str, float] = {}
        t = time.perf_counter()
        export_onnx(ckpt.path, staging / "raw", opset)
        steps["onnx_export"] = time.perf_counter() - t
        result = build_variant(staging / "raw", variant, staging / "work", int8_target=int8_target)
        steps["variant"] = result.seconds
        graph = inspect_graph(result.model)
        graph.check_servable(len(ckpt.labels))
        t = time.perf_counter()
        parity = check_parity(
            ckpt,
            result.model,
            data,
            thresholds,
            variant=variant,
            provider=_parity_provider(variant, parity_provider),
        )
        steps["parity"] = time.perf_counter() - t
        t = time.perf_counter()
        reference = test_split_reference(
            ckpt, result.model, _parity_provider(variant, parity_provider)
        )
        steps["reference"] = time.perf_counter() - t
        model_dir = staging / "model"
        _assemble(ckpt, result.model, graph.external_data, model_dir)
        files = {p.name: sha256_file(p) for p in sorted(model_dir.iterdir()) if p.is_file()}
        model_sha = files[MODEL_FILE]
        extra: dict[str, Any] = {
            "outputs": graph.outputs,
            "providers": PROVIDERS[variant],
            "variant_details": result.details,
            "model_bytes": (model_dir / MODEL_FILE).stat().st_size,
            "source": {
                "checkpoint": ckpt.path.resolve().name,
                "weights_sha256": sha256_file(ckpt.weights_file),
            },
            "export": {
                "seconds": round(time.perf_counter() - started, 3),
                "step_seconds": {k: round(v, 3) for k, v in steps.items()},
                "versions": _versions(),
            },
        }
        # What the service needs to route and watch its predictions (docs/trust.md): the
        # temperature and review threshold, the languages of the training data, and the
        # model's own predictions on the test split (the drift reference).
        if ckpt.calibration is not None:
            extra["calibration"] = ckpt.calibration
        if ckpt.languages is not None:
            extra["languages"] = ckpt.languages
        if ckpt.lexical is not None:
            extra["lexical"] = {
                "terms": len(ckpt.lexical.vocabulary),
                "buckets_max_words": list(ckpt.lexical.buckets),
                "transformer_weights": list(ckpt.lexical.weights),
                "parity_max_abs_log_proba_diff": ckpt.lexical_parity,
            }
            if ckpt.lexical.long is not None:  # whole articles read by their own branch
                extra["lexical"]["long_branch_terms"] = len(ckpt.lexical.long.vocabulary)
        if reference is not None:
            extra["reference"] = reference.to_dict()
        if min_macro_f1 is not None:
            extra["eval_gate"] = {"min_macro_f1": min_macro_f1, "macro_f1": macro_f1}
        manifest = Manifest(
            model_version=(model_version or "").strip()
            or f"{ckpt.path.resolve().name}-{variant}-{model_sha[:12]}",
            variant=variant,
            opset=graph.opset,
            files=files,
            labels=list(ckpt.labels),
            inputs=graph.inputs,
            parity=parity.to_dict(),
            metrics=ckpt.metrics,
            base_model=ckpt.base_model,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            preprocessing=asdict(ckpt.preprocessing),
            extra=extra,
        )
        write_manifest(model_dir, manifest)
        _install(model_dir, output, staging)
    except OSError as exc:  # disk full, permissions changed under us...
        raise OutputError(f"export to {output} failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info(
        "export.done variant=%s model_version=%s seconds=%.2f output=%s",
        variant,
        manifest.model_version,
        time.perf_counter() - started,
        output,
    )
    return manifest

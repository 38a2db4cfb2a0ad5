"""Model variants built from the plain fp32 export.

- ``fp32``: the exporter's graph as is; runs anywhere.
- ``optimized``: ``ORTOptimizer`` level 2 for CPU (fused attention, layer norm, GELU).
- ``int8``: ``ORTQuantizer`` dynamic quantisation (weights int8 ahead of time, activations
  quantised at run time) for CPU. Built from the fp32 graph: the quantiser cannot type the
  fused operators of the optimised one.
- ``fp16``: ``ORTOptimizer`` O4 (GPU-targeted fusions, GELU approximation, fp16 weights and
  compute, fp32 inputs/outputs kept) for CUDA. On a machine without CUDA the runtime-level
  GPU fusions are skipped; the graph still runs on the CPU execution provider, which is
  what the parity check uses there.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export.errors import ExportError
from newsclf.manifest import MODEL_FILE

log = logging.getLogger(__name__)

VARIANTS = ("fp32", "optimized", "int8", "fp16")
# Quantisation targets for ``int8``. The model may be served on another CPU than the one
# that exports it, so the default is ``portable``: u8 activations and s8 per-channel weights
# in 7-bit reduced range, which avoids the VPMADDUBSW overflow of AVX2/AVX-512 CPUs without
# VNNI and runs correctly (if slightly less precisely) on VNNI and ARM64 machines too. The
# others are Optimum's per-CPU presets, for a fleet known to have that instruction set.
INT8_TARGETS = ("portable", "avx512_vnni", "avx2", "arm64")
# The execution providers each variant is meant for, best first (recorded in the manifest).
PROVIDERS = {
    "fp32": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "optimized": ["CPUExecutionProvider"],
    "int8": ["CPUExecutionProvider"],
    "fp16": ["CUDAExecutionProvider"],
}


@dataclass(frozen=True)
class VariantResult:
    model: Path
    variant: str
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


@contextlib.contextmanager
def _quiet_no_gpu_notice() -> Iterator[None]:
    """ORT's transformer optimiser logs an ERROR when it finds no GPU for a GPU-targeted
    run; on a CPU-only export machine that is expected (see the module docstring)."""
    noisy = logging.getLogger("onnxruntime.transformers.optimizer")
    level = noisy.level
    noisy.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        noisy.setLevel(level)


def _optimization_config(variant: str) -> Any:
    from optimum.onnxruntime.configuration import AutoOptimizationConfig, OptimizationConfig

    if variant == "optimized":
        return OptimizationConfig(optimization_level=2, optimize_for_gpu=False)
    return AutoOptimizationConfig.O4(for_gpu=True)


def _quantization_config(target: str) -> Any:
    from optimum.onnxruntime.configuration import AutoQuantizationConfig as Auto

    if target == "portable":
        return Auto.avx512(is_static=False, per_channel=True, reduce_range=True)
    if target == "avx512_vnni":
        return Auto.avx512_vnni(is_static=False, per_channel=True)
    if target == "avx2":
        return Auto.avx2(is_static=False, per_channel=True)
    if target == "arm64":
        return Auto.arm64(is_static=False, per_channel=True)
    raise ExportError(f"unknown int8 target {target!r} (choose from {', '.join(INT8_TARGETS)})")


def _optimize(raw_dir: Path, variant: str, out_dir: Path) -> dict[str, Any]:
    from optimum.onnxruntime import ORTOptimizer

    config = _optimization_config(variant)
    optimizer = ORTOptimizer.from_pretrained(raw_dir, file_names=[MODEL_FILE])
    with _quiet_no_gpu_notice():
        optimizer.optimize(optimization_config=config, save_dir=out_dir, file_suffix=None)
    return {
        "tool": "optimum.onnxruntime.ORTOptimizer",
        "optimization_level": config.optimization_level,
        "optimize_for_gpu": config.optimize_for_gpu,
        "fp16": config.fp16,
        "enable_gelu_approximation": config.enable_gelu_approximation,
    }


def _quantize(raw_dir: Path, out_dir: Path, target: str) -> dict[str, Any]:
    from optimum.onnxruntime import ORTQuantizer

    config = _quantization_config(target)
    quantizer = ORTQuantizer.from_pretrained(raw_dir, file_name=MODEL_FILE)
    quantizer.quantize(quantization_config=config, save_dir=out_dir, file_suffix=None)
    return {
        "tool": "optimum.onnxruntime.ORTQuantizer",
        "target": target,
        "mode": "dynamic",
        "activations_dtype": config.activations_dtype.name,
        "weights_dtype": config.weights_dtype.name,
        "per_channel": config.per_channel,
        "reduce_range": config.reduce_range,
        "operators": sorted(config.operators_to_quantize),
    }


def build_variant(
    raw_dir: Path, variant: str, work_dir: Path, *, int8_target: str = "portable"
) -> VariantResult:
    """Turn ``raw_dir/model.onnx`` (the fp32 export) into ``variant``.

    New graphs are written under ``work_dir``; ``fp32`` returns the raw model itself.
    """
    if variant not in VARIANTS:
        raise ExportError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    if variant == "fp32":
        return VariantResult(raw_dir / MODEL_FILE, variant, {"tool": "optimum.exporters.onnx"})
    if variant == "int8" and int8_target not in INT8_TARGETS:
        raise ExportError(
            f"unknown int8 target {int8_target!r} (choose from {', '.join(INT8_TARGETS)})"
        )
    started = time.perf_counter()
    out_dir = work_dir / variant
    try:
        if variant == "int8":
            details = _quantize(raw_dir, out_dir, int8_target)
        else:
            details = _optimize(raw_dir, variant, out_dir)
    except ExportError:
        raise
    except Exception as exc:  # Optimum/ORT raise a mix of ValueError, KeyError, RuntimeError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"building the {variant} variant failed: {first}") from exc
    model = out_dir / MODEL_FILE
    if not model.is_file():
        raise ExportError(f"building the {variant} variant wrote no {MODEL_FILE}")
    seconds = time.perf_counter() - started
    log.info(
        "export.variant variant=%s seconds=%.2f bytes=%d", variant, seconds, model.stat().st_size
    )
    return VariantResult(model, variant, details, seconds)

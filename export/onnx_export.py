"""The PyTorch → ONNX step: Optimum's exporter, offline, task ``text-classification``."""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

from export.errors import ExportError
from newsclf.manifest import MODEL_FILE

log = logging.getLogger(__name__)

TASK = "text-classification"


def offline() -> None:
    """Never reach a model hub: every model this package loads is a local directory."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def export_onnx(checkpoint: Path, output_dir: Path, opset: int | None = None) -> Path:
    """Export ``checkpoint`` to ``output_dir/model.onnx`` (fp32, dynamic batch and sequence).

    Optimum's own output validation is skipped: :mod:`export.parity` checks the result
    more strictly, on real articles, for every variant.
    """
    offline()
    from optimum.exporters.onnx import main_export

    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # The tracer's notes on constant tensors are expected for this task.
            warnings.simplefilter("ignore")
            main_export(
                str(checkpoint),
                output=output_dir,
                task=TASK,
                opset=opset,
                device="cpu",
                local_files_only=True,
                do_validation=False,
            )
    except Exception as exc:  # Optimum raises ValueError, KeyError, RuntimeError, OSError...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"ONNX export of {checkpoint} failed: {first}") from exc
    model = output_dir / MODEL_FILE
    if not model.is_file():
        raise ExportError(f"ONNX export of {checkpoint} wrote no {MODEL_FILE}")
    log.info(
        "export.onnx seconds=%.2f bytes=%d opset=%s",
        time.perf_counter() - started,
        model.stat().st_size,
        opset or "default",
    )
    return model

"""Command line: ``python -m export CHECKPOINT OUTPUT [--variant fp32|optimized|int8|fp16]``.

A thin layer over :func:`export.pipeline.export_model`. Bad arguments and failed exports end
with one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from export.errors import ExportError
from export.parity import DEFAULT_SAMPLES
from export.variants import INT8_TARGETS, VARIANTS
from newsclf import logs
from newsclf.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, fail
from newsclf.manifest import MANIFEST_FILE, ManifestError, sha256_file

PROG = "python -m export"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        fail(message, EXIT_USAGE, prog=self.prog)
        raise SystemExit(EXIT_USAGE)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not within [0, 1]")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Export a fine-tuned checkpoint to an ONNX model directory, checked "
        "against PyTorch on held-out articles.",
    )
    parser.add_argument("checkpoint", type=Path, help="checkpoint directory (python -m training)")
    parser.add_argument("output", type=Path, help="model directory to write (or replace)")
    parser.add_argument("--variant", choices=VARIANTS, default="fp32", help="default: fp32")
    parser.add_argument("--opset", type=_positive, default=None, help="ONNX opset")
    parser.add_argument(
        "--min-macro-f1",
        type=_fraction,
        default=None,
        help="refuse a checkpoint whose test macro-F1 (eval_report.json) is lower or missing",
    )
    parser.add_argument(
        "--parity-samples",
        type=_positive,
        default=DEFAULT_SAMPLES,
        help=f"articles for the parity check (default: {DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--parity-data",
        type=Path,
        default=None,
        help="JSONL of {text, title?, label?} objects (default: the checkpoint's heldout.jsonl)",
    )
    parser.add_argument("--model-version", default=None, help="default: <ckpt>-<variant>-<sha>")
    parser.add_argument(
        "--int8-target",
        choices=INT8_TARGETS,
        default="portable",
        help="CPU preset for --variant int8 (default: portable)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    return parser


def _configure_logging(quiet: bool) -> None:
    """Our steps at INFO; the exporters' own chatter (fusion counts, per-tensor
    quantisation notes, deprecation notices) only from WARNING (transformers: ERROR)."""
    logs.configure("WARNING", "text")
    logging.getLogger("export").setLevel(logging.WARNING if quiet else logging.INFO)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (one line, above) and --help
        return int(exc.code or 0)
    _configure_logging(args.quiet)
    from export.pipeline import export_model

    try:
        manifest = export_model(
            args.checkpoint,
            args.output,
            args.variant,
            opset=args.opset,
            min_macro_f1=args.min_macro_f1,
            parity_samples=args.parity_samples,
            parity_data=args.parity_data,
            model_version=args.model_version,
            int8_target=args.int8_target,
        )
    except (ExportError, ManifestError) as exc:
        return fail(str(exc), EXIT_FAILED, prog=PROG)
    except KeyboardInterrupt:
        return fail(f"interrupted; {args.output} left unchanged", EXIT_INTERRUPTED, prog=PROG)
    summary = {
        "output": str(args.output),
        "model_version": manifest.model_version,
        "variant": manifest.variant,
        "model_sha256": manifest.model_sha256,
        # Pin the deployment to this model: NEWSCLF_MODEL_SHA256=<manifest_sha256>.
        "manifest_sha256": sha256_file(Path(args.output) / MANIFEST_FILE),
        "model_bytes": manifest.extra.get("model_bytes"),
        "parity": {
            k: manifest.parity[k]
            for k in ("samples", "max_abs_logit_diff", "label_agreement", "provider")
        },
    }
    print(json.dumps(summary, indent=2))
    return 0

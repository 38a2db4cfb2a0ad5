"""Errors of the export pipeline. Each carries one readable line for the CLI."""

from __future__ import annotations


class ExportError(Exception):
    """The export cannot proceed or did not produce a servable model."""


class CheckpointError(ExportError):
    """The checkpoint directory is missing or is not a classification checkpoint."""


class EvalGateError(ExportError):
    """The checkpoint's evaluation does not meet the required minimum."""


class OutputError(ExportError):
    """The output directory cannot be written or replaced."""


class ParityError(ExportError):
    """The ONNX model does not reproduce the PyTorch checkpoint closely enough."""

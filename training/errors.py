"""The one exception type the training package raises for bad input."""

from __future__ import annotations


class TrainingError(Exception):
    """Bad input (files, columns, labels, model path, config). The CLI prints ``error: <msg>``."""

"""Logging for every ``python -m`` entry point: one JSON object per line (the service, for a log
pipeline) or one plain line (a terminal: training, export, the tools), both on stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = {
            k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")
        }
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        at = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        base = f"{at} {record.levelname.lower():7s} {record.name}: {record.getMessage()}"
        return f"{base} {tail}".rstrip()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (it may be swapped after set-up)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """One handler on the root logger, at ``level``; ``fmt`` is ``json`` or ``text``. Called
    again, it replaces its own handler (and plain stderr ones) and keeps any other (a test's
    log capture). The Kafka client's own chatter only from WARNING."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    kept = [
        h
        for h in root.handlers
        if not isinstance(h, _StderrHandler) and type(h) is not logging.StreamHandler
    ]
    root.handlers[:] = [*kept, handler]
    root.setLevel(level.upper())
    logging.getLogger("kafka").setLevel(max(logging.WARNING, root.level))

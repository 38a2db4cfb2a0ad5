"""``python -m consumer``: run the classification service. Configuration: NEWSCLF_* variables.

Exit codes are :class:`consumer.errors.ExitCode`; a non-zero exit after start-up ends with one
JSON log line carrying ``exit_code``, ``exit`` and ``reason``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pydantic import ValidationError

from consumer.errors import ExitCode
from consumer.settings import Settings
from consumer.signals import hold_sighup
from newsclf import logs
from newsclf.cli import fail

log = logging.getLogger("consumer")


def _settings_help() -> str:
    lines = ["environment variables (prefix NEWSCLF_):"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=False)
        shown = "<hostname-based>" if field.default_factory else default
        lines.append(f"  NEWSCLF_{name.upper():28s} default: {shown}")
    lines.append("exit codes: " + ", ".join(f"{c.value} {c.name.lower()}" for c in ExitCode))
    return "\n".join(lines)


def _one_line(exc: ValidationError) -> str:
    errs = exc.errors(include_url=False)
    return "; ".join(
        f"NEWSCLF_{'.'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
        for e in errs
    )


def settings_or_exit(overrides: dict[str, str | None] | None = None) -> Settings | int:
    """The settings (environment, then ``overrides`` that are not None) with logging
    configured, or the exit code after one line on stderr when they are invalid."""
    given: dict[str, Any] = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        return fail(f"invalid settings: {_one_line(exc)}", int(ExitCode.CONFIG))
    logs.configure(settings.log_level, settings.log_format)
    for line in settings.deprecations():
        log.warning(line)
    return settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m consumer",
        description="Classify news articles from Kafka with an ONNX model.",
        epilog=_settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model-dir", help="overrides NEWSCLF_MODEL_DIR")
    parser.add_argument("--bootstrap-servers", help="overrides NEWSCLF_BOOTSTRAP_SERVERS")
    args = parser.parse_args(argv)
    settings = settings_or_exit(
        {"model_dir": args.model_dir, "bootstrap_servers": args.bootstrap_servers}
    )
    if isinstance(settings, int):
        return settings
    if settings.workers > 1:
        from consumer.supervisor import supervise

        return supervise(settings)
    return serve(settings)


def serve(settings: Settings) -> int:
    """One service process: start, run until SIGTERM or a fatal error, return its exit code."""
    hold_sighup()
    from consumer.service import serve_one  # imports onnxruntime: after the cheap checks

    return serve_one(settings)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m consumer``: run the classification service. Configuration: NEWSCLF_* variables.

Exit codes are :class:`consumer.errors.ExitCode`; a non-zero exit after start-up ends with one
JSON log line carrying ``exit_code``, ``exit`` and ``reason``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from kafka.errors import KafkaError
from pydantic import ValidationError

from consumer import logs
from consumer.errors import ConfigError, ExitCode, FatalError
from consumer.kafka_io import KafkaAuthError
from consumer.model import ModelError
from consumer.settings import Settings

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


def _exit(code: ExitCode, reason: str) -> int:
    log.error(
        "exiting", extra={"exit_code": int(code), "exit": code.name.lower(), "reason": reason}
    )
    return int(code)


def start_error(exc: BaseException, settings: Settings) -> tuple[ExitCode, str] | None:
    """The exit code and one line for a failure to start, or None when it is unexpected."""
    if isinstance(exc, ModelError | ConfigError):
        return ExitCode.CONFIG, str(exc)
    if isinstance(exc, KafkaAuthError):
        first = str(exc).splitlines()[0] if str(exc) else "refused"
        return ExitCode.KAFKA_START, (
            f"authentication refused by Kafka at {settings.bootstrap_servers} "
            f"(NEWSCLF_SASL_USERNAME / NEWSCLF_SASL_PASSWORD / NEWSCLF_SSL_*): {first}"
        )
    if isinstance(exc, KafkaError):
        first = (str(exc).splitlines() or [""])[0]
        return ExitCode.KAFKA_START, (
            f"cannot connect to Kafka at {settings.bootstrap_servers}: {type(exc).__name__}: {first}"
        )
    if isinstance(exc, OSError):
        return ExitCode.KAFKA_START, f"cannot start: {exc}"
    return None


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
    overrides = {
        k: v
        for k, v in {
            "model_dir": args.model_dir,
            "bootstrap_servers": args.bootstrap_servers,
        }.items()
        if v is not None
    }
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        print(f"error: invalid settings: {_one_line(exc)}", file=sys.stderr)
        return int(ExitCode.CONFIG)
    logs.configure(settings.log_level, settings.log_format)
    for line in settings.deprecations():
        log.warning(line)
    if settings.workers > 1:
        from consumer.supervisor import supervise

        return supervise(settings)
    return serve(settings)


def serve(settings: Settings) -> int:
    """One service process: start, run until SIGTERM or a fatal error, return its exit code."""
    return serve_one(settings)


def serve_one(settings: Settings, *, health: Any = None, http: bool = True) -> int:
    """:func:`serve`, also for a supervised worker (its health published, no HTTP server)."""
    if threading.current_thread() is threading.main_thread():
        # SIGHUP reloads the model once the service is up; until then it must not end it.
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from consumer.service import Service  # imports onnxruntime: after the cheap checks

    try:
        service = Service(settings, health=health, http=http)
    except Exception as exc:
        known = start_error(exc, settings)
        if known is None:
            raise
        code, reason = known
        print(f"error: {reason}", file=sys.stderr)
        return int(code)
    service.install_signal_handlers()
    try:
        service.run()
    except FatalError as exc:
        return _exit(exc.code, exc.reason)
    except KafkaError as exc:
        return _exit(ExitCode.INTERNAL, f"unexpected Kafka error: {type(exc).__name__}: {exc}")
    except Exception as exc:
        log.exception("unexpected error")
        return _exit(ExitCode.INTERNAL, f"{type(exc).__name__}: {exc}")
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())

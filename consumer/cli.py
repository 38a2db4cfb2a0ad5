"""``python -m consumer``: run the classification service. Configuration: NEWSCLF_* variables."""

from __future__ import annotations

import argparse
import logging
import sys

from kafka.errors import KafkaError
from pydantic import ValidationError

from consumer import logs
from consumer.model import ModelError
from consumer.settings import Settings
from consumer.worker import DeliveryError

log = logging.getLogger("consumer")


def _settings_help() -> str:
    lines = ["environment variables (prefix NEWSCLF_):"]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=False)
        shown = "<hostname-based>" if field.default_factory else default
        lines.append(f"  NEWSCLF_{name.upper():28s} default: {shown}")
    return "\n".join(lines)


def _one_line(exc: ValidationError) -> str:
    errs = exc.errors(include_url=False)
    return "; ".join(
        f"NEWSCLF_{'.'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
        for e in errs
    )


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
        return 2
    logs.configure(settings.log_level, settings.log_format)

    from consumer.service import Service  # imports onnxruntime: after the cheap checks

    try:
        service = Service(settings)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(
            f"error: cannot connect to Kafka at {settings.bootstrap_servers}: {exc}",
            file=sys.stderr,
        )
        return 3
    except OSError as exc:
        print(f"error: cannot start: {exc}", file=sys.stderr)
        return 3
    service.install_signal_handlers()
    try:
        service.run()
    except DeliveryError as exc:
        log.error(
            "delivery failed; exiting so the batch is re-delivered", extra={"error": str(exc)}
        )
        return 1
    except KafkaError as exc:
        log.error("kafka error", extra={"error": f"{type(exc).__name__}: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

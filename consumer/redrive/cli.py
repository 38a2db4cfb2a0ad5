"""``python -m consumer.redrive``: send dead letters back to their topic. Reads the service's
NEWSCLF_* settings (bootstrap servers, security, topics); the flags narrow what is redriven.

Exit codes: 0 done (the summary says what was sent and skipped), 2 bad arguments or settings,
3 Kafka unreachable or the dead-letter topic missing, 5 a redriven record was not acknowledged.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from kafka.errors import KafkaError
from pydantic import ValidationError

from consumer.progress import Progress
from consumer.redrive.plan import Plan, Selection
from consumer.redrive.run import run
from consumer.schemas import ERRORS
from newsclf import logs
from newsclf.cli import fail


def parse_time(value: str) -> int:
    """Epoch milliseconds from ISO 8601 (UTC unless it names a zone) or from a number of ms."""
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time (ISO 8601 such as 2026-12-06T10:00:00Z, or epoch ms)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from exc
    if n < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return n


def _positive(value: str) -> int:
    n = _non_negative(value)
    if n == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m consumer.redrive",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--error",
        action="append",
        choices=ERRORS,
        default=[],
        metavar="CLASS",
        help=f"redrive only this error class (repeatable; one of {', '.join(ERRORS)})",
    )
    p.add_argument("--since", type=parse_time, help="dead-lettered at or after this time")
    p.add_argument("--until", type=parse_time, help="dead-lettered before this time")
    p.add_argument("--partition", type=_non_negative, help="only this dead-letter partition")
    p.add_argument("--from-offset", type=_non_negative, help="first dead-letter offset")
    p.add_argument("--to-offset", type=_non_negative, help="last dead-letter offset (inclusive)")
    p.add_argument("--to", metavar="TOPIC", help="send here instead of each record's source topic")
    p.add_argument(
        "--max-redrives",
        type=_positive,
        default=1,
        help="skip an article already redriven this many times (default 1)",
    )
    p.add_argument(
        "--group", help="the redrive's consumer group (default: named after the selection)"
    )
    p.add_argument("--dlq-topic", help="the dead-letter topic (default NEWSCLF_DLQ_TOPIC)")
    p.add_argument("--bootstrap-servers", help="default NEWSCLF_BOOTSTRAP_SERVERS")
    p.add_argument("--dry-run", action="store_true", help="print what would be sent; send nothing")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    from consumer.settings import Settings

    args = parser().parse_args(argv)
    try:
        settings = Settings()
        selection = Selection(
            errors=frozenset(args.error),
            since_ms=args.since,
            until_ms=args.until,
            partition=args.partition,
            from_offset=args.from_offset,
            to_offset=args.to_offset,
        )
    except ValidationError as exc:
        return fail(f"settings: {exc.errors(include_url=False)[0]['msg']}", 2)
    except ValueError as exc:
        return fail(str(exc), 2)
    update = {
        k: v
        for k, v in (("dlq_topic", args.dlq_topic), ("bootstrap_servers", args.bootstrap_servers))
        if v
    }
    settings = settings.model_copy(update=update)
    logs.configure(settings.log_level, settings.log_format)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    bar = Progress(None, show, unit="dead letters")

    def on_progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    def on_plan(p: Plan) -> None:
        if args.dry_run:
            print(p.describe())

    try:
        report = run(
            settings,
            selection,
            max_redrives=args.max_redrives,
            to_topic=args.to,
            group=args.group,
            dry_run=args.dry_run,
            on_plan=on_plan,
            on_progress=on_progress,
        )
    except LookupError as exc:
        return fail(str(exc), 3)
    except KafkaError as exc:
        # NoBrokersAvailable and timeouts at start; a send not acknowledged (exit 5) later.
        code = 3 if type(exc).__name__ in {"NoBrokersAvailable", "KafkaConnectionError"} else 5
        return fail(f"redrive via {settings.bootstrap_servers}: {type(exc).__name__}: {exc}", code)
    finally:
        bar.close()
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, **report.as_dict()}))
    else:
        print(("dry run, nothing sent: " if args.dry_run else "") + report.summary())
    return 0

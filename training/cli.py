"""Command line: ``python -m training [search] [--config FILE] [flags]``.

A thin argparse layer over :func:`training.pipeline.run_training`,
:func:`training.search.run_search` and :func:`training.repeated.run_repeated` (``--repeats K``).
Flags override the config file; every bad input ends with one ``error: ...`` line on stderr and
a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from newsclf import logs
from newsclf.cli import EXIT_FAILED, EXIT_USAGE, fail, guard
from training.config import (
    DATA_FORMATS,
    LR_SCHEDULERS,
    SEARCH_STRATEGIES,
    THRESHOLD_RULES,
    TrainConfig,
)
from training.errors import TrainingError

EXIT_ERROR = EXIT_FAILED


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        raise _UsageError(message)


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def _number_or_none(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number or none, got {text!r}") from exc


def _ints(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from exc


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m training",
        description="Fine-tune a transformer news classifier and write a checkpoint directory. "
        "Use 'python -m training search ...' (or --search) for a hyperparameter search.",
    )
    S = argparse.SUPPRESS  # unset flags stay out of the namespace: the config file decides
    p.add_argument("--config", default=S, help="JSON training config; flags override it")
    d = p.add_argument_group("data")
    d.add_argument("--data", default=S, help="folder-per-label, .csv or .jsonl (default: BBC)")
    d.add_argument("--data-format", choices=DATA_FORMATS, default=S)
    d.add_argument(
        "--add-data",
        default=S,
        metavar="FILE",
        help="reviewed articles (JSONL, python -m consumer.reviewed) to train on too; "
        "deduplicated against the corpus and never in validation or test",
    )
    d.add_argument("--text-column", default=S)
    d.add_argument("--title-column", default=S)
    d.add_argument("--label-column", default=S)
    d.add_argument("--limit", type=int, default=S, help="stratified subset of N articles")
    d.add_argument("--val-fraction", type=float, default=S)
    d.add_argument("--test-fraction", type=float, default=S)
    d.add_argument("--seed", type=int, default=S)
    d.add_argument(
        "--near-duplicate-threshold",
        type=_number_or_none,
        default=S,
        metavar="COSINE",
        help="bodies at least this similar (TF-IDF cosine) stay on one side of the split "
        "(default 0.9; none: identical bodies and headlines only)",
    )
    m = p.add_argument_group("model")
    m.add_argument("--model", default=S, help="local model dir (or hub id with --allow-hub)")
    m.add_argument("--allow-hub", action=argparse.BooleanOptionalAction, default=S)
    m.add_argument("--num-hidden-layers", type=int, default=S, help="keep the first N layers")
    m.add_argument("--output", "-o", default=S, help="checkpoint directory to write")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=float, default=S)
    t.add_argument("--batch-size", type=int, default=S)
    t.add_argument("--eval-batch-size", type=int, default=S)
    t.add_argument("--learning-rate", "--lr", type=float, default=S)
    t.add_argument("--warmup-ratio", type=float, default=S)
    t.add_argument("--weight-decay", type=float, default=S)
    t.add_argument("--lr-scheduler", choices=LR_SCHEDULERS, default=S)
    t.add_argument("--gradient-accumulation", type=int, default=S)
    t.add_argument("--max-length", type=int, default=S)
    t.add_argument("--head-tokens", type=int, default=S)
    t.add_argument(
        "--train-max-length", type=int, default=S, help="shorter windows for training (cap)"
    )
    t.add_argument("--train-head-tokens", type=int, default=S)
    t.add_argument("--group-by-length", action=argparse.BooleanOptionalAction, default=S)
    t.add_argument(
        "--train-short-views",
        action=argparse.BooleanOptionalAction,
        default=S,
        help="also fine-tune on each training article's headline and headline + first sentence "
        "(default: on)",
    )
    t.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=S)
    t.add_argument("--num-threads", type=int, default=S)
    t.add_argument("--resume", action=argparse.BooleanOptionalAction, default=S)
    t.add_argument("--keep-trainer-checkpoints", action=argparse.BooleanOptionalAction, default=S)
    t.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=S)
    t.add_argument(
        "--hybrid",
        action=argparse.BooleanOptionalAction,
        default=S,
        help="fuse the transformer with a served TF-IDF branch (default: on)",
    )
    t.add_argument(
        "--long-branch-weight",
        type=_number_or_none,
        default=S,
        help="whole articles: fuse with a branch fitted on whole articles at this transformer "
        "weight (default 0.15, chosen on pooled validation; none: the all-views branch at the "
        "weight chosen on each split's validation articles)",
    )
    e = p.add_argument_group("evaluation")
    e.add_argument(
        "--review-target-accuracy",
        type=float,
        default=S,
        help="accuracy the review threshold keeps on validation (calibration.json; default 0.98)",
    )
    e.add_argument(
        "--threshold-rule",
        choices=THRESHOLD_RULES,
        default=S,
        help="how the review threshold meets the target: counted from the validation labels "
        "(empirical, default) or expected from the calibrated confidences",
    )
    e.add_argument(
        "--review-min-confidence",
        type=float,
        default=S,
        help="the threshold is never below this calibrated confidence (default 0.9)",
    )
    e.add_argument(
        "--max-review-share",
        type=float,
        default=S,
        help="the threshold sends at most this share of validation articles to review "
        "(default 0.2)",
    )
    e.add_argument(
        "--repeats",
        type=int,
        default=S,
        metavar="K",
        help="K > 1: train and compare with the baseline on K stratified splits (seeds seed.."
        "seed+K-1); writes repeated_splits.json/.md into --output, no checkpoint; with "
        "--resume, continues the splits already there",
    )
    s = p.add_argument_group("search")
    s.add_argument("--search", action=argparse.BooleanOptionalAction, default=S)
    s.add_argument("--search-strategy", choices=SEARCH_STRATEGIES, default=S)
    s.add_argument("--search-learning-rates", type=_floats, default=S, metavar="LR,LR,...")
    s.add_argument("--search-batch-sizes", type=_ints, default=S, metavar="N,N,...")
    s.add_argument("--search-epochs", type=_floats, default=S, metavar="E,E,...")
    s.add_argument("--search-max-trials", type=int, default=S)
    s.add_argument("--target-f1", type=float, default=S, help="stop once validation F1 >= this")
    o = p.add_argument_group("output")
    o.add_argument("--quiet", "-q", action="store_true", help="warnings and the result only")
    o.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: on a terminal; otherwise a log line every 30 s with "
        "step, epoch and ETA, and the validation score after each epoch)",
    )
    return p


def config_from_args(args: argparse.Namespace, *, search: bool = False) -> TrainConfig:
    """The config file (if any) with every given flag applied on top."""
    given: dict[str, Any] = {
        k: v for k, v in vars(args).items() if k not in {"config", "quiet", "progress"}
    }
    base = TrainConfig.load(args.config) if "config" in args else TrainConfig()
    if search:
        given["search"] = True
    return base.replace(**given) if given else base


def _summary(report: dict[str, Any], output: str) -> str:
    line = (
        f"test accuracy {100 * report['accuracy']:.2f}%, macro-F1 {100 * report['macro_f1']:.2f}%"
    )
    baseline = report.get("baseline")
    if baseline:
        line += (
            f" (TF-IDF baseline {100 * baseline['accuracy']:.2f}% / "
            f"{100 * baseline['macro_f1']:.2f}%)"
        )
    return f"{line}; trained in {report['train_seconds']:.0f} s; checkpoint: {output}"


def _quiet_libraries() -> None:
    """--quiet: keep transformers' expected notices (fresh classifier head, checkpoint file
    ordering) off stderr; our own warnings still show."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning, module=r"transformers\.")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    search = bool(argv) and argv[0] == "search"
    if search:
        argv = argv[1:]
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        return fail(str(exc), EXIT_USAGE)
    logs.configure("WARNING" if args.quiet else "INFO", "text")
    if args.quiet:
        _quiet_libraries()
    if args.progress is None:
        args.progress = sys.stderr.isatty()
    return guard(lambda: _run(args, search), known=(TrainingError, OSError), known_code=EXIT_ERROR)


def _run(args: argparse.Namespace, search: bool) -> int:
    """The command itself; its errors are :func:`newsclf.cli.guard`'s to report."""
    config = config_from_args(args, search=search)
    if config.search:
        from training.search import run_search

        found = run_search(config, progress=args.progress)
        print(
            f"search: {len(found.trials)} trial(s), best #{found.best.trial} "
            f"(lr {found.best.learning_rate:g}, batch {found.best.batch_size}, "
            f"epochs {found.best.epochs:g}, val macro-F1 "
            f"{100 * found.best.val_macro_f1:.2f}%)"
        )
        line = _summary(found.report, str(found.output_dir))
    elif config.repeats > 1:
        from training.repeated import REPEATED_MD, run_repeated

        repeated = run_repeated(config, progress=args.progress)
        line = (
            f"{repeated.verdict}; {len(repeated.rows)} splits in "
            f"{repeated.report['total_seconds']:.0f} s; "
            f"report: {repeated.output_dir / REPEATED_MD}"
        )
    else:
        from training.pipeline import run_training

        result = run_training(config, progress=args.progress)
        line = _summary(result.report, str(result.output_dir))
    print(line)
    return 0

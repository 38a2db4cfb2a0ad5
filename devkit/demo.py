"""``make demo``: the whole product in one command, on embedded defaults.

1. a broker: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else the embedded Tansu broker;
2. a model: reuse ``artifacts/checkpoint`` or fine-tune one on the BBC corpus;
3. export it to ONNX (int8) with the parity gate, or reuse the last export;
4. start the consumer service (metrics on http://127.0.0.1:8000/metrics);
5. stream the held-out BBC articles (never seen in training), four articles in other
   languages and a few malformed records;
6. print the classified stream live (labelled, or sent to review with the reason), then
   accuracy, coverage, latency and the dead letters.

Ctrl+C stops everything cleanly and leaves nothing running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devkit.samples import FOREIGN_ARTICLES
from newsclf import logs

# Articles in German, Spanish, Italian and Turkish: the default model reads English only, so
# these go to the review topic (reason unsupported_language).
FOREIGN = [{k: v for k, v in a.items() if k != "language"} for a in FOREIGN_ARTICLES]

MALFORMED = [
    b"\xff\xfe this is not UTF-8",
    b'{"id": "broken", "text": ',
    b'{"title": "an article without an id", "text": "..."}',
    b'{"id": "empty", "text": "   "}',
]


def _run(cmd: list[str]) -> None:
    print(f"$ {' '.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)


def ensure_model(checkpoint: Path, model_dir: Path, train_args: list[str], variant: str) -> None:
    py = sys.executable
    if (checkpoint / "eval_report.json").is_file():
        print(f"reusing the trained checkpoint in {checkpoint} (delete it to retrain)")
    else:
        _run([py, "-m", "training", "--output", str(checkpoint), *train_args])
    manifest = model_dir / "manifest.json"
    if (
        manifest.is_file()
        and manifest.stat().st_mtime > (checkpoint / "eval_report.json").stat().st_mtime
    ):
        print(f"reusing the exported model in {model_dir}")
    else:
        _run([py, "-m", "export", str(checkpoint), str(model_dir), "--variant", variant])


def heldout_articles(checkpoint: Path, limit: int) -> list[dict[str, Any]]:
    """The checkpoint's test split: articles the model never saw, with their true labels."""
    articles = []
    with (checkpoint / "heldout.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            row = json.loads(line)
            articles.append({"id": f"heldout-{i:04d}", "text": row["text"], "label": row["label"]})
    return articles[:limit] if limit else articles


@contextlib.contextmanager
def broker() -> Iterator[str]:
    given = os.environ.get("NEWSCLF_BOOTSTRAP_SERVERS") or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if given:
        print(f"using the Kafka cluster at {given}")
        yield given
        return
    from devkit.broker import EmbeddedBroker

    with EmbeddedBroker() as embedded:
        print(f"started the embedded broker (Tansu) at {embedded.bootstrap}")
        yield embedded.bootstrap


def _quantile(histogram: Any, q: float) -> float:
    """Upper bound of the bucket holding the q-quantile of a prometheus_client Histogram."""
    buckets = [s for s in histogram.collect()[0].samples if s.name.endswith("_bucket")]
    total = buckets[-1].value if buckets else 0
    for sample in buckets:
        if total and sample.value >= q * total:
            return float(sample.labels["le"])
    return float("nan")


def watch(
    bootstrap: str,
    topics: list[str],
    truth: dict[str, str],
    snippets: dict[str, str],
    expected: int,
    stop: threading.Event,
) -> dict[str, Any]:
    """Print every labelled article and every review record until ``expected`` arrived."""
    from kafka import KafkaConsumer

    reader = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    seen: dict[str, Any] = {"total": 0, "labelled": 0, "correct": 0, "review": {}}
    print(f"\n{'id':14s} {'label':14s} {'score':>6s}  ok  article")
    try:
        while seen["total"] < expected and not stop.is_set():
            for records in reader.poll(timeout_ms=500).values():
                for r in records:
                    out = json.loads(r.value)
                    seen["total"] += 1
                    title = (out.get("title") or snippets.get(out["id"], ""))[:60]
                    reason = out.get("reason")
                    if reason:
                        reasons = seen["review"]
                        reasons[reason] = reasons.get(reason, 0) + 1
                        mark = f"-> review: {reason} ({out.get('language') or '?'})"
                        print(f"{out['id']:14s} {out['label']:14s} {out['score']:6.3f}  {mark}")
                        continue
                    ok = truth.get(out["id"]) == out["label"]
                    seen["labelled"] += 1
                    seen["correct"] += ok
                    mark = "✓" if ok else "✗"
                    print(
                        f"{out['id']:14s} {out['label']:14s} {out['score']:6.3f}  {mark}   {title}"
                    )
    finally:
        reader.close()
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--count", type=int, default=0, help="held-out articles to stream (0: all)")
    parser.add_argument("--rate", type=float, default=5.0, help="articles per second")
    parser.add_argument("--variant", default="int8", choices=["fp32", "optimized", "int8", "fp16"])
    parser.add_argument("--metrics-port", type=int, default=8000)
    parser.add_argument(
        "--train-args",
        default="--config configs/demo.json",
        help="extra arguments for python -m training when no checkpoint exists",
    )
    parser.add_argument("--serve", action="store_true", help="keep serving after the stream ends")
    args = parser.parse_args(argv)
    logs.configure("WARNING", "text")
    # kafka-python logs every refused connection while the embedded broker starts: noise here
    logging.getLogger("kafka").setLevel(logging.CRITICAL)

    checkpoint, model_dir = args.artifacts / "checkpoint", args.artifacts / "model"
    try:
        ensure_model(checkpoint, model_dir, args.train_args.split(), args.variant)
    except subprocess.CalledProcessError as exc:
        print(f"error: step failed ({exc.returncode}): {' '.join(exc.cmd)}", file=sys.stderr)
        return 1
    articles = heldout_articles(checkpoint, args.count)
    truth = {a["id"]: a["label"] for a in articles}
    snippets = {a["id"]: a["text"] for a in articles}

    from consumer.kafka_io import ensure_topics
    from consumer.produce import produce
    from consumer.service import Service
    from consumer.settings import Settings

    stop = threading.Event()
    with broker() as bootstrap:
        settings = Settings(
            bootstrap_servers=bootstrap,
            model_dir=model_dir,
            group_id="newsclf-demo",
            metrics_port=args.metrics_port,
            log_format="text",
            log_level="WARNING",
            session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        )
        ensure_topics(
            settings,
            [
                settings.input_topic,
                settings.output_topic,
                settings.review_topic,
                settings.dlq_topic,
            ],
            3,
        )
        service = Service(settings)
        assert service.http is not None
        info = service.model.info
        print(
            f"serving {info.version} ({info.variant}) on {info.provider}; "
            f"metrics: http://{settings.metrics_host}:{service.http.port}/metrics"
        )
        runner = threading.Thread(target=service.run, name="service", daemon=True)
        runner.start()
        feeder = threading.Thread(
            target=lambda: produce(
                [*articles, *FOREIGN, *MALFORMED],
                bootstrap_servers=bootstrap,
                topic=settings.input_topic,
                rate=args.rate,
            ),
            name="producer",
            daemon=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not service.health.ready and time.monotonic() < deadline:
                time.sleep(0.1)  # joined the group: partitions assigned
            started = time.monotonic()
            feeder.start()
            seen = watch(
                bootstrap,
                [settings.output_topic, settings.review_topic],
                truth,
                snippets,
                len(articles) + len(FOREIGN),
                stop,
            )
            elapsed = time.monotonic() - started
            m = service.metrics
            dead = m.messages.labels(outcome="dead_lettered")
            deadline = time.monotonic() + 10
            while dead._value.get() < len(MALFORMED) and time.monotonic() < deadline:
                time.sleep(0.2)  # the malformed records were sent last
            reviewed = seen["total"] - seen["labelled"]
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(seen["review"].items()))
            print(
                f"\nclassified {len(articles)} held-out articles and {len(FOREIGN)} in other "
                f"languages in {elapsed:.1f} s: {seen['labelled']} labelled on "
                f"{settings.output_topic}, accuracy "
                f"{seen['correct'] / max(seen['labelled'], 1):.1%} against the BBC labels; "
                f"{reviewed} sent to {settings.review_topic} ({reasons or 'none'})"
            )
            print(
                f"end-to-end latency p50 <= {1000 * _quantile(m.end_to_end, 0.5):.0f} ms, "
                f"p95 <= {1000 * _quantile(m.end_to_end, 0.95):.0f} ms; "
                f"{int(dead._value.get())} malformed records sent to {settings.dlq_topic}"
            )
            if args.serve:
                print("serving; Ctrl+C to stop")
                while runner.is_alive():
                    runner.join(1)
        except KeyboardInterrupt:
            print("\nstopping…")
        finally:
            stop.set()
            service.stop()
            runner.join(30)
    print("stopped; nothing left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())

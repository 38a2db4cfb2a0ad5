"""The serving path under a backlog: how much time per article goes anywhere but the model.

``python -m benchmarks.bench_serving [--n 20000] [--model-dir DIR] [--bootstrap HOST:PORT]``

A backlog of ``n`` real BBC articles (the corpus repeated under fresh ids) waits in the input
topic; the real service (in this process, so ONNX Runtime's forward calls can be timed) reads it
flat out. Measured side by side in one run:

* **model only**: the same texts through the service's own tokenize + plan + predict, no Kafka;
* **end to end**: from the moment the service holds its partitions to the moment every
  article's offset is committed;
* **forward**: the seconds spent inside ONNX Runtime's ``run`` during the end-to-end run.

Overhead per article = (end to end - forward) / n: decoding, tokenizing, feeds, Kafka, the loop.
Each stage's share comes from the service's own stage timers. Default model: the 1-layer,
64-token test model (built and cached like the tests' fixture).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from benchmarks.common import table
from newsclf.corpus import iter_bbc
from newsclf.textprep import compose


def backlog(n: int) -> Iterator[dict[str, Any]]:
    """``n`` BBC articles, the corpus repeated under fresh ids (generated, not held)."""
    corpus = list(iter_bbc())
    for i, a in zip(range(n), itertools.cycle(corpus), strict=False):
        yield {"id": f"bench-{i}", "title": a["title"], "text": a["text"], "source": "bbc"}


def tiny_model_dir() -> Path:
    """The tests' 1-layer, 64-token model, built (trained and exported, with torch) in a child
    process on the first run and cached, so this process holds only what serving holds."""
    code = (
        "from tests.fixtures.checkpoints import build_tiny_checkpoint;"
        "from tests.fixtures.models import build_tiny_model_dir;"
        "print(build_tiny_model_dir(build_tiny_checkpoint(), 'fp32'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return Path(out.stdout.strip().splitlines()[-1])


class TimedSession:
    """Wraps an ONNX Runtime session, adding up the seconds spent in its forward calls."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.seconds = 0.0
        self.calls = 0

    def _timed(self, method: str, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return getattr(self._session, method)(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t
            self.calls += 1

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("run", *args, **kwargs)

    def run_with_iobinding(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed("run_with_iobinding", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def produce_backlog(bootstrap: str, topic: str, items: Iterable[dict[str, Any]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        batch_size=512 * 1024,
        acks=1,
        max_request_size=4 * 1024 * 1024,
    )
    for a in items:
        producer.send(topic, key=a["id"].encode(), value=json.dumps(a).encode())
    producer.flush(120)
    producer.close()


def model_only(model: Any, texts: list[str], rows: int, tokens: int) -> tuple[float, float]:
    """Seconds for tokenize + plan + predict over ``texts`` in batches of ``rows``; and the
    forward seconds within it."""
    from consumer.batching import plan_batches

    timed = TimedSession(model._session)
    model._session = timed
    started = time.perf_counter()
    for i in range(0, len(texts), rows):
        chunk = texts[i : i + rows]
        ids = model.tokenize(chunk)
        for call in plan_batches([len(x) for x in ids], rows, tokens):
            model.predict([ids[j] for j in call], [chunk[j] for j in call])
    elapsed = time.perf_counter() - started
    model._session = timed._session
    return elapsed, timed.seconds


def counted(service: Any) -> float:
    m = service.metrics.messages
    outcomes = ("classified", "reviewed", "dead_lettered")  # an older service lacks "reviewed"
    return sum(m.labels(outcome=o)._value.get() for o in outcomes)


def serve(
    bootstrap: str, model_dir: Path, n: int, partitions: int, extra: dict[str, Any]
) -> dict[str, Any]:
    from kafka.admin import KafkaAdminClient, NewTopic

    from consumer.service import Service
    from consumer.settings import Settings

    stamp = time.time_ns()
    outputs = ("output_topic", "dlq_topic", "review_topic")
    topics = {k: f"bench.{k}.{stamp}" for k in ("input_topic", *outputs)}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        [NewTopic(topics["input_topic"], partitions, 1)]
        + [NewTopic(topics[k], 1, 1) for k in outputs]
    )
    admin.close()
    produce_backlog(bootstrap, topics["input_topic"], backlog(n))
    settings = Settings(
        bootstrap_servers=bootstrap,
        model_dir=model_dir,
        group_id=f"bench-{stamp}",
        metrics_port=0,
        log_level="WARNING",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        **topics,
        **extra,
    )
    service = Service(settings)
    gpu = GpuBusy().start()
    timed = TimedSession(service.model._session)
    service.model._session = timed
    runner = threading.Thread(target=service.run, daemon=True)
    runner.start()
    while not service.health.ready:
        time.sleep(0.005)
    joined = time.perf_counter()
    forward_at_join = timed.seconds
    timer = getattr(service.metrics, "timer", None)
    stages_at_join = dict(timer.totals) if timer is not None else {}
    rss_at: dict[int, float] = {}
    marks = sorted({n // 10, n})
    while counted(service) < n:
        done = counted(service)
        for mark in marks:
            if mark not in rss_at and done >= mark:
                rss_at[mark] = rss_mib()
        time.sleep(0.005)
        if not runner.is_alive():
            raise RuntimeError("the service stopped early")
    elapsed = time.perf_counter() - joined
    busy = gpu.mean(joined, joined + elapsed)
    gpu.stop()
    rss_at[n] = rss_mib()
    forward = timed.seconds - forward_at_join
    stages = (
        {k: v - stages_at_join.get(k, 0.0) for k, v in timer.totals.items()}
        if timer is not None
        else {}
    )
    service.stop()
    runner.join(60)
    texts = [compose(a["title"], a["text"]) for a in backlog(min(n, 5000))]
    rows = getattr(settings, "infer_max_rows", None) or settings.batch_max_size
    tokens = getattr(settings, "infer_max_tokens", None) or settings.batch_max_tokens
    only_s, only_forward = model_only(service.model, texts, rows, tokens)
    return {
        "n": n,
        "e2e_s": elapsed,
        "forward_s": forward,
        "model_only_per_article_s": only_s / len(texts),
        "model_only_forward_per_article_s": only_forward / len(texts),
        "stages": stages,
        "rss_mib": rss_at,
        "gpu_busy_pct": busy,
        "provider": service.model.info.provider,
    }


class GpuBusy:
    """Samples ``nvidia-smi``'s utilization.gpu every 200 ms (nothing without a GPU)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> GpuBusy:
        if shutil.which("nvidia-smi") is None:
            return self
        self._proc = subprocess.Popen(
            [
                "nvidia-smi",
                "--query-gpu=utilization.gpu",
                "--format=csv,noheader,nounits",
                "-lms",
                "200",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self.samples.append((time.perf_counter(), float(line.split(",")[0])))
            except ValueError:
                continue

    def mean(self, start: float, end: float) -> float | None:
        window = [u for t, u in self.samples if start <= t <= end]
        return sum(window) / len(window) if window else None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()


def serve_pod(
    bootstrap: str, model_dir: Path, n: int, partitions: int, workers: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """``python -m consumer`` with ``NEWSCLF_WORKERS=workers`` as its own process (a pod):
    articles/s from the moment every worker is ready to the last committed offset."""
    import urllib.request

    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import TopicPartition

    stamp = time.time_ns()
    topics = {k: f"bench.{k}.{stamp}" for k in ("input_topic", "output_topic", "dlq_topic")}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        [NewTopic(topics["input_topic"], partitions, 1)]
        + [NewTopic(topics[k], 1, 1) for k in ("output_topic", "dlq_topic")]
    )
    produce_backlog(bootstrap, topics["input_topic"], backlog(n))
    group = f"bench-pod-{stamp}"
    port = 18000 + stamp % 1000
    env = {
        **os.environ,
        "NEWSCLF_BOOTSTRAP_SERVERS": bootstrap,
        "NEWSCLF_MODEL_DIR": str(model_dir),
        "NEWSCLF_GROUP_ID": group,
        "NEWSCLF_WORKERS": str(workers),
        "NEWSCLF_METRICS_PORT": str(port),
        "NEWSCLF_SESSION_TIMEOUT_MS": "6000",
        "NEWSCLF_HEARTBEAT_INTERVAL_MS": "500",
        "NEWSCLF_LOG_LEVEL": "WARNING",
        **{f"NEWSCLF_{k.upper()}": v for k, v in topics.items()},
        **{f"NEWSCLF_{k.upper()}": str(v) for k, v in extra.items()},
    }
    gpu = GpuBusy().start()
    pod = subprocess.Popen([sys.executable, "-m", "consumer"], env=env)
    tps = [TopicPartition(topics["input_topic"], p) for p in range(partitions)]

    def committed() -> int:
        try:
            got = admin.list_group_offsets({group: tps}).get(group, {})
        except Exception:  # noqa: BLE001 - the group may not exist yet
            return 0
        return sum(max(m.offset, 0) for m in got.values() if m is not None)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        while not ready():
            if pod.poll() is not None:
                raise RuntimeError(f"the pod exited with {pod.returncode}")
            time.sleep(0.05)
        started = time.perf_counter()
        while committed() < n:
            if pod.poll() is not None:
                raise RuntimeError(f"the pod exited with {pod.returncode}")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        busy = gpu.mean(started, started + elapsed)
    finally:
        pod.terminate()
        pod.wait(120)
        gpu.stop()
        admin.close()
    return {"n": n, "workers": workers, "e2e_s": elapsed, "gpu_busy_pct": busy}


def rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(r: dict[str, Any], label: str) -> None:
    n = r["n"]
    e2e_pa = r["e2e_s"] / n
    overhead = (r["e2e_s"] - r["forward_s"]) / n
    rows = [
        ["end to end", f"{n / r['e2e_s']:.0f}", f"{e2e_pa * 1000:.3f}"],
        ["  of which ONNX forward", "", f"{r['forward_s'] / n * 1000:.3f}"],
        ["  serving overhead (e2e - forward)", "", f"{overhead * 1000:.3f}"],
        [
            "model only (tokenize + feeds + forward)",
            f"{1 / r['model_only_per_article_s']:.0f}",
            f"{r['model_only_per_article_s'] * 1000:.3f}",
        ],
    ]
    table(f"Serving {n} articles ({label})", ["what", "articles/s", "ms per article"], rows)
    ratio = (1 / e2e_pa) / (1 / r["model_only_per_article_s"])
    print(f"\nend to end / model only: **{ratio:.2f}x**")
    if r.get("gpu_busy_pct") is not None:
        print(f"GPU busy during end to end: {r['gpu_busy_pct']:.0f} %")
    if r["stages"]:
        srows = [
            [stage, f"{secs:.2f}", f"{secs / r['e2e_s'] * 100:.0f} %", f"{secs / n * 1e6:.0f}"]
            for stage, secs in sorted(r["stages"].items(), key=lambda kv: -kv[1])
        ]
        table(
            "Stage seconds (three threads overlap: shares may add past 100 %)",
            ["stage", "seconds", "share of e2e", "µs per article"],
            srows,
        )
    print("\nRSS MiB at " + ", ".join(f"{k}: {v:.0f}" for k, v in sorted(r["rss_mib"].items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_serving")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the test model")
    parser.add_argument("--bootstrap", default=None, help="default: an embedded broker")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a service setting, e.g. --set batch_max_records=128",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also run python -m consumer with NEWSCLF_WORKERS=N (a pod) on the same backlog size",
    )
    args = parser.parse_args(argv)
    from newsclf import logs

    logs.configure("WARNING", "text")
    extra: dict[str, Any] = {}
    for item in args.set:
        name, _, value = item.partition("=")
        extra[name] = value
    extra.setdefault("execution_provider", "cpu")
    model_dir = args.model_dir or tiny_model_dir()
    print(
        f"# serving benchmark\n\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; model: {model_dir.name}; settings: {extra}"
    )
    from devkit.broker import EmbeddedBroker

    with nullcontext(None) if args.bootstrap else EmbeddedBroker() as broker:
        bootstrap = args.bootstrap or broker.bootstrap
        result = serve(bootstrap, model_dir, args.n, args.partitions, extra)
        pod = (
            serve_pod(bootstrap, model_dir, args.n, args.partitions, args.workers, extra)
            if args.workers
            else None
        )
    report(result, "given broker" if args.bootstrap else "embedded broker")
    if pod is not None:
        one = args.n / result["e2e_s"]
        rate = pod["n"] / pod["e2e_s"]
        busy = (
            "n/a (no nvidia-smi)" if pod["gpu_busy_pct"] is None else f"{pod['gpu_busy_pct']:.0f} %"
        )
        table(
            f"One pod, NEWSCLF_WORKERS={pod['workers']} (python -m consumer)",
            ["what", "articles/s", "vs one process", "vs model only", "GPU busy"],
            [
                [
                    f"{pod['workers']} workers",
                    f"{rate:.0f}",
                    f"{rate / one:.2f}x",
                    f"{rate * result['model_only_per_article_s']:.2f}x",
                    busy,
                ]
            ],
        )
        result["pod"] = pod
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

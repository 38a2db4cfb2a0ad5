"""Run a built serving image against a real broker and check that it classifies real articles.

    .venv/bin/python scripts/image/smoke.py --image localhost/news-classifier:0.1.0-cpu \
        --articles .cache/test-models/checkpoint-.../heldout.jsonl

What it does, all on loopback (the container shares the host's network namespace, so it reaches
the broker on 127.0.0.1 and serves /metrics on a loopback port):

1. starts the embedded broker (Tansu, ``devkit.broker``) unless ``--bootstrap`` names one, and
   creates the input topic (2 partitions), the output topic and the dead-letter topic;
2. checks the image's exit-code contract on a bad model directory (exit 2) before anything else;
3. produces the held-out articles (real BBC News text the model never saw) plus malformed records;
4. runs the image as it runs in Kubernetes: ``--read-only`` root filesystem, uid 10001, all
   capabilities dropped, ``no-new-privileges``, a small tmpfs on /tmp and nothing else writable;
5. waits for /readyz, reads every classified record, checks accuracy against the BBC labels, the
   dead letters, /healthz, /metrics, the image's own HEALTHCHECK command, that the user is
   10001 and that the root filesystem refuses writes;
6. stops the container with SIGTERM and checks that it exits 0 within the grace period.

Prints one line per check and a summary; exit status 0 only when every check passed.
Podman settings come from scripts/image/containers.conf (runc, ulimits inside the VM's limits).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from devkit.broker import EmbeddedBroker, free_port  # noqa: E402
from devkit.samples import FOREIGN_ARTICLES  # noqa: E402

# One article the model cannot read: the image's language detector must send it to review.
FOREIGN = {k: v for k, v in FOREIGN_ARTICLES[0].items() if k != "language"}

PODMAN_ENV = {**os.environ}
PODMAN_ENV.setdefault("CONTAINERS_CONF", str(REPO / "scripts/image/containers.conf"))

HARDENED = [
    "--read-only",
    "--read-only-tmpfs=false",
    "--user",
    "10001:10001",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--tmpfs",
    "/tmp:rw,noexec,nosuid,size=64m",
    "--network",
    "host",
    "--no-healthcheck",  # no systemd here for podman's timers; the check is run by hand below
]


class Checks:
    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, ok, detail))
        print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)  # noqa: T201 (a command-line tool's output)
        return ok

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(ok for _, ok, _ in self.results)


def podman(
    *args: str, check: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env=PODMAN_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def http_get(url: str, timeout: float = 3.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, str(exc)


def load_articles(path: Path, limit: int) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    articles = []
    for i, row in enumerate(rows[:limit]):
        text = row["text"]
        title = row.get("title") or text.split(". ")[0][:120]
        articles.append(
            {"id": f"smoke-{i:04d}", "title": title, "text": text, "label": row["label"]}
        )
    return articles


MALFORMED = [b"not json at all", b'{"id": "no-text"}', b"\xff\xfe broken utf-8", b"[1, 2, 3]"]


def create_topics(bootstrap: str, names: dict[str, int]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="image-smoke")
    try:
        admin.create_topics(
            [NewTopic(n, num_partitions=p, replication_factor=1) for n, p in names.items()],
            timeout_ms=30_000,
        )
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, articles: list[dict[str, Any]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="image-smoke")
    try:
        for a in articles:
            value = {k: a[k] for k in ("id", "title", "text")}
            producer.send(topic, key=a["id"].encode(), value=json.dumps(value).encode())
        for raw in MALFORMED:
            producer.send(topic, key=b"bad", value=raw)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def read_topic(
    bootstrap: str, topics: list[str], want: int, deadline: float, alive: Any = lambda: True
) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="image-smoke-reader",
    )
    out: list[dict[str, Any]] = []
    try:
        while len(out) < want and time.monotonic() < deadline and alive():
            for records in consumer.poll(timeout_ms=1000).values():
                out.extend(json.loads(r.value) for r in records)
    finally:
        consumer.close()
    return out


def run(args: argparse.Namespace) -> int:
    checks = Checks()
    started = time.monotonic()
    articles = load_articles(args.articles, args.count)
    suffix = uuid.uuid4().hex[:8]
    topics = {
        "input": f"smoke.articles.{suffix}",
        "output": f"smoke.classified.{suffix}",
        "dlq": f"smoke.dlq.{suffix}",
        "review": f"smoke.review.{suffix}",
    }
    print(f"image {args.image}; {len(articles)} held-out articles + {len(MALFORMED)} malformed")  # noqa: T201 (a command-line tool's output)

    # Exit-code contract: a bad model directory is exit 2, before Kafka is touched.
    bad = podman("run", "--rm", *HARDENED, "-e", "NEWSCLF_MODEL_DIR=/nonexistent", args.image)
    checks.check("bad model directory exits 2", bad.returncode == 2, bad.stderr.strip()[-160:])

    broker = None
    bootstrap = args.bootstrap
    if not bootstrap:
        broker = EmbeddedBroker().start()
        bootstrap = broker.bootstrap
    name = f"newsclf-smoke-{suffix}"
    metrics_port = free_port()
    try:
        create_topics(
            bootstrap,
            {topics["input"]: 2, topics["output"]: 1, topics["dlq"]: 1, topics["review"]: 1},
        )
        produce(bootstrap, topics["input"], [*articles, FOREIGN])
        env = {
            "NEWSCLF_BOOTSTRAP_SERVERS": bootstrap,
            "NEWSCLF_INPUT_TOPIC": topics["input"],
            "NEWSCLF_OUTPUT_TOPIC": topics["output"],
            "NEWSCLF_DLQ_TOPIC": topics["dlq"],
            "NEWSCLF_REVIEW_TOPIC": topics["review"],
            "NEWSCLF_GROUP_ID": f"smoke-{suffix}",
            "NEWSCLF_CLIENT_ID": name,
            "NEWSCLF_METRICS_HOST": "127.0.0.1",
            "NEWSCLF_METRICS_PORT": str(metrics_port),
            # Tansu forms a group in ~3 s with these (23 s with the defaults): docs/brokers.md.
            "NEWSCLF_SESSION_TIMEOUT_MS": "6000",
            "NEWSCLF_HEARTBEAT_INTERVAL_MS": "500",
            "NEWSCLF_INTRA_OP_THREADS": "2",
            "NEWSCLF_EXECUTION_PROVIDER": args.provider,
        }
        env_args = [x for k, v in env.items() for x in ("-e", f"{k}={v}")]
        t0 = time.monotonic()
        run_ = podman("run", "-d", "--name", name, *HARDENED, *env_args, args.image)
        if not checks.check("container starts", run_.returncode == 0, run_.stderr.strip()[-300:]):
            return 1

        base = f"http://127.0.0.1:{metrics_port}"
        ready_at = None
        while time.monotonic() - t0 < args.ready_timeout:
            if http_get(f"{base}/readyz")[0] == 200:
                ready_at = time.monotonic() - t0
                break
            state = podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            if state != "true":
                break
            time.sleep(0.5)
        checks.check(
            "/readyz answers 200",
            ready_at is not None,
            f"after {ready_at:.1f} s" if ready_at is not None else "never",
        )

        def running() -> bool:
            return podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true"

        deadline = time.monotonic() + args.timeout
        both = [topics["output"], topics["review"]]
        results = read_topic(bootstrap, both, len(articles) + 1, deadline, running)
        dead = read_topic(bootstrap, [topics["dlq"]], len(MALFORMED), time.monotonic() + 20)
        took = time.monotonic() - t0
        by_id = {r["id"]: r for r in results}
        foreign = by_id.pop(FOREIGN["id"], {})
        reviewed = sum(1 for r in by_id.values() if r.get("reason"))
        correct = sum(1 for a in articles if by_id.get(a["id"], {}).get("label") == a["label"])
        checks.check(
            "every article labelled or sent to review",
            set(by_id) == {a["id"] for a in articles},
            f"{len(by_id)}/{len(articles)} ({reviewed} to review) in {took:.1f} s "
            "from container start",
        )
        checks.check(
            "an article in another language goes to review",
            foreign.get("reason") == "unsupported_language",
            f"reason={foreign.get('reason')}, language={foreign.get('language')}",
        )
        accuracy = correct / len(articles)
        checks.check(
            f"accuracy >= {args.min_accuracy:.0%} against the BBC labels",
            accuracy >= args.min_accuracy,
            f"{accuracy:.1%} ({correct}/{len(articles)})",
        )
        versions = {r.get("model_version") for r in results}
        checks.check(
            "outputs name the model version",
            bool(results) and None not in versions,
            str(sorted(v for v in versions if v)),
        )
        checks.check(
            "malformed records dead-lettered",
            len(dead) == len(MALFORMED),
            ", ".join(sorted(d.get("error", "?") for d in dead)),
        )

        status, _ = http_get(f"{base}/healthz")
        checks.check("/healthz answers 200", status == 200)
        status, metrics = http_get(f"{base}/metrics")
        counted = [
            float(v)
            for v in re.findall(
                r'newsclf_messages_total\{outcome="(?:classified|reviewed)"\} ([0-9.e+]+)', metrics
            )
        ]
        checks.check(
            "/metrics counts the classified articles",
            status == 200 and sum(counted) >= len(articles) + 1,
            f"newsclf_messages_total{{outcome=classified|reviewed}} = {sum(counted):g}",
        )
        provider = re.search(r'newsclf_model_info\{[^}]*provider="([^"]+)"', metrics)
        checks.check(
            "newsclf_model_info exported",
            provider is not None,
            f"provider={provider.group(1) if provider else '?'}",
        )

        hc = podman("healthcheck", "run", name)
        if "--no-healthcheck" in HARDENED or hc.returncode != 0:
            # the image's HEALTHCHECK command, run in the container exactly as declared
            cmd = (
                json.loads(
                    podman(
                        "image", "inspect", "-f", "{{json .HealthCheck.Test}}", args.image
                    ).stdout
                    or "null"
                )
                or []
            )
            cmd = [c for c in cmd if c not in ("CMD", "CMD-SHELL")]
            hc = podman("exec", name, *cmd) if cmd else hc
        checks.check(
            "the image's HEALTHCHECK command passes",
            hc.returncode == 0,
            (hc.stdout + hc.stderr).strip()[-160:],
        )

        who = podman(
            "exec",
            name,
            "python",
            "-c",
            "import os; print(os.getuid(), os.getgid(), os.getgroups())",
        )
        checks.check(
            "runs as uid/gid 10001", who.stdout.startswith("10001 10001"), who.stdout.strip()
        )
        probe = (
            "import os\n"
            "bad=[]\n"
            "for p in ('/app/x', '/model/x', '/opt/venv/x', '/x', '/etc/x', '/var/tmp/x'):\n"
            "    try:\n"
            "        open(p, 'w').close(); bad.append(p)\n"
            "    except OSError:\n"
            "        pass\n"
            "open('/tmp/ok', 'w').close()\n"
            "print('writable:', bad)\n"
        )
        ro = podman("exec", name, "python", "-c", probe)
        checks.check(
            "root filesystem refuses writes (only /tmp is writable)",
            ro.returncode == 0 and "writable: []" in ro.stdout,
            (ro.stdout + ro.stderr).strip()[-160:],
        )
        serving = podman(
            "exec",
            name,
            "python",
            "-c",
            "import importlib.util as u; print(sorted(m for m in ('torch','transformers',"
            "'training','export','devkit','optimum','pip') if u.find_spec(m)))",
        )
        checks.check(
            "only the serving packages are importable",
            serving.stdout.strip() == "[]",
            serving.stdout.strip() or serving.stderr[-160:],
        )

        t_stop = time.monotonic()
        podman("stop", "-t", str(args.grace), name, timeout=args.grace + 30)
        code = podman("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        checks.check(
            "SIGTERM stops it cleanly (exit 0)",
            code == "0",
            f"exit {code} after {time.monotonic() - t_stop:.1f} s",
        )
    finally:
        logs = podman("logs", name)
        log_path = args.log_dir / f"{name}.log"
        args.log_dir.mkdir(parents=True, exist_ok=True)
        log_path.write_text(logs.stdout + logs.stderr)
        podman("rm", "-f", name)
        if broker is not None:
            broker.stop()
    failed = [n for n, ok, _ in checks.results if not ok]
    print(  # noqa: T201 (a command-line tool's output)
        f"image smoke: {len(checks.results) - len(failed)} passed, {len(failed)} failed "
        f"in {time.monotonic() - started:.1f} s (container log: {log_path})"
    )
    return 0 if checks.passed else 1


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--image", required=True)
    p.add_argument("--articles", type=Path, required=True, help="JSONL with text and label")
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--min-accuracy", type=float, default=0.8)
    p.add_argument("--bootstrap", help="use this broker instead of starting the embedded one")
    p.add_argument("--provider", default="cpu", help="NEWSCLF_EXECUTION_PROVIDER for the run")
    p.add_argument("--timeout", type=float, default=180.0)
    p.add_argument("--ready-timeout", type=float, default=120.0)
    p.add_argument("--grace", type=int, default=30)
    p.add_argument("--log-dir", type=Path, default=REPO / ".cache/image/logs")
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())

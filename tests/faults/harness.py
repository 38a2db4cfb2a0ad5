"""Black-box harness for the fault tests: the real ``python -m consumer`` as OS processes,
configured only through ``NEWSCLF_*`` variables, and Kafka clients that feed it and read what it
wrote.

The service's source root is ``$NEWSCLF_SERVICE_ROOT`` (default: this repository), so the same
tests can drive a snapshot of the service while its code is being edited::

    git -C . archive HEAD | tar -x -C /tmp/svc-snapshot
    NEWSCLF_SERVICE_ROOT=/tmp/svc-snapshot pytest tests/faults

Nothing here imports the service: a broken service shows up as a failing test, not as an
import error of the test suite. Kafka helpers come from ``tests.fixtures.kafka``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from tests.faults import slow_service
from tests.fixtures.kafka import admin_client, topic_partitions
from tests.fixtures.waiting import wait_for  # noqa: F401 (re-exported)

REPO = Path(__file__).resolve().parents[2]
SERVICE_ROOT_ENV = "NEWSCLF_SERVICE_ROOT"
# Set in a service's environment: it runs as tests/faults/slow_service.py, every inference call
# that many milliseconds slower (through the service's constructor seam).
SLOW_DELAY_ENV = slow_service.DELAY_ENV
SLOW_SERVICE = Path(slow_service.__file__)

log = logging.getLogger(__name__)


def service_root() -> Path:
    """Where ``python -m consumer`` is run from (``$NEWSCLF_SERVICE_ROOT`` or this repo)."""
    root = Path(os.environ.get(SERVICE_ROOT_ENV) or REPO).resolve()
    if not (root / "consumer" / "__main__.py").is_file():
        raise AssertionError(f"{SERVICE_ROOT_ENV}={root}: no consumer/__main__.py there")
    return root


# ------------------------------------------------------------------------------- settings


def service_env(
    bootstrap: str,
    model_dir: Path | str,
    *,
    input_topic: str,
    output_topic: str,
    dlq_topic: str,
    group_id: str,
    batch_records: int = 16,
    **overrides: str | int | float,
) -> dict[str, str]:
    """A minimal service configuration. ``overrides`` are setting names without the prefix
    (``delivery="exactly-once"`` -> ``NEWSCLF_DELIVERY``). The batch size is given under both
    its old name (``BATCH_MAX_SIZE``) and its new one (``BATCH_MAX_RECORDS``) so the same tests
    drive either version of the service; unknown names are ignored by the service."""
    env = {
        "NEWSCLF_BOOTSTRAP_SERVERS": bootstrap,
        "NEWSCLF_MODEL_DIR": str(model_dir),
        "NEWSCLF_INPUT_TOPIC": input_topic,
        "NEWSCLF_OUTPUT_TOPIC": output_topic,
        "NEWSCLF_DLQ_TOPIC": dlq_topic,
        "NEWSCLF_GROUP_ID": group_id,
        "NEWSCLF_SESSION_TIMEOUT_MS": "6000",
        "NEWSCLF_HEARTBEAT_INTERVAL_MS": "500",
        "NEWSCLF_METRICS_PORT": "0",
        "NEWSCLF_INTRA_OP_THREADS": "1",
        "NEWSCLF_EXECUTION_PROVIDER": "cpu",
        "NEWSCLF_LOG_FORMAT": "json",
        "NEWSCLF_BATCH_MAX_SIZE": str(batch_records),
        "NEWSCLF_BATCH_MAX_RECORDS": str(batch_records),
        # The drills account every input as an output or a dead letter; review routing has
        # tests of its own (tests/consumer/test_review_kafka.py).
        "NEWSCLF_REVIEW_ROUTING": "false",
    }
    for name, value in overrides.items():
        if name == "drill_infer_delay_ms":  # the drills' slower machine, not a setting
            env[SLOW_DELAY_ENV] = str(value)
        else:
            env[f"NEWSCLF_{name.upper()}"] = str(value)
    return env


# ------------------------------------------------------------------------------- processes


class ServiceProcess:
    """One ``python -m consumer`` process, its stdout+stderr (JSON lines) in ``log_path``."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = dict(env)
        self.env.setdefault("NEWSCLF_CLIENT_ID", name)
        self.log_dir = log_dir
        self.starts = 0
        self.exits: list[int] = []  # return codes of earlier runs (restarts)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir / f"{name}.log"

    def start(self) -> ServiceProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        root = service_root()
        env = {**os.environ, **self.env, "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f'{{"harness": "start #{self.starts + 1}", "t": {time.time()}}}\n'.encode())
            out.flush()
            entry = [str(SLOW_SERVICE)] if SLOW_DELAY_ENV in env else ["-m", "consumer"]
            self.proc = subprocess.Popen(
                [sys.executable, *entry],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(sig)

    def kill9(self) -> None:
        """SIGKILL, and wait until it is gone (its exit is not counted as a crash)."""
        if self.alive:
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM, wait (SIGKILL after ``timeout``); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return self.proc.returncode

    def wait_exit(self, timeout: float = 60) -> int | None:
        """Wait for the process to exit (after a signal sent earlier; no second signal: one
        arriving during interpreter shutdown would kill it with the default handler).
        SIGKILL after ``timeout``. Returns the exit code."""
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        return self.proc.returncode

    def reap(self) -> int | None:
        """If the process exited on its own, record its code (once) and return it."""
        if self.proc is not None and self.proc.poll() is not None:
            code = self.proc.returncode
            self.exits.append(code)
            self.proc = None
            return code
        return None

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines so far (non-JSON lines come back as {"raw": line})."""
        if not self.log_path.exists():
            return []
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                out.append(entry if isinstance(entry, dict) else {"raw": line})
            except json.JSONDecodeError:
                out.append({"raw": line})
        return out

    def log_tail(self, n: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def metrics_port(self) -> int | None:
        """The port of the latest run's HTTP server (logged as "http server listening")."""
        port = None
        for entry in self.lines():
            if "harness" in entry:
                port = None
            if entry.get("msg") == "http server listening" and entry.get("port"):
                port = int(entry["port"])
        return port

    def scrape(self, path: str = "/metrics") -> str:
        port = self.metrics_port()
        assert port, f"{self.name}: no 'http server listening' line yet"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.read().decode()

    def assignment(self) -> set[str] | None:
        """The partitions the latest run last logged as assigned (None before the first)."""
        latest: set[str] | None = None
        for entry in self.lines():
            if "harness" in entry:
                latest = None
            if entry.get("msg") == "partitions assigned":
                latest = set(entry.get("partitions") or [])
        return latest


def stop_all(procs: Iterable[ServiceProcess], timeout: float = 60) -> None:
    procs = [p for p in procs if p.alive]
    for p in procs:
        p.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for p in procs:
        assert p.proc is not None
        try:
            p.proc.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait(timeout=30)


# ------------------------------------------------------------------------------- Kafka I/O


@dataclass(frozen=True)
class Sent:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def produce(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes | None, bytes | None, Sequence[tuple[str, bytes]]]],
    *,
    partition: int | None = None,
    max_request_size: int = 8 * 1024 * 1024,
    rate: float | None = None,
    timeout: float = 60.0,
) -> list[Sent]:
    """Send ``(key, value, headers)`` records in order, wait for every acknowledgement, and
    return where each landed. ``rate``: records per second (None: as fast as possible)."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_request_size=max_request_size,
        client_id="newsclf-faults-producer",
    )
    started = time.monotonic()
    try:
        futures = []
        for i, (key, value, headers) in enumerate(records):
            if rate:
                ahead = started + i / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            futures.append(
                producer.send(
                    topic,
                    key=key,
                    value=value,
                    headers=list(headers) or None,
                    partition=partition,
                )
            )
        producer.flush(timeout=timeout)
        metas = [f.get(timeout=timeout) for f in futures]
    finally:
        producer.close(timeout=timeout)
    return [
        Sent(m.partition, m.offset, rec[0], rec[1]) for m, rec in zip(metas, records, strict=True)
    ]


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    isolation_level: str = "read_committed",
    settle: float = 1.0,
    timeout: float = 60.0,
) -> list[ConsumerRecord]:
    """Everything in ``topic`` now: read from the beginning to the end offsets (the last stable
    offsets under ``read_committed``), then ``settle`` seconds more. Ordered by (partition,
    offset)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        client_id="newsclf-faults-reader",
    )
    records: list[ConsumerRecord] = []
    try:
        tps = [TopicPartition(topic, p) for p in topic_partitions(bootstrap, topic)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        done_at: float | None = None
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            at_end = all(consumer.position(tp) >= ends[tp] for tp in tps)
            if at_end and done_at is None:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at >= settle:
                break
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))


class Tail:
    """Reads a topic continuously from the beginning (no group); ``poll()`` returns new records."""

    def __init__(self, bootstrap: str, topic: str, isolation_level: str = "read_committed"):
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level=isolation_level,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=16 * 1024 * 1024,
            client_id="newsclf-faults-tail",
        )
        tps = [TopicPartition(topic, p) for p in topic_partitions(bootstrap, topic)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: list[ConsumerRecord] = []

    def poll(self, timeout_ms: int = 200) -> list[ConsumerRecord]:
        new: list[ConsumerRecord] = []
        for batch in self.consumer.poll(timeout_ms=timeout_ms).values():
            new.extend(batch)
        self.records.extend(new)
        return new

    def close(self) -> None:
        self.consumer.close()


def parse_json(value: bytes | None) -> dict[str, Any] | None:
    try:
        body = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


# ------------------------------------------------------------------------------- accounting


@dataclass
class Ledger:
    """Where every input record went. Inputs and outputs are matched on the input's
    (partition, offset), which outputs carry in ``source`` and dead letters at top level."""

    inputs: dict[tuple[int, int], str] = field(default_factory=dict)  # (p, o) -> id
    outputs: Counter[tuple[int, int]] = field(default_factory=Counter)
    dead: Counter[tuple[int, int]] = field(default_factory=Counter)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    unparsable: int = 0

    def add_inputs(self, sent: Iterable[Sent], ids: Iterable[str]) -> None:
        for s, i in zip(sent, ids, strict=True):
            self.inputs[(s.partition, s.offset)] = i

    def add_outputs(self, records: Iterable[ConsumerRecord]) -> None:
        for r in records:
            body = parse_json(r.value)
            src = (body or {}).get("source") or {}
            if "partition" not in src or "offset" not in src:
                self.unparsable += 1
                continue
            self.outputs[(int(src["partition"]), int(src["offset"]))] += 1

    def add_dead_letters(self, records: Iterable[ConsumerRecord]) -> None:
        for r in records:
            body = parse_json(r.value)
            if not body or "partition" not in body or "offset" not in body:
                self.unparsable += 1
                continue
            where = (int(body["partition"]), int(body["offset"]))
            self.dead[where] += 1
            self.errors[where] = str(body.get("error"))

    @property
    def lost(self) -> list[tuple[int, int]]:
        return sorted(k for k in self.inputs if not self.outputs[k] and not self.dead[k])

    @property
    def duplicated(self) -> int:
        """Extra copies: every output or dead letter beyond the first per input."""
        return sum(
            max(self.outputs[k] + self.dead[k] - 1, 0) for k in set(self.outputs) | set(self.dead)
        )

    @property
    def out(self) -> int:
        return sum(1 for k in self.inputs if self.outputs[k] or self.dead[k])

    @property
    def strangers(self) -> int:
        """Outputs or dead letters for offsets that were never sent (should be 0)."""
        return sum(1 for k in set(self.outputs) | set(self.dead) if k not in self.inputs)

    def summary(self) -> dict[str, int]:
        return {
            "in": len(self.inputs),
            "out": self.out,
            "classified": sum(1 for k in self.inputs if self.outputs[k]),
            "dead_lettered": sum(1 for k in self.inputs if self.dead[k]),
            "lost": len(self.lost),
            "duplicated": self.duplicated,
            "unknown": self.strangers + self.unparsable,
        }


def decode_b64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def group_members(bootstrap: str, group: str) -> dict[str, set[int]] | None:
    """The group's members now: client id -> the partitions it holds (all topics together).
    None when the broker's answer cannot be read (Tansu 0.6 sends ACL operation codes that
    kafka-python 3.0.12 rejects); callers then fall back to :func:`holdings`."""
    admin = admin_client(bootstrap)
    try:
        described = admin.describe_groups([group]).get(group) or {}
    except Exception:  # noqa: BLE001 - coordinator moving or loading, or unreadable
        return None
    finally:
        admin.close()
    members: dict[str, set[int]] = {}
    for m in described.get("members") or []:
        held: set[int] = set()
        for entry in (m.get("member_assignment") or {}).get("assigned_partitions") or []:
            held.update(entry.get("partitions") or [])
        members[str(m.get("client_id"))] = held
    return members


def articles(n: int, run: str) -> list[dict[str, Any]]:
    """``n`` real BBC articles (the corpus repeated as needed), each with a unique id."""
    from newsclf.corpus import iter_bbc

    corpus = list(iter_bbc())
    return [
        {**corpus[i % len(corpus)], "id": f"{run}-{i:06d}-{corpus[i % len(corpus)]['id']}"}
        for i in range(n)
    ]


def article_records(items: Sequence[Mapping[str, Any]]) -> list[tuple[bytes, bytes, tuple]]:
    """(key, value, headers) for articles, keyed by their id."""
    return [(a["id"].encode(), json.dumps(a).encode(), ()) for a in items]


def holdings(bootstrap: str, group: str, procs: Sequence[ServiceProcess]) -> dict[str, set[int]]:
    """Who holds which partitions: the group coordinator's view, else what each process last
    logged ("partitions assigned")."""
    members = group_members(bootstrap, group)
    if members is not None:
        return members
    out: dict[str, set[int]] = {}
    for p in procs:
        assigned = p.assignment() if p.alive else None
        if assigned:
            out[p.name] = {n for n in map(_partition_number, assigned) if n is not None}
    return out


def _partition_number(logged: str) -> int | None:
    """``"TopicPartition(topic='t', partition=3)"`` or ``"t-3"`` -> 3."""
    found = re.search(r"partition=(\d+)", logged) or re.search(r"-(\d+)$", logged)
    return int(found.group(1)) if found else None

"""``make chaos``: the long fault drills (marker ``chaos``; ``make test`` deselects them).

An Apache Kafka instance of their own (``scripts/kafka.sh`` on ``$NEWSCLF_CHAOS_KAFKA_PORT``,
default 29092, loopback only), a 6-partition input topic holding ``$NEWSCLF_CHAOS_ARTICLES``
(default 20,000) real BBC articles (the corpus repeated, unique ids), the 1-layer test model,
and 2-3 ``python -m consumer`` processes per drill. Every drill reports in, out, lost,
duplicated and time to recover; lost must be 0 everywhere, duplicates 0 in exactly-once mode
and at most one batch per partition per fault otherwise. The figures go to
``$NEWSCLF_CHAOS_REPORT_DIR`` (default ``.cache/chaos/``) as ``reliability.json`` and
``reliability.md``, rewritten after every drill.

    make chaos                                        # all drills, ~15-25 min on 2 cores
    NEWSCLF_SERVICE_ROOT=/tmp/svc-snapshot make chaos # drive another copy of the service
    .venv/bin/python -m pytest -m chaos tests/faults/test_chaos.py -k stall   # one drill
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.faults.drills import (
    REPO,
    Drill,
    DrillResult,
    kafka_sh,
    now_ms,
    write_report,
)
from tests.faults.harness import (
    Ledger,
    article_records,
    articles,
    produce,
    service_root,
)
from tests.fixtures.kafka import make_topic, unique_name

pytestmark = [pytest.mark.chaos]

PORT = int(os.environ.get("NEWSCLF_CHAOS_KAFKA_PORT", "29092"))
ARTICLES = int(os.environ.get("NEWSCLF_CHAOS_ARTICLES", "20000"))
PARTITIONS = 6
REPORT_DIR = Path(os.environ.get("NEWSCLF_CHAOS_REPORT_DIR", str(REPO / ".cache" / "chaos")))
SESSION_TIMEOUT_MS = 6000
STALL_S = float(os.environ.get("NEWSCLF_CHAOS_STALL_S", "20"))  # > the session timeout
STORM_S, STORM_EVERY_S, STORM_RATE = 30.0, 3.0, 350
SLOW_DELAY_MS, SLOW_POLL_INTERVAL_MS, SLOW_ARTICLES = 12_000, 10_000, 1200

RESULTS: list[DrillResult] = []


def _context(model_dir: Path) -> dict:
    root = service_root()
    rev = (
        os.environ.get("NEWSCLF_SERVICE_REV")
        or subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "service_root": str(root),
        "service_git": rev or "not a git checkout (set NEWSCLF_SERVICE_REV)",
        "broker": "Apache Kafka 4.1.2 (KRaft, one node, scripts/kafka.sh)",
        "articles": ARTICLES,
        "partitions": PARTITIONS,
        "model": model_dir.name,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "command": "make chaos",
    }


def record(result: DrillResult, model_dir: Path) -> DrillResult:
    RESULTS[:] = [r for r in RESULTS if r.drill != result.drill] + [result]
    write_report(RESULTS, REPORT_DIR, _context(model_dir))
    return result


@pytest.fixture(scope="module")
def chaos_bootstrap():
    running = subprocess.run(
        ["bash", str(REPO / "scripts" / "kafka.sh"), "status"],
        env={**os.environ, "KAFKA_PORT": str(PORT)},
        capture_output=True,
    )
    if running.returncode == 0:
        pytest.fail(
            f"a broker already runs on port {PORT}: the drills restart and pause their broker, "
            f"so they need one of their own (KAFKA_PORT={PORT} bash scripts/kafka.sh stop, or "
            "set NEWSCLF_CHAOS_KAFKA_PORT)",
            pytrace=False,
        )
    bootstrap = kafka_sh("start", PORT).stdout.strip()
    try:
        yield bootstrap
    finally:
        kafka_sh("stop", PORT)


@pytest.fixture(autouse=True)
def _broker_back_up(chaos_bootstrap):
    """Whatever a drill did to the broker, the next one finds it running."""
    yield
    status = subprocess.run(
        ["bash", str(REPO / "scripts" / "kafka.sh"), "status"],
        env={**os.environ, "KAFKA_PORT": str(PORT)},
        capture_output=True,
        text=True,
    )
    if "paused" in status.stdout:
        kafka_sh("resume", PORT)
    elif status.returncode != 0:
        kafka_sh("restart", PORT)


@pytest.fixture(scope="module")
def stream(chaos_bootstrap):
    """The input topic every drill reads (each with its own group): ARTICLES real articles."""
    topic = make_topic(chaos_bootstrap, PARTITIONS, prefix="chaos-in")
    items = articles(ARTICLES, unique_name("chaos"))
    sent = produce(chaos_bootstrap, topic, article_records(items))
    ledger = Ledger()
    ledger.add_inputs(sent, [a["id"] for a in items])
    return topic, ledger.inputs


def _drill(name, chaos_bootstrap, stream, model_dir, tmp_path, **kw) -> Drill:
    topic, inputs = stream
    return Drill(
        name,
        bootstrap=chaos_bootstrap,
        model_dir=model_dir,
        input_topic=topic,
        ledger=Ledger(inputs=dict(inputs)),
        partitions=PARTITIONS,
        log_dir=tmp_path,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        **kw,
    )


def _check(r: DrillResult, *, crashes_allowed: bool = False) -> None:
    detail = f"\n{r.as_json()}"
    assert r.inputs > 0 and r.lost == 0, f"{r.drill}: {r.lost} lost" + detail
    if r.duplicate_bound is not None:
        assert r.duplicated <= r.duplicate_bound, f"{r.drill}: too many duplicates" + detail
    if not crashes_allowed:
        assert not r.exits, f"{r.drill}: the service exited" + detail


# ------------------------------------------------------------------------------ drills


def test_kill_9_three_times(chaos_bootstrap, stream, tiny_model_dir, tmp_path):
    """SIGKILL a member right after one of its outputs appears (acknowledged, most likely not
    committed), three times, each restarted a second later."""
    d = _drill("kill-9-x3", chaos_bootstrap, stream, tiny_model_dir, tmp_path, members=3)
    try:
        d.start()
        for i, at in enumerate((0.15, 0.35, 0.55)):
            d.wait_done_fraction(at)
            d.kill9_after_output(d.members[i % len(d.members)])
        r = record(d.finish(), tiny_model_dir)
    finally:
        d.kill_everything()
    _check(r)


def test_broker_restart(chaos_bootstrap, stream, tiny_model_dir, tmp_path):
    """``kafka.sh restart``: the broker process stops and starts again on its log."""
    d = _drill("broker-restart", chaos_bootstrap, stream, tiny_model_dir, tmp_path, members=2)
    try:
        d.start()
        d.wait_done_fraction(0.25)
        start = now_ms()
        kafka_sh("restart", PORT)
        d.fault("broker restart", start, None)
        r = record(d.finish(), tiny_model_dir)
    finally:
        d.kill_everything()
    _check(r)


def test_broker_stall_longer_than_the_session_timeout(
    chaos_bootstrap, stream, tiny_model_dir, tmp_path
):
    """SIGSTOP the broker for STALL_S (20 s, over the 6 s session timeout), then SIGCONT."""
    d = _drill("broker-stall", chaos_bootstrap, stream, tiny_model_dir, tmp_path, members=2)
    try:
        d.start()
        d.wait_done_fraction(0.25)
        start = now_ms()
        kafka_sh("pause", PORT)
        try:
            d.sleep(STALL_S)
        finally:
            kafka_sh("resume", PORT)
        d.fault(f"broker stall {STALL_S:.0f} s", start, None)
        r = record(d.finish(), tiny_model_dir)
    finally:
        d.kill_everything()
    _check(r)


def test_rebalance_storm(chaos_bootstrap, tiny_model_dir, tmp_path):
    """Two members stay; two more join and leave (SIGTERM) in turn every 3 s for 30 s, while
    the articles stream in (STORM_RATE a second, so the stream outlasts the storm and every
    rebalance meets records in flight). Its own input topic. Time to recover counts from the
    storm's end."""
    topic = make_topic(chaos_bootstrap, PARTITIONS, prefix="chaos-storm-in")
    items = articles(ARTICLES, unique_name("storm"))
    ledger = Ledger()
    fed: list[BaseException] = []

    def feed() -> None:
        try:
            sent = produce(chaos_bootstrap, topic, article_records(items), rate=STORM_RATE)
            ledger.add_inputs(sent, [a["id"] for a in items])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            fed.append(exc)

    d = _drill("rebalance-storm", chaos_bootstrap, (topic, {}), tiny_model_dir, tmp_path, members=2)
    d.ledger = ledger
    extras = [d.member(f"rebalance-storm-x{i}") for i in range(2)]
    feeder = threading.Thread(target=feed, name="feed", daemon=True)
    try:
        d.start()
        feeder.start()
        d.sleep(5)
        storm_end = time.monotonic() + STORM_S
        step = 0
        while time.monotonic() < storm_end:
            x = extras[step % 2]
            if x.alive:
                d.leave(x)
            else:
                d.join(x)
            step += 1
            d.sleep(STORM_EVERY_S)
        for x in extras:
            d.leave(x)
        d.fault(f"rebalance storm ({step} joins/leaves in {STORM_S:.0f} s)", now_ms(), None)
        while feeder.is_alive():
            d.sleep(0.5)
        assert not fed, fed
        r = record(d.finish(), tiny_model_dir)
    finally:
        d.kill_everything()
    _check(r)


def test_slow_model(chaos_bootstrap, tiny_model_dir, tmp_path):
    """12000 ms before every inference call (tests/faults/slow_service.py), with
    max.poll.interval.ms=10000: a batch takes longer than the poll interval allows. The
    service must keep its membership (poll / pause / heartbeat) and lose nothing. Its own
    SLOW_ARTICLES-article topic (at 12 s a call, 20,000 articles would take an hour)."""
    topic = make_topic(chaos_bootstrap, PARTITIONS, prefix="chaos-slow-in")
    items = articles(SLOW_ARTICLES, unique_name("slow"))
    ledger = Ledger()
    ledger.add_inputs(
        produce(chaos_bootstrap, topic, article_records(items)), [a["id"] for a in items]
    )
    big = 256  # one inference call per batch: rows and tokens budgets above a batch
    d = _drill(
        "slow-model",
        chaos_bootstrap,
        (topic, ledger.inputs),
        tiny_model_dir,
        tmp_path,
        members=2,
        batch_records=big,
        drill_infer_delay_ms=SLOW_DELAY_MS,
        max_poll_interval_ms=SLOW_POLL_INTERVAL_MS,
        infer_max_rows=big,
        infer_max_tokens=big * 128,
        batch_max_tokens=big * 128,
        batch_max_wait_ms=500,
    )
    try:
        d.start()
        r = d.finish()
    finally:
        d.kill_everything()
    if r.seconds < SLOW_DELAY_MS / 1000:
        r.notes.append(
            "the delay was not applied: this service has no classify seam (serve_one(classify=))"
        )
    r.notes.append(
        f"{SLOW_DELAY_MS / 1000:.0f} s before every inference call, max.poll.interval.ms "
        f"{SLOW_POLL_INTERVAL_MS / 1000:.0f} s, {SLOW_ARTICLES} articles"
    )
    record(r, tiny_model_dir)
    _check(r)


def test_exactly_once_with_kill_9(chaos_bootstrap, stream, tiny_model_dir, tmp_path):
    """NEWSCLF_DELIVERY=exactly-once, three members, SIGKILL right after outputs appear (three
    times): a read_committed reader sees every article exactly once."""
    d = _drill(
        "exactly-once-kill-9",
        chaos_bootstrap,
        stream,
        tiny_model_dir,
        tmp_path,
        members=3,
        delivery="exactly-once",
    )
    try:
        d.start()
        # at once, then 0.15 s and 0.4 s after an output: inside the next transaction
        for i, (at, delay) in enumerate(((0.15, 0.0), (0.35, 0.15), (0.55, 0.4))):
            d.wait_done_fraction(at)
            d.kill9_after_output(d.members[i % len(d.members)], delay_s=delay)
        r = record(d.finish(), tiny_model_dir)
    finally:
        d.kill_everything()
    _check(r)
    assert r.duplicated == 0

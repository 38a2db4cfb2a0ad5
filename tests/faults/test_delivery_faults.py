"""Delivery under faults, black box (``python -m consumer`` processes, both brokers):

* a rebalance that hands partitions back to the member that had them (a second member joins,
  then leaves) loses nothing: every input has an output or a dead letter;
* kill -9 in the middle of a stream, then a restart: nothing lost, duplicates bounded by one
  batch per partition.

Records are matched on the input's (partition, offset), which every output (``source``) and
every dead letter carries.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.faults.harness import (
    SLOW_DELAY_ENV,
    Ledger,
    ServiceProcess,
    Tail,
    article_records,
    articles,
    holdings,
    produce,
    service_env,
    stop_all,
    wait_for,
)
from tests.fixtures.kafka import make_topic, unique_name

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _topics(bootstrap: str, partitions: int, prefix: str) -> dict[str, str]:
    return {
        "input_topic": make_topic(bootstrap, partitions, prefix=f"{prefix}-in"),
        "output_topic": make_topic(bootstrap, 1, prefix=f"{prefix}-out"),
        "dlq_topic": make_topic(bootstrap, 1, prefix=f"{prefix}-dlq"),
    }


def _drain(ledger: Ledger, out: Tail, dlq: Tail, procs, timeout: float, quiet: float = 30) -> None:
    """Read outputs and dead letters until every input is accounted for, ``timeout`` passes, or
    nothing new arrives for ``quiet`` seconds; stops early when a service process exits on its
    own."""
    deadline = time.monotonic() + timeout
    done, progress_at = ledger.out, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - progress_at < quiet:
        ledger.add_outputs(out.poll(200))
        ledger.add_dead_letters(dlq.poll(100))
        if not ledger.lost:
            return
        if ledger.out != done:
            done, progress_at = ledger.out, time.monotonic()
        if any(p.reap() is not None for p in procs):
            return


def _report(ledger: Ledger, procs, extra: str = "") -> str:
    lines = [f"{ledger.summary()} {extra}"]
    for p in procs:
        lines.append(f"--- {p.name}: exits on its own {p.exits or 'none'} ---")
        lines.append(p.log_tail(12))
    lost = ledger.lost
    if lost:
        lines.insert(1, f"lost (partition, offset): {lost[:20]}{' ...' if len(lost) > 20 else ''}")
    return "\n".join(lines)


def test_a_rebalance_back_to_the_same_member_loses_nothing(
    kafka_bootstrap, tiny_model_dir, tmp_path
):
    """Member A holds all 4 partitions; while articles stream in, B joins (A's partitions are
    revoked and half come back to A) and later leaves (all come back to A). A 1 s batch window
    keeps polled-but-unprocessed records in A at every revocation: issue 6 lost 18 of 240."""
    partitions, n = 4, 240
    t = _topics(kafka_bootstrap, partitions, "rebalance")
    group = unique_name("rebalance")
    env = service_env(
        kafka_bootstrap,
        tiny_model_dir,
        group_id=group,
        batch_records=64,
        batch_max_wait_ms=1000,
        **t,
    )
    a = ServiceProcess("member-a", env, tmp_path)
    b = ServiceProcess("member-b", env, tmp_path)
    items = articles(n, unique_name("rb"))
    chunks = [items[: n // 4], items[n // 4 : 2 * n // 3], items[2 * n // 3 :]]
    marks = [threading.Event() for _ in chunks]
    ledger = Ledger()
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            for chunk, mark in zip(chunks, marks, strict=True):
                sent = produce(kafka_bootstrap, t["input_topic"], article_records(chunk), rate=20)
                ledger.add_inputs(sent, [x["id"] for x in chunk])
                mark.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failure.append(exc)
            for mark in marks:
                mark.set()

    out, dlq = Tail(kafka_bootstrap, t["output_topic"]), Tail(kafka_bootstrap, t["dlq_topic"])
    b_held: set[int] = set()
    try:
        a.start()
        wait_for(
            lambda: len(holdings(kafka_bootstrap, group, [a]).get("member-a", ())) == partitions,
            90,
            "member A to hold every partition",
        )
        feeder = threading.Thread(target=feed, name="feed", daemon=True)
        feeder.start()
        marks[0].wait(120)
        b.start()  # joins at N/4

        def b_holds_some() -> bool:
            held = holdings(kafka_bootstrap, group, [a, b]).get("member-b") or set()
            b_held.update(held)
            return bool(held)

        wait_for(b_holds_some, 90, "member B to hold partitions")
        marks[1].wait(120)
        assert b.stop(timeout=60) == 0, b.log_tail()  # leaves at 2N/3 (SIGTERM: a clean leave)
        feeder.join(120)
        assert not failure, failure
        wait_for(
            lambda: len(holdings(kafka_bootstrap, group, [a]).get("member-a", ())) == partitions,
            90,
            "member A to hold every partition again",
        )
        _drain(ledger, out, dlq, [a], timeout=120)
        time.sleep(1)
        ledger.add_outputs(out.poll(500))
        ledger.add_dead_letters(dlq.poll(200))
    finally:
        stop_all([a, b])
        out.close()
        dlq.close()
    report = _report(ledger, [a, b], f"B held partitions {sorted(b_held)}")
    assert len(ledger.inputs) == n, report
    assert b_held, "the rebalance did not happen: B never held a partition\n" + report
    assert not ledger.lost, "records lost in the rebalance\n" + report
    assert not a.exits and not b.exits, report


def test_kill_9_mid_stream_then_restart_loses_nothing(kafka_bootstrap, tiny_model_dir, tmp_path):
    """SIGKILL while batches are in flight, then the same member starts again: every article
    comes out, and what is classified twice is at most one batch per partition."""
    partitions, n, batch = 3, 300, 16
    t = _topics(kafka_bootstrap, partitions, "kill9")
    group = unique_name("kill9")
    env = service_env(kafka_bootstrap, tiny_model_dir, group_id=group, batch_records=batch, **t)
    items = articles(n, unique_name("k9"))
    ledger = Ledger()
    ledger.add_inputs(
        produce(kafka_bootstrap, t["input_topic"], article_records(items)),
        [x["id"] for x in items],
    )
    proc = ServiceProcess("member", env, tmp_path)
    out, dlq = Tail(kafka_bootstrap, t["output_topic"]), Tail(kafka_bootstrap, t["dlq_topic"])
    try:
        proc.start()

        def some_out() -> bool:
            ledger.add_outputs(out.poll(200))
            return sum(ledger.outputs.values()) >= n // 5

        wait_for(some_out, 120, "the first outputs")
        proc.kill9()  # mid-stream: batches in flight, some outputs acknowledged, not committed
        killed_at = sum(ledger.outputs.values())
        assert killed_at < n, "the stream was finished before the kill: make it longer"
        proc.start()
        _drain(ledger, out, dlq, [proc], timeout=180)
        time.sleep(1)
        ledger.add_outputs(out.poll(500))
    finally:
        stop_all([proc])
        out.close()
        dlq.close()
    report = _report(ledger, [proc], f"killed after {killed_at} outputs")
    assert not ledger.lost, report
    assert not proc.exits, report
    assert ledger.duplicated <= batch * partitions, report


def test_members_leaving_while_articles_stream_in_lose_nothing(
    kafka_bootstrap, tiny_model_dir, tmp_path
):
    """One member stays; another joins and leaves (SIGTERM: it drains and leaves) again and
    again while articles stream in, so each leave meets a half-full batch window and records
    already fetched. The coming-and-going member runs a slower model (300 ms per inference
    call, tests/faults/slow_service.py), so its drain takes a while, as on a busy machine.
    Every article must come out, and the member that stays must end up with every partition:
    a drain that drops its window and then batches and commits records polled after it skips
    the dropped ones."""
    partitions, rate, seconds = 4, 150, 20
    n = rate * seconds
    t = _topics(kafka_bootstrap, partitions, "leave")
    group = unique_name("leave")
    env = service_env(
        kafka_bootstrap,
        tiny_model_dir,
        group_id=group,
        batch_records=64,
        batch_max_wait_ms=500,
        **t,
    )
    items = articles(n, unique_name("lv"))
    ledger = Ledger()
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            sent = produce(kafka_bootstrap, t["input_topic"], article_records(items), rate=rate)
            ledger.add_inputs(sent, [x["id"] for x in items])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failure.append(exc)

    a = ServiceProcess("stays", env, tmp_path)
    slow = {**env, SLOW_DELAY_ENV: "300"}
    b = ServiceProcess("comes-and-goes", slow, tmp_path)
    out, dlq = Tail(kafka_bootstrap, t["output_topic"]), Tail(kafka_bootstrap, t["dlq_topic"])
    leaves = 0
    try:
        a.start()
        wait_for(
            lambda: len(holdings(kafka_bootstrap, group, [a]).get("stays", ())) == partitions,
            90,
            "the first member to hold every partition",
        )
        feeder = threading.Thread(target=feed, name="feed", daemon=True)
        feeder.start()
        while feeder.is_alive():
            b.start()
            wait_for(
                lambda: holdings(kafka_bootstrap, group, [a, b]).get("comes-and-goes"),
                60,
                "the second member to hold partitions",
            )
            time.sleep(2.0)  # it works for a while, then leaves mid-stream
            assert b.stop(timeout=60) == 0, b.log_tail()
            leaves += 1
            time.sleep(0.5)
        feeder.join(60)
        assert not failure, failure
        _drain(ledger, out, dlq, [a], timeout=120)
        time.sleep(1)
        ledger.add_outputs(out.poll(500))
        final = holdings(kafka_bootstrap, group, [a])
    finally:
        stop_all([a, b])
        out.close()
        dlq.close()
    report = _report(ledger, [a, b], f"the second member left {leaves} times; at the end: {final}")
    assert len(ledger.inputs) == n and leaves >= 2, report
    assert not ledger.lost, "records lost when a member left\n" + report
    assert not a.exits, report

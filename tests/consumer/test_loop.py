"""The loop, delivery and the bad-batch policy with in-memory Kafka clients and model
(tests/consumer/fakes.py): commit order, backpressure, rebalances, isolation, fatal exits.
The same behaviour against real brokers: test_service_kafka.py and tests/faults/."""

from __future__ import annotations

import json
import threading

import pytest
from kafka import errors as kafka_errors

from consumer.errors import ExitCode, FatalError
from consumer.health import Health
from consumer.loop import Loop
from consumer.metrics import Metrics, StageOverlapError, StageTimer
from consumer.settings import Settings
from tests.consumer.fakes import FakeConsumer, FakeModel, FakeProducer, article, wait_until


def make(logs, producer=None, model=None, **overrides):
    base = {
        "bootstrap_servers": "unused:1",
        "input_topic": "in",
        "output_topic": "out",
        "dlq_topic": "dlq",
        "batch_max_records": 4,
        "batch_max_wait_ms": 0,
        "max_in_flight_batches": 3,
        "log_format": "text",
    }
    base.update(overrides)
    settings = Settings(**base)
    consumer = FakeConsumer("in", {p: list(v) for p, v in logs.items()})
    loop = Loop(
        settings,
        model or FakeModel(),
        consumer,
        producer or FakeProducer(),
        Metrics(),
        Health(30),
    )
    loop.open()
    consumer.assign_all()
    return loop, consumer


def offsets_of(producer, kind="out"):
    found = []
    for s in producer.sent:
        if s.topic == kind:
            body = json.loads(s.value)
            found.append(body["source"]["offset"] if kind == "out" else body["offset"])
    return found


def run_until(loop, predicate, what, steps=2000):
    for _ in range(steps):
        loop.step()
        if predicate():
            return
    raise AssertionError(f"never reached: {what}")


@pytest.fixture(autouse=True)
def _short_waits(monkeypatch):
    """A full pipeline makes a step wait for a batch to finish, up to IDLE_POLL_S."""
    monkeypatch.setattr("consumer.loop.IDLE_POLL_S", 0.05)


@pytest.fixture
def closing():
    loops = []
    yield loops.append
    for loop in loops:
        loop.close()


def test_commits_follow_batch_order_when_acknowledgements_do_not(closing):
    producer = FakeProducer()
    loop, consumer = make({0: [article(i) for i in range(12)]}, producer)
    closing(loop)
    run_until(loop, lambda: len(producer.sent) == 12, "three batches sent")
    in_batch = lambda lo, hi: lambda s: lo <= json.loads(s.value)["source"]["offset"] < hi  # noqa: E731

    producer.ack(in_batch(8, 12))  # the last batch first
    for _ in range(20):
        loop.step()
    assert consumer.commits == [], "nothing may be committed past unacknowledged records"
    producer.ack(in_batch(0, 4))
    run_until(loop, lambda: consumer.committed() == {0: 4}, "the first batch committed")
    producer.ack(in_batch(4, 8))
    run_until(loop, lambda: consumer.committed() == {0: 12}, "all committed")
    assert [c[0] for c in consumer.commits] == [4, 12]


def test_backpressure_pauses_the_input_and_resumes_without_a_rebalance(closing):
    producer = FakeProducer()
    loop, consumer = make(
        {0: [article(i) for i in range(40)]}, producer, max_in_flight_batches=2, poll_max_records=8
    )
    closing(loop)
    consumer.per_poll = 8
    revocations = []
    original = loop.on_revoked
    loop.on_revoked = lambda tps: (revocations.append(tps), original(tps))  # type: ignore[method-assign]
    run_until(loop, lambda: consumer.paused_set == {0}, "input paused")
    for _ in range(3):  # full: each step waits for a batch to finish (none will)
        loop.step()
    assert len(loop.inflight) == 2 and len(producer.sent) == 8
    assert loop.metrics.paused._value.get() == 1
    while consumer.committed().get(0) != 40:
        producer.ack()
        loop.step()
    run_until(loop, lambda: not consumer.paused_set, "input resumed")
    assert consumer.resume_calls >= 1 and revocations == []
    assert sorted(offsets_of(producer)) == list(range(40))


def test_a_rebalance_back_to_the_same_member_loses_nothing(closing):
    """kafka-python keeps the position of a partition assigned straight back; what was polled
    but not delivered must be sought back, or the next commit skips it."""
    producer = FakeProducer(auto_ack=True)
    model = FakeModel()
    loop, consumer = make(
        {0: [article(i) for i in range(12)], 1: [article(100 + i) for i in range(6)]},
        producer,
        model,
    )
    closing(loop)
    run_until(loop, lambda: consumer.committed().get(0, 0) >= 4, "a first commit")
    model.gate.clear()  # inference stalls: later batches stay undelivered
    for _ in range(30):
        loop.step()
    assert consumer.positions[0] == 12  # everything polled
    consumer.assign_all()  # revoked and assigned straight back, positions kept
    model.gate.set()
    run_until(
        loop,
        lambda: consumer.committed() == {0: 12, 1: 6} and not len(loop.inflight),
        "everything committed",
    )
    outputs = sorted(offsets_of(producer))
    assert set(outputs) == set(range(12)) | set(range(6)), "nothing lost"
    by_partition = {}
    for s in producer.sent:
        body = json.loads(s.value)
        by_partition.setdefault(body["source"]["partition"], []).append(body["source"]["offset"])
    assert sorted(by_partition[0]) == list(range(12)), "delivered ones were committed, not redone"


def test_a_record_the_model_fails_on_alone_is_dead_lettered(closing):
    producer = FakeProducer(auto_ack=True)
    values = [article(0), article(1, "poison pill"), article(2), article(3)]
    loop, consumer = make({0: values}, producer, FakeModel(poison="poison"))
    closing(loop)
    run_until(loop, lambda: consumer.committed() == {0: 4}, "committed")
    assert sorted(offsets_of(producer)) == [0, 2, 3]
    (letter,) = [json.loads(s.value) for s in producer.sent if s.topic == "dlq"]
    assert letter["error"] == "processing_failed" and letter["offset"] == 1
    assert "TypeError" in letter["reason"]


def test_a_failure_of_the_machine_retries_then_exits_4_without_committing(closing):
    loop, consumer = make(
        {0: [article(i) for i in range(4)]}, model=FakeModel(broken=True), infer_retry_budget_s=0.3
    )
    closing(loop)
    with pytest.raises(FatalError) as failed:
        for _ in range(500):
            loop.step()
    assert failed.value.code == ExitCode.INFERENCE
    assert consumer.commits == []
    assert loop.metrics.retries.labels(kind="inference")._value.get() >= 1


def test_stop_finishes_what_is_in_flight_and_leaves_the_window_unread(closing):
    producer = FakeProducer()
    loop, consumer = make({0: [article(i) for i in range(12)]}, producer, max_in_flight_batches=2)
    closing(loop)
    run_until(loop, lambda: len(producer.sent) == 8, "two batches sent")
    for _ in range(2):
        loop.step()
    assert len(loop._window) == 4  # polled, not batched: the in-flight limit holds it
    loop.stop()
    producer.auto_ack = True
    producer.ack()
    loop.drain()
    assert consumer.committed() == {0: 8}, "in flight: delivered and committed"
    assert sorted(offsets_of(producer)) == list(range(8)), "the window: left for the next reader"


def test_a_result_the_broker_refuses_is_replaced_by_a_dead_letter(closing):
    producer = FakeProducer(auto_ack=True)
    producer.refuse_topic = "out"
    producer.refusal = kafka_errors.MessageSizeTooLargeError("too big for the topic")
    loop, consumer = make({0: [article(i) for i in range(3)]}, producer)
    closing(loop)
    run_until(loop, lambda: consumer.committed() == {0: 3}, "committed")
    letters = [json.loads(s.value) for s in producer.sent if s.topic == "dlq"]
    assert sorted(x["offset"] for x in letters) == [0, 1, 2]
    assert {x["error"] for x in letters} == {"output_rejected"}


def test_a_refused_dead_letter_stops_the_service(closing):
    producer = FakeProducer(auto_ack=True)
    producer.refuse_topic = "dlq"
    producer.refusal = kafka_errors.MessageSizeTooLargeError("too big")
    loop, consumer = make({0: [b"not json"]}, producer)
    closing(loop)
    with pytest.raises(FatalError) as failed:
        run_until(loop, lambda: False, "fatal")
    assert (
        failed.value.code == ExitCode.DELIVERY
        and "NEWSCLF_DLQ_MAX_VALUE_BYTES" in failed.value.reason
    )
    assert consumer.commits == []


def test_unacknowledged_outputs_past_the_budget_stop_the_service(closing):
    producer = FakeProducer()
    loop, consumer = make({0: [article(i) for i in range(4)]}, producer)
    closing(loop)
    run_until(loop, lambda: len(producer.sent) == 4, "sent")
    producer.fail(lambda s: True, kafka_errors.KafkaTimeoutError("expired after 120 s"))
    with pytest.raises(FatalError) as failed:
        run_until(loop, lambda: False, "fatal")
    assert failed.value.code == ExitCode.DELIVERY
    assert consumer.commits == []


def test_readiness_reports_a_stalled_delivery(closing):
    producer = FakeProducer()
    loop, consumer = make(
        {0: [article(0)]}, producer, produce_timeout_s=0.05, delivery_timeout_s=10
    )
    closing(loop)
    run_until(loop, lambda: len(producer.sent) == 1, "sent")
    run_until(loop, lambda: not loop.health.ready, "not ready")
    assert "delivery stalled" in loop.health.not_ready_because
    producer.ack()
    run_until(loop, lambda: loop.health.ready, "ready again")


def test_exactly_once_commits_offsets_inside_each_transaction(closing):
    producer = FakeProducer()
    loop, consumer = make({0: [article(i) for i in range(8)]}, producer, delivery="exactly-once")
    closing(loop)
    run_until(loop, lambda: producer.calls.count("commit") == 2, "two transactions")
    assert producer.calls == [
        "init",
        "begin",
        "offsets:[(0, 4)]",
        "commit",
        "begin",
        "offsets:[(0, 8)]",
        "commit",
    ]
    assert consumer.commits == []  # offsets travel in the transactions


def test_exactly_once_stops_when_the_group_moved_on_under_a_transaction(closing):
    producer = FakeProducer()
    producer.commit_error = kafka_errors.IllegalGenerationError("generation moved on")
    loop, consumer = make({0: [article(i) for i in range(4)]}, producer, delivery="exactly-once")
    closing(loop)
    with pytest.raises(FatalError) as failed:
        run_until(loop, lambda: False, "fatal")
    assert failed.value.code == ExitCode.FENCED
    assert producer.calls[-1] == "abort" and "commit" not in producer.calls


def test_stage_timers_never_nest_on_one_thread():
    timer = StageTimer()
    with timer("decode"), pytest.raises(StageOverlapError), timer("tokenize"):
        pass
    seen = []

    def other():
        with timer("infer"):
            seen.append("infer")

    with timer("decode"):
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert seen == ["infer"] and timer.counts["decode"] == 2


def test_the_loop_times_every_stage_and_they_do_not_overlap(closing):
    producer = FakeProducer(auto_ack=True)
    loop, consumer = make({0: [article(i) for i in range(40)]}, producer)
    closing(loop)
    run_until(loop, lambda: consumer.committed() == {0: 40}, "committed")
    wait_until(lambda: loop.metrics.timer.counts["send"] >= 10, what="sends timed")
    counts = loop.metrics.timer.counts
    for stage in ("poll", "decode", "tokenize", "infer", "serialize", "send", "commit"):
        assert counts[stage] >= 1, stage


def test_draining_never_commits_past_the_records_it_leaves_unread(closing):
    """The window is dropped on SIGTERM without a seek (the member leaves): a record polled
    after that and batched would carry the partition's commit past the dropped ones."""
    producer = FakeProducer()
    loop, consumer = make(
        {0: [article(i) for i in range(12)]},
        producer,
        max_in_flight_batches=2,
        poll_max_records=2,
        batch_max_wait_ms=60_000,
    )
    closing(loop)
    consumer.per_poll = 2
    run_until(loop, lambda: len(loop.inflight) == 1 and len(loop._window) == 2, "a batch out")
    loop.stop()
    producer.auto_ack = True
    producer.ack()
    loop.drain()
    assert consumer.committed() == {0: 4}, "records 4 and 5 were left unread: nothing past them"
    assert sorted(offsets_of(producer)) == [0, 1, 2, 3]


def test_the_window_stays_bounded_while_the_pipeline_is_full(closing):
    """However long the model takes, the loop holds at most a batch and one poll in its
    window: memory does not grow with the backlog."""
    producer = FakeProducer()
    loop, consumer = make(
        {0: [article(i) for i in range(400)]},
        producer,
        max_in_flight_batches=2,
        poll_max_records=10,
    )
    closing(loop)
    consumer.per_poll = 10
    biggest = 0
    for _round in range(12):
        for _ in range(3):
            loop.step()
            biggest = max(biggest, len(loop._window))
        producer.ack()  # one pipeline's worth at a time
    assert biggest <= 4 + 10, biggest
    assert consumer.positions[0] < 400, "the backlog stays in Kafka, not in memory"


def test_a_batch_delivered_after_its_partition_was_lost_does_not_stop_the_loop(closing):
    """A broker stall: the group moves on, the partition is lost while a batch of it is being
    delivered; its acknowledgement arrives afterwards. Accounting it (the lag gauge) must not
    ask the client about a partition it no longer has (kafka-python raises); seen as exit 1 in
    the broker-stall drill."""
    producer = FakeProducer()
    loop, consumer = make({0: [article(i) for i in range(4)], 1: [article(9)]}, producer)
    closing(loop)
    run_until(loop, lambda: len(producer.sent) >= 5, "both batches sent")
    commits_before = len(consumer.commits)
    consumer.lose(0, 1)
    producer.ack()  # the acknowledgements arrive after the loss
    run_until(loop, lambda: not len(loop.inflight), "the delivered batches accounted")
    assert len(consumer.commits) == commits_before, "nothing committed for lost partitions"
    assert loop.metrics.batches.labels(result="committed")._value.get() == 2


def test_pausing_a_partition_revoked_meanwhile_is_not_an_error(closing):
    """The listener runs on kafka-python's network thread: a partition read from assignment()
    may be gone by the time the loop pauses it."""
    loop, consumer = make({0: [article(i) for i in range(4)], 1: [article(9)]})
    closing(loop)
    tps = consumer.assignment()
    consumer.assigned.discard(0)
    loop._pause(tps)  # noqa: SLF001
    assert consumer.paused_set == {1}
    loop._resume(tps)  # noqa: SLF001
    assert consumer.paused_set == set()

"""Broker smoke tests: what the service relies on, against whichever broker ``kafka_bootstrap``
is (Apache Kafka in the first pass of scripts/test.sh, the embedded Tansu broker in the second).
Where the two brokers behave differently, docs/brokers.md says so."""

from __future__ import annotations

import os
import socket
import time

import pytest
from kafka import KafkaProducer, OffsetAndMetadata, TopicPartition

from devkit.broker import BrokerError, EmbeddedBroker, PortInUseError, wait_for_broker
from tests.fixtures.kafka import (
    committed_offsets,
    consume_all,
    group_consumer,
    make_topic,
    produce_values,
    unique_name,
)

pytestmark = pytest.mark.kafka


def _poll_until(consumer, count: int, timeout: float = 30.0) -> list:
    """Poll a group consumer until ``count`` records arrived (or the timeout passes).

    Each poll may block for all the time left (it returns as soon as records arrive): a short
    poll timeout that expires during a group rejoin trips a kafka-python 3.0.12 bug (the join
    never completes; docs/brokers.md).
    """
    records: list = []
    deadline = time.monotonic() + timeout
    while len(records) < count and (left := deadline - time.monotonic()) > 0:
        polled = consumer.poll(timeout_ms=int(left * 1000), max_records=count - len(records))
        for batch in polled.values():
            records.extend(batch)
    return records


def _values(records) -> list[bytes]:
    return [r.value for r in records]


def _transactional_producer(bootstrap: str) -> KafkaProducer:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=unique_name("tx"),
        enable_idempotence=True,
        acks="all",
    )
    producer.init_transactions()
    return producer


def _read_committed_view(
    broker_kind: str, aborted: list[bytes], committed: list[bytes], *, aborted_first: bool = True
) -> list[bytes]:
    """What a ``read_committed`` reader gets from a log holding one aborted and one committed
    transaction.

    Apache Kafka: only the committed records. Tansu 0.6 never lists aborted transactions in its
    fetch responses, so clients cannot drop the aborted records: they are delivered too, once
    their transaction has ended (docs/brokers.md, "Aborted transactions"). Asserted rather than
    skipped, so this test fails, and the doc gets updated, the day Tansu changes.
    """
    if broker_kind == "kafka":
        return committed
    return aborted + committed if aborted_first else committed + aborted


def test_produce_consume_round_trip_keeps_bytes_keys_and_order(kafka_bootstrap: str) -> None:
    topic = make_topic(kafka_bootstrap)
    values = [b"plain", "caf\u00e9 \u2013 \u65b0\u95fb".encode(), b"\xff\xfe not utf-8", b""]
    keys = [b"k0", b"k1", None, b"k3"]

    headers = [("content-type", b"application/json"), ("empty", b"")]
    before_ms = int(time.time() * 1000)

    sent = produce_values(kafka_bootstrap, topic, values, keys=keys, headers=headers)

    after_ms = int(time.time() * 1000)
    assert [m.offset for m in sent] == [0, 1, 2, 3]
    records = consume_all(kafka_bootstrap, topic, expected=len(values), timeout=30)
    assert _values(records) == values
    assert [r.key for r in records] == keys
    assert [r.offset for r in records] == [0, 1, 2, 3]
    assert all(r.headers == headers for r in records)
    # CreateTime stamps from the producer: the service measures end-to-end latency from them.
    assert all(r.timestamp_type == 0 and before_ms <= r.timestamp <= after_ms for r in records)


def test_produce_to_explicit_partitions(kafka_bootstrap: str) -> None:
    topic = make_topic(kafka_bootstrap, partitions=3)

    produce_values(kafka_bootstrap, topic, [b"a", b"b"], partition=2)
    produce_values(kafka_bootstrap, topic, [b"c"], partition=0)

    records = consume_all(kafka_bootstrap, topic, expected=3, timeout=30)
    assert [(r.partition, r.offset, r.value) for r in records] == [
        (0, 0, b"c"),
        (2, 0, b"a"),
        (2, 1, b"b"),
    ]


def test_group_commit_then_new_member_resumes_after_committed_offset(kafka_bootstrap: str) -> None:
    topic = make_topic(kafka_bootstrap)
    group = unique_name("group")
    values = [f"article-{i}".encode() for i in range(10)]
    produce_values(kafka_bootstrap, topic, values)
    assert committed_offsets(kafka_bootstrap, group, topic) == {0: None}

    first = group_consumer(kafka_bootstrap, group, topic)
    try:
        records = _poll_until(first, 4)
        assert _values(records) == values[:4]
        first.commit({TopicPartition(topic, 0): OffsetAndMetadata(4, "", -1)})
    finally:
        first.close()  # leaves the group
    assert committed_offsets(kafka_bootstrap, group, topic) == {0: 4}

    second = group_consumer(kafka_bootstrap, group, topic)
    try:
        resumed = _poll_until(second, 6)
    finally:
        second.close()
    assert [r.offset for r in resumed] == list(range(4, 10))
    assert _values(resumed) == values[4:]
    # Nothing was committed by the second member (auto commit is off), so the offset stands.
    assert committed_offsets(kafka_bootstrap, group, topic) == {0: 4}


def test_group_member_polling_in_tiny_steps_still_gets_its_partitions(
    kafka_bootstrap: str,
) -> None:
    """kafka-python 3.0.12 loses a group rejoin when poll() times out in the middle of it (the
    member then has no partitions and no heartbeats, silently). ``group_consumer`` loads the
    topic's metadata before the first join, so no rejoin happens: see docs/brokers.md."""
    topic = make_topic(kafka_bootstrap)
    produce_values(kafka_bootstrap, topic, [b"only"])
    consumer = group_consumer(kafka_bootstrap, unique_name("tiny"), topic)
    try:
        records: list = []
        deadline = time.monotonic() + 20
        while not records and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=5).values():
                records.extend(batch)
        assert _values(records) == [b"only"]
        assert consumer.assignment() == {TopicPartition(topic, 0)}
    finally:
        consumer.close()


def test_read_committed_hides_aborted_transaction_and_shows_committed_one(
    kafka_bootstrap: str, broker_kind: str
) -> None:
    topic = make_topic(kafka_bootstrap)
    producer = _transactional_producer(kafka_bootstrap)
    try:
        producer.begin_transaction()
        for i in range(3):
            producer.send(topic, value=f"aborted-{i}".encode())
        producer.flush()
        producer.abort_transaction()

        producer.begin_transaction()
        for i in range(3):
            producer.send(topic, value=f"committed-{i}".encode())
        producer.commit_transaction()
    finally:
        producer.close()

    aborted = [f"aborted-{i}".encode() for i in range(3)]
    committed = [f"committed-{i}".encode() for i in range(3)]
    # The aborted records are in the log: a read_uncommitted reader sees all six.
    uncommitted = consume_all(
        kafka_bootstrap, topic, expected=6, isolation_level="read_uncommitted"
    )
    assert _values(uncommitted) == aborted + committed

    expected = _read_committed_view(broker_kind, aborted, committed)
    visible = consume_all(
        kafka_bootstrap, topic, expected=len(expected), isolation_level="read_committed"
    )
    assert _values(visible) == expected


def test_open_transaction_is_invisible_to_read_committed_until_commit(
    kafka_bootstrap: str,
) -> None:
    topic = make_topic(kafka_bootstrap)
    produce_values(kafka_bootstrap, topic, [b"before"])
    producer = _transactional_producer(kafka_bootstrap)
    try:
        producer.begin_transaction()
        producer.send(topic, value=b"pending")
        producer.flush()  # on the broker, but not committed

        visible = consume_all(kafka_bootstrap, topic, expected=1, timeout=5)
        assert _values(visible) == [b"before"]

        producer.commit_transaction()
    finally:
        producer.close()
    assert _values(consume_all(kafka_bootstrap, topic, expected=2)) == [b"before", b"pending"]


def test_send_offsets_to_transaction_commits_offsets_only_with_the_transaction(
    kafka_bootstrap: str, broker_kind: str
) -> None:
    """Exactly-once consume-transform-produce: outputs and input offsets commit together."""
    source = make_topic(kafka_bootstrap, prefix="in")
    sink = make_topic(kafka_bootstrap, prefix="out")
    group = unique_name("eos")
    produce_values(kafka_bootstrap, source, [f"in-{i}".encode() for i in range(6)])
    tp = TopicPartition(source, 0)

    producer = _transactional_producer(kafka_bootstrap)
    consumer = group_consumer(kafka_bootstrap, group, source)
    try:
        # First batch: committed transaction -> outputs visible, offset 3 committed.
        batch = _poll_until(consumer, 3)
        assert [r.offset for r in batch] == [0, 1, 2]
        producer.begin_transaction()
        for record in batch:
            producer.send(sink, value=b"out-" + record.value)
        producer.send_offsets_to_transaction(
            {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)}, consumer.group_metadata()
        )
        producer.commit_transaction()

        # Second batch: aborted transaction -> no outputs, the committed offset stays at 3.
        batch = _poll_until(consumer, 3)
        assert [r.offset for r in batch] == [3, 4, 5]
        producer.begin_transaction()
        for record in batch:
            producer.send(sink, value=b"out-" + record.value)
        producer.send_offsets_to_transaction(
            {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1)}, consumer.group_metadata()
        )
        producer.flush()  # the aborted records reach the log before the abort
        producer.abort_transaction()
    finally:
        consumer.close()
        producer.close()

    assert committed_offsets(kafka_bootstrap, group, source) == {0: 3}
    committed_outputs = [b"out-in-0", b"out-in-1", b"out-in-2"]
    aborted_outputs = [b"out-in-3", b"out-in-4", b"out-in-5"]
    expected = _read_committed_view(
        broker_kind, aborted_outputs, committed_outputs, aborted_first=False
    )
    # wait for as many records as this broker shows (Tansu: the aborted ones too)
    outputs = consume_all(kafka_bootstrap, sink, expected=len(expected))
    assert _values(outputs) == expected

    # A restarted member resumes at the committed offset: the aborted batch is redone.
    restarted = group_consumer(kafka_bootstrap, group, source)
    try:
        redo = _poll_until(restarted, 3)
    finally:
        restarted.close()
    assert [r.offset for r in redo] == [3, 4, 5]


# --------------------------------------------------------------------------- EmbeddedBroker


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def _port_refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_embedded_broker_starts_answers_and_leaves_no_process_behind() -> None:
    with EmbeddedBroker(start_timeout=30) as broker:
        pid, port = broker.pid, broker.port
        assert pid is not None and broker.running
        assert broker.bootstrap == f"127.0.0.1:{port}"
        cluster = wait_for_broker(broker.bootstrap, timeout=5)
        assert cluster["brokers"]
        topic = make_topic(broker.bootstrap)
        produce_values(broker.bootstrap, topic, [b"x"])
        assert _values(consume_all(broker.bootstrap, topic, expected=1)) == [b"x"]

    assert not broker.running
    assert _process_gone(pid)
    assert _port_refuses(port)
    broker.stop()  # a second stop is harmless


def test_embedded_broker_stops_when_the_block_raises() -> None:
    broker = EmbeddedBroker()
    with pytest.raises(RuntimeError, match="boom"), broker:
        pid = broker.pid
        raise RuntimeError("boom")
    assert pid is not None and _process_gone(pid)


def test_embedded_broker_on_a_given_port_refuses_a_taken_one() -> None:
    first = EmbeddedBroker().start()
    try:
        taken = first.port
        with pytest.raises(PortInUseError, match="already in use"):
            EmbeddedBroker(taken, start_timeout=5).start()
        assert first.running  # the failed start did not touch the broker holding the port
    finally:
        first.stop()
    # Free again right after the stop: a new broker binds it.
    with EmbeddedBroker(taken) as again:
        assert again.bootstrap == f"127.0.0.1:{taken}"
        assert wait_for_broker(again.bootstrap, timeout=5)["brokers"]


def test_embedded_broker_missing_binary_is_a_broker_error(tmp_path) -> None:
    missing = tmp_path / "no-such-tansu"
    with pytest.raises(BrokerError, match="missing or not executable"):
        EmbeddedBroker(binary=str(missing)).start()


def test_calf_tansu_bin_pointing_nowhere_is_a_broker_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", os.fspath(tmp_path / "nothing"))
    with pytest.raises(BrokerError, match="no Tansu broker binary") as info:
        EmbeddedBroker().start()
    assert info.value.__cause__ is not None

"""In-memory stand-ins for the Kafka clients and the model, for unit tests of the loop and
delivery (the broker tests use the real ones). The futures are kafka-python's own."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kafka import errors as kafka_errors
from kafka.future import Future
from kafka.structs import TopicPartition

from consumer.model import ModelInfo

LABELS = ("business", "sport", "tech")


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp: int = 1_700_000_000_000
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def article(i: int, text: str = "The striker scored twice.") -> bytes:
    return json.dumps({"id": f"a{i}", "text": text}).encode()


class FakeModel:
    """Scores 'sport' for every text; raises on texts containing ``poison``; can be held."""

    def __init__(self, poison: str | None = None, broken: bool = False) -> None:
        self.info = ModelInfo(
            "v1", "ab" * 32, "cd" * 32, "fp32", LABELS, "CPUExecutionProvider", 64
        )
        self.labels = LABELS
        self.poison = poison
        self.broken = broken
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def tokenize(self, texts):
        self.gate.wait(10)
        for t in texts:
            if self.poison and self.poison in t:
                raise TypeError("the tokenizer chokes on this text")
        return [[101] + [7] * min(len(t), 20) + [102] for t in texts]

    def tokenize_marked(self, texts):
        return self.tokenize(texts), [len(t) > 20 for t in texts]

    def predict_texts(self, texts):
        return self.predict(self.tokenize(texts), texts)

    def predict(self, ids, texts=None):
        self.calls += 1
        if self.broken:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        out = np.tile(np.array([0.1, 0.8, 0.1], dtype=np.float32), (len(ids), 1))
        return out


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: list
    future: Future


class FakeProducer:
    """Records sends; acknowledgements are resolved by the test (in any order)."""

    def __init__(self, auto_ack: bool = False) -> None:
        self.sent: list[Sent] = []
        self.auto_ack = auto_ack
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.commit_error: BaseException | None = None
        self.refuse_topic: str | None = None  # the broker refuses every record for this topic
        self.refusal: BaseException | None = None

    def send(self, topic, key=None, value=None, headers=None):
        future = Future()
        with self.lock:
            self.sent.append(Sent(topic, key, value, headers, future))
        if self.refuse_topic == topic:
            future.failure(self.refusal)
        elif self.auto_ack:
            future.success(None)
        return future

    def ack(self, predicate=lambda s: True) -> int:
        n = 0
        with self.lock:
            pending = [s for s in self.sent if not s.future.is_done and predicate(s)]
        for s in pending:
            s.future.success(None)
            n += 1
        return n

    def fail(self, predicate, exc) -> int:
        with self.lock:
            pending = [s for s in self.sent if not s.future.is_done and predicate(s)]
        for s in pending:
            s.future.failure(exc)
        return len(pending)

    # transactions
    def init_transactions(self):
        self.calls.append("init")

    def begin_transaction(self):
        self.calls.append("begin")

    def send_offsets_to_transaction(self, offsets, group_metadata):
        self.calls.append(
            f"offsets:{sorted((tp.partition, m.offset) for tp, m in offsets.items())}"
        )

    def commit_transaction(self):
        if self.commit_error is not None:
            exc, self.commit_error = self.commit_error, None
            raise exc
        self.ack()
        self.calls.append("commit")

    def abort_transaction(self):
        self.calls.append("abort")

    def close(self, timeout=None):
        pass


def wait_until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class FakeConsumer:
    """A consumer of one topic whose partitions hold ``logs[p]`` records; the test drives it."""

    topic: str
    logs: dict[int, list[bytes]]
    listener: Any = None
    positions: dict[int, int] = field(default_factory=dict)
    assigned: set[int] = field(default_factory=set)
    paused_set: set[int] = field(default_factory=set)
    commits: list[dict[int, int]] = field(default_factory=list)
    pause_calls: int = 0
    resume_calls: int = 0
    per_poll: int = 1000
    generation: int = 1

    def subscribe(self, topics, listener=None):
        self.listener = listener

    def partitions_for_topic(self, topic):
        return set(self.logs)

    def assign_all(self) -> None:
        """A rebalance that gives every partition to this member (positions kept, as
        kafka-python does for a partition assigned straight back)."""
        if self.assigned:
            self.listener.on_partitions_revoked({self._tp(p) for p in self.assigned})
        self.assigned = set(self.logs)
        for p in self.assigned:
            self.positions.setdefault(p, 0)
        self.listener.on_partitions_assigned({self._tp(p) for p in self.assigned})

    def _tp(self, p: int) -> TopicPartition:
        return TopicPartition(self.topic, p)

    def poll(self, timeout_ms=0, max_records=500):
        out = {}
        budget = min(max_records, self.per_poll)
        for p in sorted(self.assigned - self.paused_set):
            pos = self.positions[p]
            values = self.logs[p][pos : pos + budget]
            if values:
                out[self._tp(p)] = [Rec(self.topic, p, pos + i, v) for i, v in enumerate(values)]
                self.positions[p] = pos + len(values)
                budget -= len(values)
        if not out:
            time.sleep(min(timeout_ms, 5) / 1000)
        return out

    def assignment(self):
        return {self._tp(p) for p in self.assigned}

    def paused(self):
        return {self._tp(p) for p in self.paused_set}

    def pause(self, *tps):
        self.pause_calls += 1
        for tp in tps:  # kafka-python: KeyError for a partition no longer assigned
            if tp.partition not in self.assigned:
                raise KeyError(tp)
        self.paused_set |= {tp.partition for tp in tps}

    def resume(self, *tps):
        self.resume_calls += 1
        for tp in tps:
            if tp.partition not in self.assigned:
                raise KeyError(tp)
        self.paused_set -= {tp.partition for tp in tps}

    def lose(self, *partitions: int) -> None:
        """The group moved on without this member (a session timeout): partitions lost."""
        self.assigned -= set(partitions)
        self.paused_set -= set(partitions)
        self.listener.on_partitions_lost({self._tp(p) for p in partitions})

    def seek(self, tp, offset):
        assert tp.partition in self.assigned
        self.positions[tp.partition] = offset

    def commit(self, offsets):
        self.commits.append({tp.partition: m.offset for tp, m in offsets.items()})

    def commit_async(self, offsets, callback=None):
        self.commit(offsets)

    def highwater(self, tp):
        if tp.partition not in self.assigned:  # as kafka-python does
            raise kafka_errors.IllegalStateError("Partition is not assigned")
        return len(self.logs[tp.partition])

    def group_metadata(self):
        return {"generation": self.generation}

    def committed(self) -> dict[int, int]:
        merged: dict[int, int] = {}
        for c in self.commits:
            for p, off in c.items():
                assert off >= merged.get(p, 0), f"commit went backwards on {p}: {self.commits}"
                merged[p] = off
        return merged

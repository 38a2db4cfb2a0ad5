"""The commit modes (consumer.checkpoint) on their own: what each commits, keeps, drops or stops
on. The loop's tests (test_loop.py) and the broker tests drive them end to end."""

from __future__ import annotations

import pytest
from kafka import errors as kafka_errors

from consumer.checkpoint import AtLeastOnce, Transactional
from consumer.errors import ExitCode, FatalError
from consumer.inflight import Batch, InFlight, State
from consumer.metrics import Metrics
from tests.consumer.fakes import Rec

T = "news"


class Consumer:
    """Records what is committed; ``fail`` is raised by the next commit (then cleared)."""

    def __init__(self) -> None:
        self.commits: list[dict[tuple[str, int], int]] = []
        self.async_commits: list[dict[tuple[str, int], int]] = []
        self.fail: BaseException | None = None

    def commit(self, offsets):
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc
        self.commits.append({(tp.topic, tp.partition): m.offset for tp, m in offsets.items()})

    def commit_async(self, offsets, callback=None):
        self.async_commits.append({(tp.topic, tp.partition): m.offset for tp, m in offsets.items()})

    def group_metadata(self):
        return "generation-7"


class Producer:
    def __init__(self) -> None:
        self.transactions_started = 0

    def init_transactions(self):
        self.transactions_started += 1


def batch(partition: int, first: int, n: int, state: State = State.DELIVERED) -> Batch:
    b = Batch([Rec(T, partition, first + i, b"{}") for i in range(n)])
    b.state = state
    return b


def at_least_once(consumer: Consumer) -> AtLeastOnce:
    return AtLeastOnce(consumer, Metrics())


def retries(cp: AtLeastOnce) -> float:
    return cp.metrics.registry.get_sample_value("newsclf_retries_total", {"kind": "commit"}) or 0


OWNED = {(T, 0), (T, 1)}


def test_at_least_once_commits_the_highest_delivered_offset_per_owned_partition():
    c = Consumer()
    cp = at_least_once(c)
    cp.finished([batch(0, 0, 4), batch(1, 0, 2), batch(0, 4, 3), batch(1, 2, 5, State.DROPPED)])
    assert cp.pending
    cp.commit(OWNED)
    assert c.commits == [{(T, 0): 7, (T, 1): 2}]
    assert not cp.pending
    cp.commit(OWNED)  # nothing new: no commit call
    assert len(c.commits) == 1


def test_at_least_once_skips_partitions_no_longer_owned_and_uncommittable_batches():
    c = Consumer()
    cp = at_least_once(c)
    lost = batch(1, 0, 3)
    lost.committable = False
    cp.finished([batch(0, 0, 2), lost, batch(2, 0, 9)])
    cp.commit({(T, 0)})
    assert c.commits == [{(T, 0): 2}]
    cp.finished([batch(2, 9, 1)])
    cp.commit({(T, 0)})  # only a partition owned by someone else: dropped, nothing sent
    assert len(c.commits) == 1 and not cp.pending


def test_at_least_once_keeps_offsets_through_a_rebalance_in_progress_and_retries():
    c = Consumer()
    cp = at_least_once(c)
    cp.finished([batch(0, 0, 5)])
    c.fail = kafka_errors.RebalanceInProgressError()
    cp.commit(OWNED)
    assert c.commits == [] and cp.pending
    c.fail = kafka_errors.NodeNotReadyError("broker 1")  # retriable
    cp.commit(OWNED)
    assert c.commits == [] and cp.pending and retries(cp) == 1
    cp.finished([batch(0, 5, 2)])
    cp.commit(OWNED)
    assert c.commits == [{(T, 0): 7}] and not cp.pending


def test_at_least_once_drops_offsets_the_group_refused_and_raises_what_is_not_retriable():
    c = Consumer()
    cp = at_least_once(c)
    cp.finished([batch(0, 0, 5)])
    c.fail = kafka_errors.CommitFailedError("generation moved on")
    cp.commit(OWNED)  # the records may come again to the new owner: nothing to keep
    assert c.commits == [] and not cp.pending
    cp.finished([batch(0, 5, 1)])
    c.fail = kafka_errors.TopicAuthorizationFailedError()
    with pytest.raises(kafka_errors.TopicAuthorizationFailedError):
        cp.commit(OWNED)


def test_at_least_once_revocation_commits_finished_and_pending_and_seeks_back_the_rest():
    c = Consumer()
    cp = at_least_once(c)
    cp.finished([batch(1, 0, 3)])
    c.fail = kafka_errors.RebalanceInProgressError()
    cp.commit(OWNED)  # refused meanwhile: still pending
    inflight = InFlight()
    done, delivering, queued = batch(0, 0, 4), batch(0, 4, 4, State.DELIVERING), batch(0, 8, 2)
    queued.state = State.QUEUED
    for b in (done, delivering, queued):
        inflight.add(b)
    seek: dict[tuple[str, int], int] = {(T, 0): 10}
    finished = cp.revoke(inflight, seek, wait=0.05)
    assert finished == [done]
    assert c.async_commits == [{(T, 0): 4, (T, 1): 3}]
    # the batch still delivering is never committed, and its partition is read again from it
    assert delivering.committable is False and queued.state is State.DROPPED
    assert seek == {(T, 0): 4}


def test_transactional_commits_nothing_itself_and_stamps_batches_with_the_generation():
    c, p, m = Consumer(), Producer(), Metrics()
    cp = Transactional(c, p, m, on_fatal=pytest.fail)
    cp.open()
    assert p.transactions_started == 1
    assert cp.group_metadata() == "generation-7"
    cp.finished([batch(0, 0, 4)])
    cp.commit(OWNED)
    assert not cp.pending and c.commits == []
    inflight = InFlight()
    inflight.add(batch(0, 0, 4, State.COMMITTED))
    assert len(cp.revoke(inflight, {}, wait=0.05)) == 1
    assert c.commits == [] and c.async_commits == []


def test_transactional_stops_the_service_when_a_revocation_cannot_wait_for_a_transaction():
    fatal: list[BaseException] = []
    c, m = Consumer(), Metrics()
    cp = Transactional(c, Producer(), m, on_fatal=fatal.append)
    inflight = InFlight()
    stuck = batch(0, 0, 4, State.DELIVERING)
    inflight.add(stuck)
    cp.revoke(inflight, {}, wait=0.05)
    assert len(fatal) == 1 and isinstance(fatal[0], FatalError)
    assert fatal[0].code is ExitCode.DELIVERY
    assert stuck.committable  # its transaction decides; nothing is committed around it

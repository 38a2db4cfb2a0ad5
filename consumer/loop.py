"""The loop: poll, batch window, rebalances, backpressure, commits, health.

Three threads share the work, so the device is never idle waiting for Python or Kafka:

* **the loop** (the caller's thread; it alone touches the consumer): polls, closes batches on
  size or wait, decodes them, commits finished batches in order, pauses the input partitions
  while ``max_in_flight_batches`` are in flight (heartbeats and polls go on), keeps the health;
* **inference**: tokenizes and runs the model (both release the GIL) while the loop decodes
  the next batch; a failed batch goes through :mod:`consumer.policy`;
* **delivery** (:mod:`consumer.delivery`): sends the outputs of the batch before, while
  acknowledgements of earlier ones arrive on the producer's own thread.

Offsets are committed strictly in batch order, only when everything before them is
acknowledged: a crash re-delivers at most what is in flight. How they are committed (by the
consumer, or inside each batch's transaction) is :mod:`consumer.checkpoint`'s; the loop says
when. SIGTERM (:meth:`Loop.stop`)
finishes the batches in flight, commits them and returns.

Rebalances (the listener runs on kafka-python's network thread while ``poll`` blocks): a batch
whose delivery has started is finished and committed before the partitions are released; a
batch that has not, and the records still in the window, are dropped and their partitions
sought back to the first dropped record. kafka-python keeps the fetch position of a partition
that is revoked and assigned straight back; the seek is what keeps those records from being
skipped.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import ConsumerRebalanceListener
from kafka import errors as kafka_errors
from kafka.structs import TopicPartition

from consumer import pipeline
from consumer.batch_metrics import account
from consumer.checkpoint import make_checkpoint
from consumer.delivery import FENCED_ERRORS, Delivery
from consumer.errors import ExitCode, FatalError
from consumer.health import Health, NotReady
from consumer.inference import Inference
from consumer.inflight import TP, Batch, InFlight, State
from consumer.metrics import Metrics
from consumer.serving import MULTIPROCESS, ModelSlot, Served, build_served
from consumer.settings import Settings
from newsclf.drift import DriftWindow

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
BUSY_POLL_S = 0.01  # while batches are in flight: come back soon to commit them


class _Listener(ConsumerRebalanceListener):
    def __init__(self, loop: Loop) -> None:
        self._loop = loop

    def on_partitions_revoked(self, revoked: Any) -> None:
        self._loop.on_revoked({(tp.topic, tp.partition) for tp in revoked})

    def on_partitions_assigned(self, assigned: Any) -> None:
        self._loop.on_assigned({(tp.topic, tp.partition) for tp in assigned})

    def on_partitions_lost(self, lost: Any) -> None:
        self._loop.on_lost({(tp.topic, tp.partition) for tp in lost})


class Loop:
    def __init__(
        self,
        settings: Settings,
        model: Any,
        consumer: Any,
        producer: Any,
        metrics: Metrics,
        health: Health,
        *,
        delivery_cls: type[Delivery] = Delivery,
        clock: Callable[[], float] = time.monotonic,
        record_limits: dict[str, int] | None = None,
        detect: pipeline.Detect | None = None,
        shadow: Any = None,
        classify: Callable[..., pipeline.Classified] = pipeline.classify,
    ) -> None:
        s = self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.metrics = metrics
        self.health = health
        self.clock = clock
        self.timer = metrics.timer
        self.detect = detect
        self.shadow = shadow  # consumer.shadow.Shadow: offered every committed batch
        self.inflight = InFlight()
        self.checkpoint = make_checkpoint(s, consumer, producer, metrics, on_fatal=self._set_fatal)
        self.slot = ModelSlot(build_served(s, model, record_limits), metrics)
        self.labels: tuple[str, ...] = self.slot.labels
        self.inference = Inference(
            s,
            lambda: self.slot.current,
            self.inflight,
            timer=self.timer,
            on_retry=metrics.retries.labels(kind="inference").inc,
            on_inferred=lambda batch: self._deliver_q.put(("deliver", batch)),
            on_fatal=self._set_fatal,
            classify=classify,
        )
        self._deliver_q: queue.SimpleQueue[tuple[str, Batch] | None] = queue.SimpleQueue()
        self.delivery = delivery_cls(
            producer,
            self.routes,
            self.inflight,
            exactly_once=s.exactly_once,
            delivery_timeout_s=s.delivery_timeout_s,
            timer=self.timer,
            resolve_later=lambda batch: self._deliver_q.put(("resolve", batch)),
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # the window and the batches a rebalance finished
        self._window: list[Any] = []
        self._window_opened: float | None = None
        self._finished_in_rebalance: list[Batch] = []
        self._assignment: set[TP] = set()
        self._stop = threading.Event()
        self._fatal: BaseException | None = None
        self._joined = False
        self._draining = False
        self._closed = False

    # ------------------------------------------------------------------ the served model
    @property
    def served(self) -> Served:
        return self.slot.current

    @property
    def model(self) -> Any:
        return self.slot.current.model

    @property
    def routes(self) -> pipeline.Routes:
        return self.slot.current.routes

    @property
    def drift(self) -> DriftWindow | None:
        return self.slot.current.drift

    def swap(self, served: Served) -> None:
        """Hot reload: :meth:`consumer.serving.ModelSlot.swap`."""
        self.slot.swap(served)

    # ------------------------------------------------------------------------- control
    def stop(self) -> None:
        """Stop taking records; :meth:`run` finishes what is in flight, commits it, returns."""
        self._stop.set()

    def run(self) -> None:
        """Consume until :meth:`stop`. Raises :class:`FatalError` when the service must exit."""
        self.open()
        try:
            while not self._stop.is_set():
                self.step()
            self.drain()
        except BaseException:
            self._salvage()
            raise
        finally:
            self.close()
        log.info("stopped consuming")

    def open(self) -> None:
        """Start the workers and subscribe."""
        s = self.settings
        self.checkpoint.open()
        self._start_workers()
        self.consumer.subscribe([s.input_topic], listener=_Listener(self))
        # kafka-python 3.0.12: a member whose first assignment comes back empty (topic metadata
        # not known yet) rejoins, and a short poll() can abandon that rejoin. Fetching the
        # topic's metadata first avoids it.
        self.consumer.partitions_for_topic(s.input_topic)
        log.info(
            "consuming", extra={"topic": s.input_topic, "group": s.group_id, "delivery": s.delivery}
        )

    def close(self) -> None:
        """Stop the workers (the clients are the service's to close)."""
        self._stop_workers()
        self._closed = True

    # --------------------------------------------------------------------------- steps
    def step(self) -> None:
        """One round: poll, close and decode batches, commit what finished, pause or resume."""
        self._raise_fatal()
        s = self.settings
        with self.timer("poll"):
            try:
                polled = self.consumer.poll(
                    timeout_ms=int(self._poll_timeout() * 1000), max_records=s.poll_max_records
                )
            except FENCED_ERRORS as exc:
                raise FatalError(ExitCode.FENCED, f"fenced out of the group: {exc}") from exc
            except kafka_errors.KafkaError:
                self._raise_fatal()  # a rebalance callback failed: report its cause
                raise
        self.health.beat()
        now = self.clock()
        if polled and not self._draining:  # draining: nothing new is taken (see drain)
            with self._lock:
                for records in polled.values():
                    self._window.extend(records)
                if self._window_opened is None and self._window:
                    self._window_opened = now
        self._form_batches(now)
        self._commit_finished()
        self._backpressure()
        self._update_readiness(now)

    def _poll_timeout(self) -> float:
        if self._window and self._window_opened is not None:
            if len(self.inflight) >= self.settings.max_in_flight_batches:
                # Full: nothing to do until a batch finishes. Wait for that instead of polling
                # every few ms (each poll costs CPU the model could use); then poll at once.
                self.inflight.wait_for_finish(IDLE_POLL_S)
                return 0.0
            left = self.settings.batch_max_wait_ms / 1000 - (self.clock() - self._window_opened)
            return max(left, 0.0)
        return BUSY_POLL_S if len(self.inflight) else IDLE_POLL_S

    def _form_batches(self, now: float) -> None:
        """Close batches on size or wait while there is room in flight; decode them."""
        s = self.settings
        wait_s = s.batch_max_wait_ms / 1000
        while True:
            with self._lock:
                if not self._window or len(self.inflight) >= s.max_in_flight_batches:
                    return
                opened = self._window_opened if self._window_opened is not None else now
                if not (len(self._window) >= s.batch_max_records or now - opened >= wait_s):
                    return
            metadata = self.checkpoint.group_metadata()
            with self._lock:  # the window may have been emptied by a rebalance meanwhile
                records = self._window[: s.batch_max_records]
                if not records:
                    return
                del self._window[: s.batch_max_records]
                self._window_opened = now if self._window else None
                batch = Batch(records, group_metadata=metadata)
                with self.timer("decode"):
                    batch.decoded = pipeline.decode(records, s.max_message_bytes)
                self.inflight.add(batch)
            # Here, not on the inference thread: that thread bounds throughput on a GPU, this
            # one waits on the network most of the time.
            with self.timer("language"):
                batch.languages = pipeline.detect_languages(batch.decoded, self.detect)
            self.metrics.in_flight.set(len(self.inflight))
            self.inference.put(batch)

    def _commit_finished(self) -> None:
        """Commit the offsets of the finished batches at the head of the line, in order."""
        done = self.inflight.pop_finished()
        with self._lock:
            done = self._finished_in_rebalance + done
            self._finished_in_rebalance = []
        if done:
            self._account(done)
            self.checkpoint.finished(done)
            self.metrics.in_flight.set(len(self.inflight))
        self.checkpoint.commit(self._assignment)

    def _account(self, batches: list[Batch]) -> None:
        if self.shadow is not None:
            for b in batches:
                if b.state is not State.DROPPED:
                    self.shadow.offer(b)
        account(
            self.metrics,
            batches,
            current=self.served,
            assigned=lambda tp: tp in self._assignment,
            highwater=self._highwater,
        )

    def _highwater(self, tp: TP) -> int | None:
        try:
            return self.consumer.highwater(TopicPartition(*tp))  # type: ignore[no-any-return]
        except kafka_errors.IllegalStateError:
            return None  # revoked meanwhile: the listener runs on the network thread

    def _backpressure(self) -> None:
        # A full batch still waiting in the window means there was no room in flight for it:
        # take nothing more until there is (the window stays under batch + one poll).
        hold = len(self._window) >= self.settings.batch_max_records or self._draining
        if hold:
            assigned = set(self.consumer.assignment()) - set(self.consumer.paused())
            if assigned:
                self._pause(assigned)
                self.metrics.paused.set(1)
        else:
            paused = self.consumer.paused()
            if paused:
                self._resume(paused)
                self.metrics.paused.set(0)

    # The rebalance listener runs on kafka-python's network thread: a partition read from
    # assignment() here may be gone a moment later. Pausing or resuming it then raises
    # (KeyError from the subscription state); it is nobody's partition to pause any more.
    def _pause(self, partitions: Any) -> None:
        for tp in partitions:
            with contextlib.suppress(KeyError, kafka_errors.IllegalStateError):
                self.consumer.pause(tp)

    def _resume(self, partitions: Any) -> None:
        for tp in partitions:
            with contextlib.suppress(KeyError, kafka_errors.IllegalStateError):
                self.consumer.resume(tp)

    def _update_readiness(self, now: float) -> None:
        stalled = self.inflight.oldest_delivering_age(now)
        detail = ""
        if self._draining:
            reason: NotReady | None = NotReady.DRAINING
        elif not self._joined:
            reason = NotReady.JOINING
        elif self.inference.retrying:
            reason = NotReady.INFERENCE_RETRYING
        elif stalled > self.settings.produce_timeout_s:
            reason = NotReady.DELIVERY_STALLED
            detail = f"outputs unacknowledged for {stalled:.0f} s"
        else:
            reason = None
        self.health.set_not_ready(reason, detail)

    def drain(self) -> None:
        """SIGTERM: finish the batches in flight (delivered and committed), then return.
        Records polled but not yet batched are left to whoever reads the partition next:
        no offset is committed past them, and nothing was done with them."""
        self._raise_fatal()
        # Order matters: stop fetching, stop taking records, then forget the window. A record
        # polled after the window was dropped and batched would carry its partition's commit
        # past the dropped ones (their position is not sought back: the member is leaving).
        self._pause(self.consumer.assignment())
        self._draining = True
        left = len(self._drop_window())
        log.info("draining", extra={"in_flight": len(self.inflight), "left_unread": left})
        deadline = self.clock() + self.settings.delivery_timeout_s + 30
        while len(self.inflight) or self.checkpoint.pending:
            self._raise_fatal()
            if self.clock() > deadline:
                raise FatalError(ExitCode.DELIVERY, "draining did not finish in time")
            self.step()
        self._raise_fatal()

    def _salvage(self) -> None:
        """On a fatal error: still commit the batches already delivered (fewer duplicates)."""
        try:
            self._commit_finished()
        except Exception as exc:  # noqa: BLE001 - best effort on the way out
            log.info("final commit skipped", extra={"error": f"{type(exc).__name__}: {exc}"})

    # ---------------------------------------------------------------------- rebalances
    def on_revoked(self, revoked: set[TP]) -> None:
        s = self.settings
        self._joined = False
        if self._closed:  # the consumer closes: everything that could finish has finished
            return
        seek = self._drop_window()
        wait = min(s.delivery_timeout_s, 0.8 * s.session_timeout_ms / 1000)
        finished = self.checkpoint.revoke(self.inflight, seek, wait)
        with self._lock:
            self._finished_in_rebalance += finished
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        for tp, off in seek.items():
            if tp in assigned:
                self.consumer.seek(TopicPartition(*tp), off)
        self._forget(revoked)
        log.info(
            "partitions revoked",
            extra={
                "partitions": sorted(f"{t}-{p}" for t, p in revoked),
                "committed_batches": len(finished),
                "sought_back": {f"{t}-{p}": off for (t, p), off in sorted(seek.items())},
            },
        )

    def on_lost(self, lost: set[TP]) -> None:
        self._joined = False
        self._drop_window()
        self.inflight.drop_undelivered()
        self.inflight.mark_uncommittable()
        self._forget(lost)
        log.warning(
            "partitions lost (the group moved on without this member): uncommitted work dropped",
            extra={"partitions": sorted(f"{t}-{p}" for t, p in lost)},
        )

    def on_assigned(self, assigned: set[TP]) -> None:
        self._assignment = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        self.metrics.assigned.set(len(self._assignment))
        self._joined = True
        log.info(
            "partitions assigned",
            extra={
                "partitions": sorted(f"{t}-{p}" for t, p in self._assignment),
                "member": self.settings.client_id,
            },
        )

    def _drop_window(self) -> dict[TP, int]:
        seek: dict[TP, int] = {}
        with self._lock:
            for r in self._window:
                tp = (r.topic, r.partition)
                seek[tp] = min(seek.get(tp, r.offset), r.offset)
            self._window.clear()
            self._window_opened = None
        return seek

    def _forget(self, partitions: set[TP]) -> None:
        self._assignment -= partitions
        self.metrics.assigned.set(len(self._assignment))
        for topic, partition in partitions:
            if MULTIPROCESS:  # a worker's series outlives remove(): zero it for the pod's sum
                self.metrics.lag.labels(topic=topic, partition=str(partition)).set(0)
            else:
                with contextlib.suppress(KeyError):
                    self.metrics.lag.remove(topic, str(partition))

    # ------------------------------------------------------------------------- workers
    def _start_workers(self) -> None:
        self.inference.start()
        self._threads = [
            threading.Thread(target=self._delivery_worker, name="delivery", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _stop_workers(self) -> None:
        self.inference.stop()
        self._deliver_q.put(None)
        for t in self._threads:
            t.join(timeout=10)

    def _delivery_worker(self) -> None:
        while True:
            item = self._deliver_q.get()
            if item is None:
                return
            kind, batch = item
            try:
                if kind == "deliver":
                    self.delivery.deliver(batch)
                else:
                    self.delivery.resolve(batch)
            except BaseException as exc:
                batch.committable = False
                self.inflight.finish(batch, State.DROPPED)  # never committed; nobody waits on it
                self._set_fatal(exc)
                return

    # -------------------------------------------------------------------------- fatal
    def _set_fatal(self, exc: BaseException) -> None:
        if self._fatal is None:
            self._fatal = exc
        self._stop.set()

    def _raise_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

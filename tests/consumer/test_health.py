"""The HTTP server of /metrics and the probes."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from consumer.health import Health, HealthServer


def test_a_server_that_never_started_stops_at_once():
    """Service.close() stops it on every path, including one where run() never started it."""
    server = HealthServer(CollectorRegistry(), Health(stall_after_s=30), "127.0.0.1", 0)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive(), "stop() waited for a serve loop that never ran"


def test_readiness_reasons_are_an_enum_published_by_workers_as_codes():
    from multiprocessing import Array

    from consumer.health import Health, NotReady
    from consumer.supervisor import REASONS, PodHealth, PublishedHealth, reason_code

    health = Health(30)
    assert health.reason is NotReady.STARTING and not health.ready
    health.set_not_ready(NotReady.DELIVERY_STALLED, "outputs unacknowledged for 31 s")
    assert health.not_ready_because == "delivery stalled: outputs unacknowledged for 31 s"
    health.set_not_ready(None)
    assert health.ready and health.not_ready_because is None
    assert [REASONS[reason_code(r)] for r in (None, *NotReady)] == [None, *NotReady]

    beats, reasons = Array("d", 2), Array("i", 2)
    workers = [PublishedHealth(30, beats, reasons, i) for i in range(2)]

    class Alive:
        def is_alive(self):
            return True

    pod = PodHealth([Alive(), Alive()], beats, reasons, 30)
    assert pod.not_ready_because == "worker 0: starting"
    workers[0].set_not_ready(None)
    workers[1].set_not_ready(NotReady.DRAINING)
    assert pod.not_ready_because == "worker 1: draining"
    workers[1].set_not_ready(None)
    assert pod.ready

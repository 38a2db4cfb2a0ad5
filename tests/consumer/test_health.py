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

"""One small HTTP server for ``/metrics``, ``/healthz`` (the loop is alive) and ``/readyz``.

Ready means: the model is loaded, the consumer is a member of its group (with or without
partitions: an extra replica is ready too), and nothing is degraded: not draining, no delivery
stalled past the produce timeout, no inference retrying after a failure of the machine. The
body of a 503 says which."""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


class HealthView(Protocol):
    """What the HTTP server reads: one service's :class:`Health`, or a pod's over workers."""

    def alive(self) -> bool: ...

    @property
    def ready(self) -> bool: ...

    @property
    def not_ready_because(self) -> str | None: ...


class NotReady(enum.Enum):
    """Why a service is not ready; the value is what ``/readyz`` says (with any detail)."""

    STARTING = "starting"
    JOINING = "joining the consumer group"
    DRAINING = "draining"
    INFERENCE_RETRYING = "inference failing (machine), retrying"
    DELIVERY_STALLED = "delivery stalled"
    STOPPED = "stopped"


class Health:
    """Liveness and readiness flags the loop updates."""

    def __init__(self, stall_after_s: float) -> None:
        self.stall_after_s = stall_after_s
        self._beat = time.monotonic()
        self.reason: NotReady | None = NotReady.STARTING
        self.detail = ""

    def set_not_ready(self, reason: NotReady | None, detail: str = "") -> None:
        """``None``: ready. ``detail`` follows the reason on ``/readyz`` (say, for how long)."""
        self.reason, self.detail = reason, detail

    def beat(self) -> None:
        self._beat = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._beat < self.stall_after_s

    @property
    def not_ready_because(self) -> str | None:
        if self.reason is None:
            return None
        return f"{self.reason.value}: {self.detail}" if self.detail else self.reason.value

    @property
    def ready(self) -> bool:
        return self.reason is None


def _handler(registry: CollectorRegistry, health: HealthView) -> type[BaseHTTPRequestHandler]:
    routes: dict[str, Callable[[], tuple[int, bytes, str]]] = {
        "/metrics": lambda: (200, generate_latest(registry), CONTENT_TYPE_LATEST),
        "/healthz": lambda: (
            (200, b"ok\n", "text/plain") if health.alive() else (503, b"stalled\n", "text/plain")
        ),
        "/readyz": lambda: (
            (200, b"ready\n", "text/plain")
            if health.ready
            else (503, f"not ready: {health.not_ready_because}\n".encode(), "text/plain")
        ),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            route = routes.get(self.path.split("?", 1)[0])
            status, body, ctype = route() if route else (404, b"not found\n", "text/plain")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    return Handler


class HealthServer:
    """Serves the registry and the health flags on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self, registry: CollectorRegistry, health: HealthView, host: str, port: int
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(registry, health))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("http server listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe on a server that never started (shutdown
        would wait forever for a loop that is not running)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

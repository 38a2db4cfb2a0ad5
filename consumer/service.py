"""Wire the parts together: model, metrics, health server, Kafka clients, loop."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from consumer.delivery import Delivery
from consumer.health import Health, HealthServer
from consumer.kafka_io import make_consumer, make_producer
from consumer.loop import Loop
from consumer.metrics import Metrics
from consumer.model import OnnxClassifier
from consumer.settings import Settings

log = logging.getLogger(__name__)


class Service:
    """Load the model first (fail fast), then connect to Kafka, then serve.

    ``http=False`` when a supervisor serves ``/metrics`` and the health of several workers."""

    def __init__(
        self,
        settings: Settings,
        *,
        delivery_cls: type[Delivery] = Delivery,
        metrics: Metrics | None = None,
        health: Health | None = None,
        http: bool = True,
    ) -> None:
        self.settings = settings
        self.model = OnnxClassifier.load(
            settings.model_dir,
            settings.execution_provider,
            settings.intra_op_threads,
            settings.model_sha256,
        )
        self.metrics = metrics or Metrics()
        self.health = health or Health(stall_after_s=max(settings.max_poll_interval_ms / 1000, 30))
        self.http = (
            HealthServer(
                self.metrics.registry, self.health, settings.metrics_host, settings.metrics_port
            )
            if http
            else None
        )
        self.consumer = make_consumer(settings)
        try:
            self.producer = make_producer(settings)
        except Exception:
            self.consumer.close(autocommit=False)
            raise
        self.loop = Loop(
            settings,
            self.model,
            self.consumer,
            self.producer,
            self.metrics,
            self.health,
            delivery_cls=delivery_cls,
        )

    def run(self) -> None:
        """Serve until :meth:`stop`; always closes the clients and leaves the group."""
        if self.http is not None:
            self.http.start()
        try:
            self.loop.run()
        finally:
            self.close()

    def stop(self) -> None:
        self.loop.stop()

    def close(self) -> None:
        self.health.not_ready_because = "stopped"
        try:
            self.consumer.close(autocommit=False)  # leaves the group; offsets already committed
        except Exception as exc:  # noqa: BLE001 - closing must go on
            log.warning("consumer close failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        finally:
            try:
                self.producer.close(timeout=self.settings.produce_timeout_s)
            finally:
                if self.http is not None:
                    self.http.stop()
                log.info("service closed")

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT: finish the batches in flight, commit, leave the group."""
        if threading.current_thread() is not threading.main_thread():
            return

        def _handle(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received, draining", extra={"signal": signum})
            self.stop()

        signal.signal(signal.SIGTERM, _handle)
        signal.signal(signal.SIGINT, _handle)

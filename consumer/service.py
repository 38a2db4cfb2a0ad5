"""Wire the parts together: model, metrics, health server, Kafka clients, worker."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from consumer.health import Health, HealthServer
from consumer.kafka_io import make_consumer, make_producer
from consumer.metrics import Metrics
from consumer.model import OnnxClassifier
from consumer.settings import Settings
from consumer.worker import Worker

log = logging.getLogger(__name__)


class Service:
    """Load the model first (fail fast), then connect to Kafka, then serve."""

    def __init__(self, settings: Settings, worker_cls: type[Worker] = Worker) -> None:
        self.settings = settings
        self.model = OnnxClassifier.load(
            settings.model_dir, settings.execution_provider, settings.intra_op_threads
        )
        self.metrics = Metrics()
        self.health = Health(stall_after_s=max(settings.max_poll_interval_ms / 1000, 30))
        self.http = HealthServer(
            self.metrics.registry, self.health, settings.metrics_host, settings.metrics_port
        )
        self.consumer = make_consumer(settings)
        try:
            self.producer = make_producer(settings)
        except Exception:
            self.consumer.close(autocommit=False)
            raise
        self.worker = worker_cls(
            settings, self.model, self.consumer, self.producer, self.metrics, self.health
        )

    def run(self) -> None:
        """Serve until :meth:`stop`; always closes the clients and leaves the group."""
        self.http.start()
        try:
            self.worker.run()
        finally:
            self.close()

    def stop(self) -> None:
        self.worker.stop()

    def close(self) -> None:
        self.health.ready = False
        try:
            self.consumer.close(autocommit=False)  # leaves the group; offsets already committed
        finally:
            self.producer.close(timeout=self.settings.produce_timeout_s)
            self.http.stop()
            log.info("service closed")

    def install_signal_handlers(self) -> None:
        """SIGTERM / SIGINT: finish the batch in flight, commit, leave the group."""
        if threading.current_thread() is not threading.main_thread():
            return

        def _handle(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received, finishing the batch in flight", extra={"signal": signum})
            self.stop()

        signal.signal(signal.SIGTERM, _handle)
        signal.signal(signal.SIGINT, _handle)

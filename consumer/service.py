"""Wire the parts together: model, metrics, health server, Kafka clients, loop."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from consumer import pipeline
from consumer.delivery import Delivery
from consumer.errors import ConfigError, ExitCode, FatalError
from consumer.health import Health, HealthServer, NotReady
from consumer.kafka_io import (
    KafkaAuthError,
    TopicLimits,
    make_consumer,
    make_producer,
    preflight,
    topic_limits,
)
from consumer.limits import dead_letter_max_bytes
from consumer.loop import Loop
from consumer.metrics import Metrics
from consumer.model import ModelError, OnnxClassifier
from consumer.reload import Reloader
from consumer.settings import Settings
from consumer.shadow import Shadow, ShadowSlot
from newsclf.cli import fail
from newsclf.language import LanguageDetector

log = logging.getLogger(__name__)


def load_detector() -> LanguageDetector:
    """The language detector, loaded once at start-up (fail here, not on the first article)."""
    started = time.perf_counter()
    try:
        detector = LanguageDetector()
        detector.detect(["The language detector is loaded and working."])
    except Exception as exc:
        raise ModelError(f"cannot load the language detector: {type(exc).__name__}: {exc}") from exc
    log.info(
        "language detector loaded",
        extra={"detector": detector.name, "seconds": round(time.perf_counter() - started, 3)},
    )
    return detector


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
        classify: Callable[..., pipeline.Classified] = pipeline.classify,
    ) -> None:
        self.settings = settings
        self._shadow_producer: Any = None
        self.model = OnnxClassifier.load(
            settings.model_dir,
            settings.execution_provider,
            settings.intra_op_threads,
            settings.model_sha256,
        )
        self.detector = load_detector()
        self.metrics = metrics or Metrics()
        self.shadow = self._shadow(settings) if settings.shadow_model_dir else None
        self.health = health or Health(stall_after_s=max(settings.max_poll_interval_ms / 1000, 30))
        self.http = (
            HealthServer(
                self.metrics.registry, self.health, settings.metrics_host, settings.metrics_port
            )
            if http
            else None
        )
        admin = preflight(settings)  # a refused login stops here, at once, with one line
        try:
            limits = self._limits(admin, settings)
        finally:
            admin.close()
        self.consumer = make_consumer(settings)
        try:
            self.producer = make_producer(settings, limits)
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
            record_limits=limits,
            detect=self.detector.detect,
            shadow=self.shadow,
            classify=classify,
        )
        self.reloader = Reloader(
            settings, self.loop, self.metrics, load=OnnxClassifier.load, record_limits=limits
        )
        self.shadow_reloader = (
            Reloader(
                settings,
                ShadowSlot(self.shadow, self.model.info.labels),
                self.metrics,
                load=OnnxClassifier.load,
                model_dir=settings.shadow_model_dir,
                role="shadow",
            )
            if self.shadow is not None
            else None
        )

    def _shadow(self, settings: Settings) -> Shadow:
        """The candidate model, loaded and checked like the live one (same labels)."""
        assert settings.shadow_model_dir is not None
        candidate = OnnxClassifier.load(
            settings.shadow_model_dir, settings.execution_provider, settings.intra_op_threads
        )
        if candidate.info.labels != self.model.info.labels:
            raise ConfigError(
                f"the shadow model's labels ({', '.join(candidate.info.labels)}) differ from "
                f"the live model's ({', '.join(self.model.info.labels)})"
            )
        publish = None
        if settings.shadow_topic:
            self._shadow_producer = KafkaProducer(**settings.kafka_common(), acks=1, linger_ms=20)
            topic = settings.shadow_topic

            def publish(key: bytes, value: bytes) -> None:
                self._shadow_producer.send(topic, key=key, value=value)

        log.info(
            "shadow model",
            extra={
                "model_version": candidate.info.version,
                "model_sha256": candidate.info.sha256,
                "sample": settings.shadow_sample,
                "topic": settings.shadow_topic,
            },
        )
        return Shadow(
            candidate,
            self.metrics,
            sample=settings.shadow_sample,
            queue_batches=settings.shadow_queue_batches,
            publish=publish,
            live_version=self.model.info.version,
        )

    def _limits(self, admin: KafkaAdminClient, settings: Settings) -> TopicLimits:
        """What each output topic accepts; refuse a dead-letter topic that cannot take even a
        dead letter without the original embedded."""
        topics = [settings.output_topic, settings.dlq_topic]
        if settings.review_routing:
            topics.append(settings.review_topic)
        if settings.route_by_label:
            topics += [f"{settings.label_topic_prefix}{lb}" for lb in self.model.info.labels]
        limits = topic_limits(admin, settings, topics)
        dlq = limits.get(settings.dlq_topic, settings.producer_max_request_size)
        if dead_letter_max_bytes(0) > dlq:
            raise ConfigError(
                f"{settings.dlq_topic} accepts records of at most {dlq} bytes "
                f"(max.message.bytes); a dead letter needs up to {dead_letter_max_bytes(0)}"
            )
        return limits

    def run(self) -> None:
        """Serve until :meth:`stop`; always closes the clients and leaves the group."""
        if self.http is not None:
            self.http.start()
        self.reloader.start()
        if self.shadow is not None:
            self.shadow.start()
        if self.shadow_reloader is not None:
            self.shadow_reloader.start()
        try:
            self.loop.run()
        finally:
            self.reloader.stop()
            if self.shadow_reloader is not None:
                self.shadow_reloader.stop()
            if self.shadow is not None:
                self.shadow.stop()
                if self._shadow_producer is not None:
                    self._shadow_producer.close(timeout=self.settings.produce_timeout_s)
            self.close()

    def stop(self) -> None:
        self.loop.stop()

    def close(self) -> None:
        self.health.set_not_ready(NotReady.STOPPED)
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

        def _reload(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received, reloading the model", extra={"signal": signum})
            self.reloader.request()
            if self.shadow_reloader is not None:
                self.shadow_reloader.request()

        signal.signal(signal.SIGTERM, _handle)
        signal.signal(signal.SIGINT, _handle)
        signal.signal(signal.SIGHUP, _reload)


# ------------------------------------------------------------------ one service, start to exit


def _exit(code: ExitCode, reason: str) -> int:
    log.error(
        "exiting", extra={"exit_code": int(code), "exit": code.name.lower(), "reason": reason}
    )
    return int(code)


def start_error(exc: BaseException, settings: Settings) -> tuple[ExitCode, str] | None:
    """The exit code and one line for a failure to start, or None when it is unexpected."""
    if isinstance(exc, ModelError | ConfigError):
        return ExitCode.CONFIG, str(exc)
    if isinstance(exc, KafkaAuthError):
        first = str(exc).splitlines()[0] if str(exc) else "refused"
        return ExitCode.KAFKA_START, (
            f"authentication refused by Kafka at {settings.bootstrap_servers} "
            f"(NEWSCLF_SASL_USERNAME / NEWSCLF_SASL_PASSWORD / NEWSCLF_SSL_*): {first}"
        )
    if isinstance(exc, KafkaError):
        first = (str(exc).splitlines() or [""])[0]
        return ExitCode.KAFKA_START, (
            f"cannot connect to Kafka at {settings.bootstrap_servers}: {type(exc).__name__}: {first}"
        )
    if isinstance(exc, OSError):
        return ExitCode.KAFKA_START, f"cannot start: {exc}"
    return None


def serve_one(
    settings: Settings,
    *,
    health: Any = None,
    http: bool = True,
    classify: Callable[..., pipeline.Classified] = pipeline.classify,
) -> int:
    """One service: start, run until SIGTERM or a fatal error, return its exit code; also a
    supervised worker's (its health published, no HTTP server). ``classify`` is a seam for the
    fault drills (a slower machine)."""
    try:
        service = Service(settings, health=health, http=http, classify=classify)
    except Exception as exc:
        known = start_error(exc, settings)
        if known is None:
            raise
        code, reason = known
        return fail(reason, int(code))  # the one line a person reads
    service.install_signal_handlers()
    try:
        service.run()
    except FatalError as exc:
        return _exit(exc.code, exc.reason)
    except KafkaError as exc:
        return _exit(ExitCode.INTERNAL, f"unexpected Kafka error: {type(exc).__name__}: {exc}")
    except Exception as exc:
        log.exception("unexpected error")
        return _exit(ExitCode.INTERNAL, f"{type(exc).__name__}: {exc}")
    return int(ExitCode.OK)

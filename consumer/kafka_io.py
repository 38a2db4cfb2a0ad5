"""Thin factories over kafka-python, with the settings DESIGN.md's traps call for.

* No ``value_deserializer``: a raising deserializer wedges ``poll()``; values stay raw bytes
  and :mod:`consumer.schemas` decodes them.
* ``enable_auto_commit=False`` and an explicit ``isolation_level`` (the defaults are wrong).
* Producer ``acks='all'`` and idempotence, so a retry never duplicates within a session.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import KafkaError, TopicAlreadyExistsError

from consumer.limits import RECORD_FRAMING
from consumer.settings import Settings

log = logging.getLogger(__name__)

ASSIGNORS = {
    "range": RangePartitionAssignor,
    "roundrobin": RoundRobinPartitionAssignor,
    "cooperative-sticky": CooperativeStickyAssignor,
}


def make_consumer(settings: Settings) -> KafkaConsumer:
    conf: dict[str, Any] = {
        **settings.kafka_common(),
        "group_id": settings.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": settings.auto_offset_reset,
        "isolation_level": "read_committed",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "max_poll_interval_ms": settings.max_poll_interval_ms,
        "max_poll_records": settings.poll_max_records,
        "partition_assignment_strategy": (ASSIGNORS[settings.partition_assignment],),
    }
    if settings.group_instance_id:
        conf["group_instance_id"] = settings.group_instance_id
    return KafkaConsumer(**conf)


def make_producer(settings: Settings, limits: TopicLimits | None = None) -> KafkaProducer:
    """The producer. ``limits``: the record size each output topic accepts; no produced batch
    may exceed the smallest (the broker checks whole batches against ``max.message.bytes``)."""
    smallest = min(limits.values(), default=settings.producer_max_request_size) if limits else None
    batch = min(262_144, settings.producer_max_request_size, (smallest or 1 << 30) - RECORD_FRAMING)
    conf: dict[str, Any] = {
        **settings.kafka_common(),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # Outputs are ~1-2 KB: 16 KB batches (the default) mean a request per handful of
        # records; 256 KB lets one request carry a whole batch's outputs per partition.
        "batch_size": max(batch, 64),
        "max_request_size": settings.producer_max_request_size,
        "request_timeout_ms": int(settings.produce_timeout_s * 1000),
        "max_block_ms": int(settings.produce_timeout_s * 1000),
        # The producer retries (idempotently: no duplicates) through a broker outage for this
        # long before a send fails; then the service exits 5 (consumer.delivery).
        "delivery_timeout_ms": int(settings.delivery_timeout_s * 1000),
    }
    if settings.exactly_once:
        conf["transactional_id"] = settings.effective_transactional_id()
    return KafkaProducer(**conf)


TopicLimits = dict[str, int]


class KafkaAuthError(KafkaError):
    """Kafka refused the service's credentials (or its authorisation) at start-up."""


class _AuthWatch(logging.Handler):
    """Reads kafka-python's own log records during the pre-flight. A refused login shows
    there first: as an authentication error, or (SCRAM on Kafka 4) as the broker closing the
    connection in the middle of the SASL exchange, which kafka-python would retry for 30 s."""

    def __init__(self, sasl: bool) -> None:
        super().__init__(logging.DEBUG)
        self.sasl = sasl
        self.failure: str | None = None
        self._closed_in_sasl = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.failure is not None:
            return
        text = record.getMessage()
        explicit = re.search(
            r"\w*(?:Authentication|Authorization)\w*(?:Error|Failed)\w*[^\n]*", text
        )
        if explicit:
            self.failure = explicit.group(0)
        elif re.search(r"CERTIFICATE_VERIFY_FAILED|SSLError|SSLCertVerificationError", text):
            self.failure = "TLS handshake refused: " + text.splitlines()[0][-300:]
        elif self.sasl and re.search(
            r"Bootstrap connection to .* failed: .*socket disconnected", text
        ):
            # The broker took the TCP connection, then closed it: with SASL, that is a refused
            # login (kafka-python reports no reason for it).
            self._closed_in_sasl += 1
            if self._closed_in_sasl >= 2:
                self.failure = (
                    "the broker closed the connection during SASL authentication, twice "
                    "(wrong credentials or mechanism)"
                )


def preflight(settings: Settings, timeout_s: float = 25.0) -> KafkaAdminClient:
    """Connect once, quietly, before the real clients: a refused login stops the start at
    once with :class:`KafkaAuthError` (kafka-python alone retries it for 30 s, logging each
    try); an unreachable cluster raises its own error after ``timeout_s``. Returns the
    connected admin client (the caller closes it)."""
    watch = _AuthWatch(sasl=settings.security_protocol.startswith("SASL"))
    kafka_log = logging.getLogger("kafka")
    saved = kafka_log.propagate, kafka_log.level
    kafka_log.addHandler(watch)
    kafka_log.propagate = False
    kafka_log.setLevel(logging.INFO)
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def probe() -> None:
        try:
            outcome["admin"] = KafkaAdminClient(
                **settings.kafka_common(), bootstrap_timeout_ms=int(timeout_s * 1000)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=probe, name="kafka-preflight", daemon=True).start()
    try:
        while not done.wait(0.05):
            if watch.failure is not None:
                break
    finally:
        if watch.failure is None:  # on a failure the service exits: kafka stays quiet
            kafka_log.removeHandler(watch)
            kafka_log.propagate, level = saved
            kafka_log.setLevel(level)
    if watch.failure is not None:
        raise KafkaAuthError(watch.failure)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["admin"]  # type: ignore[no-any-return]


def topic_limits(admin: KafkaAdminClient, settings: Settings, topics: list[str]) -> TopicLimits:
    """The largest record each topic accepts: the smaller of its ``max.message.bytes`` and the
    producer's request limit. Best effort: without DescribeConfigs (a broker that lacks it, an
    ACL that denies it) every topic gets the producer's limit."""
    limit = settings.producer_max_request_size
    found: TopicLimits = {t: limit for t in topics}
    try:
        described = admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, t, configs={"max.message.bytes": None})
                for t in topics
            ],
            config_filter="all",
        )
    except Exception as exc:  # noqa: BLE001 - a limit we cannot read is the producer's
        log.info("topic limits unknown", extra={"error": f"{type(exc).__name__}: {exc}"})
        return found
    for topic, configs in (described or {}).get("topic", {}).items():
        value = (configs or {}).get("max.message.bytes", {}).get("value")
        if topic in found and value is not None and str(value).isdigit():
            found[topic] = min(limit, int(value))
    return found


def ensure_topics(settings: Settings, names: list[str], partitions: int = 1) -> None:
    """Create topics that do not exist yet (the demo and tests; production manages its own)."""
    admin = KafkaAdminClient(**settings.kafka_common())
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a peer created it meanwhile
                admin.create_topics(
                    [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in missing]
                )
    finally:
        admin.close()


class RecordReader:
    """Reads single records back by (topic, partition, offset), without a consumer group: a
    dead letter's original too large to embed, a reviewed article's full text."""

    def __init__(self, common: dict[str, Any]) -> None:
        self._common = common
        self._consumer: Any = None

    def read(self, topic: str, partition: int, offset: int) -> bytes | None:
        if self._consumer is None:
            self._consumer = KafkaConsumer(**self._common, group_id=None, enable_auto_commit=False)
        tp = TopicPartition(topic, partition)
        try:
            self._consumer.assign([tp])
            if self._consumer.beginning_offsets([tp])[tp] > offset:
                return None  # removed by retention
        except KafkaError:
            return None  # the topic or partition is gone
        self._consumer.seek(tp, offset)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            for records in self._consumer.poll(timeout_ms=500).values():
                for r in records:
                    if r.offset == offset:
                        return bytes(r.value) if r.value is not None else None
                    if r.offset > offset:
                        return None  # compacted away
        return None

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()

"""Thin factories over kafka-python, with the settings DESIGN.md's traps call for.

* No ``value_deserializer``: a raising deserializer wedges ``poll()``; values stay raw bytes
  and :mod:`consumer.schemas` decodes them.
* ``enable_auto_commit=False`` and an explicit ``isolation_level`` (the defaults are wrong).
* Producer ``acks='all'`` and idempotence, so a retry never duplicates within a session.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from kafka.errors import TopicAlreadyExistsError

from consumer.settings import Settings

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


def make_producer(settings: Settings) -> KafkaProducer:
    conf: dict[str, Any] = {
        **settings.kafka_common(),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # Outputs are ~1-2 KB: 16 KB batches (the default) mean a request per handful of
        # records; 256 KB lets one request carry a whole batch's outputs per partition.
        "batch_size": min(262_144, settings.producer_max_request_size),
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

"""Service configuration, read from the environment (prefix ``NEWSCLF_``).

Every field is listed with its default in the README. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Delivery = Literal["at-least-once", "exactly-once"]
Provider = Literal["auto", "cuda", "cpu"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class Settings(BaseSettings):
    """The consumer service's settings. ``Settings()`` reads ``NEWSCLF_*`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSCLF_", extra="ignore", populate_by_name=True, frozen=True
    )

    # --- Kafka
    bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices(
            "bootstrap_servers", "NEWSCLF_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="Comma-separated host:port list; KAFKA_BOOTSTRAP_SERVERS is accepted too.",
    )
    input_topic: str = "news.articles"
    output_topic: str = "news.classified"
    dlq_topic: str = "news.dlq"
    route_by_label: bool = Field(False, description="Also publish each result to PREFIX<label>.")
    label_topic_prefix: str = "news.classified."
    group_id: str = "news-classifier"
    client_id: str = Field(default_factory=lambda: f"news-classifier-{socket.gethostname()}")
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: int = Field(10_000, ge=1_000)
    heartbeat_interval_ms: int = Field(1_000, ge=100)
    max_poll_interval_ms: int = Field(300_000, ge=10_000)
    produce_timeout_s: float = Field(30.0, gt=0)
    producer_max_request_size: int = Field(1_048_576, ge=1_024)

    # --- delivery semantics
    delivery: Delivery = "at-least-once"
    transactional_id: str | None = Field(
        None,
        description="exactly-once only; default: <group_id>-<hostname>-<pid> (fencing comes from the group, KIP-447).",
    )

    # --- security (passed straight through to kafka-python)
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password: SecretStr | None = None

    # --- model and inference
    model_dir: Path = Path("artifacts/model")
    execution_provider: Provider = "auto"
    intra_op_threads: int = Field(0, ge=0, description="ONNX Runtime threads; 0 = runtime default.")

    # --- batching
    batch_max_size: int = Field(32, ge=1, le=4096)
    batch_max_wait_ms: int = Field(20, ge=0)
    batch_max_tokens: int = Field(
        8192, ge=16, description="Padded tokens per inference call (rows x longest row)."
    )
    max_message_bytes: int = Field(1_000_000, ge=64, description="Larger inputs go to the DLQ.")

    # --- observability
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(8000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be lower than session_timeout_ms")
        topics = {self.input_topic, self.output_topic, self.dlq_topic}
        if len(topics) != 3:
            raise ValueError("input_topic, output_topic and dlq_topic must all differ")
        if self.sasl_mechanism and self.security_protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError("sasl_mechanism needs security_protocol SASL_PLAINTEXT or SASL_SSL")
        return self

    @property
    def exactly_once(self) -> bool:
        return self.delivery == "exactly-once"

    def effective_transactional_id(self) -> str:
        return self.transactional_id or f"{self.group_id}-{socket.gethostname()}-{os.getpid()}"

    def kafka_common(self) -> dict[str, Any]:
        """Connection settings shared by the consumer, the producer and the admin client."""
        conf: dict[str, Any] = {
            "bootstrap_servers": [
                s.strip() for s in self.bootstrap_servers.split(",") if s.strip()
            ],
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl_mechanism"] = self.sasl_mechanism
            conf["sasl_plain_username"] = self.sasl_username
            if self.sasl_password is not None:
                conf["sasl_plain_password"] = self.sasl_password.get_secret_value()
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                conf[name] = str(value)
        if self.ssl_password is not None:
            conf["ssl_password"] = self.ssl_password.get_secret_value()
        return conf

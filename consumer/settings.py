"""Service configuration, read from the environment (prefix ``NEWSCLF_``).

Every field is listed with its default in the README. Secrets are ``SecretStr`` and never logged.
Settings that contradict each other are refused at start-up with one line (``_check``).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from consumer.limits import OUTPUT_MAX_BYTES, dead_letter_max_bytes, max_embeddable

Delivery = Literal["at-least-once", "exactly-once"]
Provider = Literal["auto", "cuda", "cpu"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Assignment = Literal["range", "roundrobin", "cooperative-sticky"]

# old name -> the settings it now sets (kept working, with a deprecation line at start-up)
DEPRECATED = {
    "batch_max_size": ("batch_max_records", "infer_max_rows"),
    "batch_max_tokens": ("infer_max_tokens",),
}


def _default_client_id() -> str:
    return f"news-classifier-{socket.gethostname()}"


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
    client_id: str = Field(default_factory=_default_client_id)
    group_instance_id: str | None = Field(
        None,
        description="Static membership (KIP-345): a restart within the session timeout "
        "keeps the partitions without a rebalance. Unique per member, stable across restarts.",
    )
    partition_assignment: Assignment = "range"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: int = Field(10_000, ge=1_000)
    heartbeat_interval_ms: int = Field(1_000, ge=100)
    max_poll_interval_ms: int = Field(300_000, ge=10_000)
    poll_max_records: int = Field(500, ge=1, description="Kafka max_poll_records.")
    produce_timeout_s: float = Field(30.0, gt=0, description="One produce request's timeout.")
    delivery_timeout_s: float = Field(
        120.0,
        gt=0,
        description="How long a batch's outputs may take to be acknowledged, "
        "retries included (a broker outage budget); then the service exits 5.",
    )
    producer_max_request_size: int = Field(1_048_576, ge=OUTPUT_MAX_BYTES)

    # --- delivery semantics
    delivery: Delivery = "at-least-once"
    transactional_id: str | None = Field(
        None,
        description="exactly-once only; default <group_id>-<client_id>: stable across restarts "
        "of the same member, so a restart fences its predecessor's open transaction at once.",
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
    model_sha256: str | None = Field(
        None,
        description="Expected sha256 of the model's manifest.json (python -m export "
        "prints it); the service refuses any other model.",
    )
    model_watch_s: float = Field(
        30.0,
        ge=0,
        description="Check NEWSCLF_MODEL_DIR's manifest.json this often and hot-reload a new "
        "model (SIGHUP reloads at once); 0: only on SIGHUP.",
    )
    shadow_model_dir: Path | None = Field(
        None,
        description="A candidate model that scores the same batches as the live one, off the "
        "critical path; outputs, commits and readiness never depend on it.",
    )
    shadow_sample: float = Field(1.0, ge=0, le=1, description="Share of batches shadow-scored.")
    shadow_topic: str | None = Field(
        None, description="Write each live/shadow disagreement here (none: metrics only)."
    )
    shadow_queue_batches: int = Field(
        8, ge=1, description="Batches waiting for the shadow at most; more are dropped, counted."
    )
    execution_provider: Provider = "auto"
    intra_op_threads: int = Field(0, ge=0, description="ONNX Runtime threads; 0 = runtime default.")
    infer_retry_budget_s: float = Field(
        60.0,
        ge=0,
        description="How long inference failures of the machine (out of memory, "
        "a lost device) are retried with back-off before the service exits 4.",
    )

    # --- batching and the pipeline
    batch_max_records: int = Field(64, ge=1, le=8192, description="Records per batch.")
    batch_max_wait_ms: int = Field(20, ge=0, description="Wait after a batch's first record.")
    infer_max_rows: int = Field(64, ge=1, le=8192, description="Rows per inference call.")
    infer_max_tokens: int = Field(
        8192, ge=16, description="Padded tokens per inference call (rows x longest row)."
    )
    max_in_flight_batches: int = Field(
        3,
        ge=1,
        le=64,
        description="Batches between poll and commit; at the limit the input "
        "partitions are paused (heartbeats go on).",
    )
    max_message_bytes: int = Field(1_000_000, ge=64, description="Larger inputs go to the DLQ.")
    dlq_max_value_bytes: int = Field(
        262_144,
        ge=0,
        description="Bytes of the original value a dead letter embeds; beyond "
        "it the dead letter carries the value's sha256, size and source offset instead.",
    )
    workers: int = Field(1, ge=1, le=64, description="Consumer processes in this pod.")

    # --- review routing, language, drift (docs/trust.md)
    review_routing: bool = Field(
        True,
        description="Send articles the service should not decide alone (a language the model "
        "was not trained on, confidence below the review threshold) to review_topic instead "
        "of a label on output_topic.",
    )
    review_topic: str = "news.review"
    review_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Calibrated confidence below which an article goes to review; default: "
        "the model's own (chosen on validation data for its target accuracy); 0: never.",
    )
    supported_languages: str | None = Field(
        None,
        description="Comma-separated ISO 639-1 codes the model may decide alone; default: the "
        "model's own (from its training data); '*': any language.",
    )
    drift_window: int = Field(
        1000, ge=50, le=1_000_000, description="Recent predictions the drift metrics compare."
    )

    # --- deprecated names (still read; see DEPRECATED)
    batch_max_size: int | None = Field(
        None, ge=1, le=8192, description="Deprecated: sets batch_max_records and infer_max_rows."
    )
    batch_max_tokens: int | None = Field(
        None, ge=16, description="Deprecated: sets infer_max_tokens."
    )

    # --- observability
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(8000, ge=0, le=65535)
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then files in ``$NEWSCLF_SECRETS_DIR`` (one file
        per setting, named like its variable, e.g. ``NEWSCLF_SASL_PASSWORD``: how Kubernetes
        mounts a Secret)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_dir = os.environ.get("NEWSCLF_SECRETS_DIR")
        if secrets_dir:
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        return tuple(sources)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_names(cls, data: Any) -> Any:
        """An old name fills the new settings it stood for, unless those are set too."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in DEPRECATED.items():
            if data.get(old) is not None:
                for name in new:
                    data.setdefault(name, data[old])
        return data

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be lower than session_timeout_ms")
        topics = {self.input_topic, self.output_topic, self.dlq_topic, self.review_topic}
        if len(topics) != 4:
            raise ValueError(
                "input_topic, output_topic, dlq_topic and review_topic must all differ"
            )
        langs = self.supported_languages
        if langs is not None and langs.strip() != "*" and not self.language_set():
            raise ValueError("supported_languages must list language codes like 'en,de', or be '*'")
        if self.sasl_mechanism and self.security_protocol not in ("SASL_PLAINTEXT", "SASL_SSL"):
            raise ValueError("sasl_mechanism needs security_protocol SASL_PLAINTEXT or SASL_SSL")
        if self.delivery_timeout_s < self.produce_timeout_s:
            raise ValueError(
                f"delivery_timeout_s ({self.delivery_timeout_s:g}) must be at least "
                f"produce_timeout_s ({self.produce_timeout_s:g})"
            )
        letter = dead_letter_max_bytes(self.dlq_max_value_bytes)
        if letter > self.producer_max_request_size:
            raise ValueError(
                f"a dead letter embedding dlq_max_value_bytes={self.dlq_max_value_bytes} can "
                f"reach {letter} bytes, over producer_max_request_size="
                f"{self.producer_max_request_size}: lower dlq_max_value_bytes to at most "
                f"{max_embeddable(self.producer_max_request_size)}"
            )
        if self.batch_max_wait_ms >= self.max_poll_interval_ms:
            raise ValueError("batch_max_wait_ms must be lower than max_poll_interval_ms")
        if self.model_sha256 is not None and not re.fullmatch(
            r"[0-9a-fA-F]{64}", self.model_sha256
        ):
            raise ValueError("model_sha256 must be 64 hexadecimal characters")
        return self

    # --- derived values
    @property
    def exactly_once(self) -> bool:
        return self.delivery == "exactly-once"

    def language_set(self) -> frozenset[str] | None:
        """``supported_languages`` as a set; None for '*' or unset."""
        if self.supported_languages is None or self.supported_languages.strip() == "*":
            return None
        return frozenset(
            x.strip().lower() for x in self.supported_languages.split(",") if x.strip()
        )

    def deprecations(self) -> list[str]:
        """One line per deprecated setting in use, for the start-up log."""
        return [
            f"NEWSCLF_{old.upper()} is deprecated: use "
            + " and ".join(f"NEWSCLF_{n.upper()}" for n in new)
            for old, new in DEPRECATED.items()
            if getattr(self, old) is not None
        ]

    def effective_transactional_id(self) -> str:
        return (
            self.transactional_id or f"{self.group_id}-{self.group_instance_id or self.client_id}"
        )

    def for_worker(self, index: int) -> Settings:
        """This worker's settings when ``workers > 1``: its own client, instance and
        transactional ids (suffix ``-w<index>``) and no HTTP server of its own."""
        updates: dict[str, Any] = {"client_id": f"{self.client_id}-w{index}", "workers": 1}
        if self.group_instance_id:
            updates["group_instance_id"] = f"{self.group_instance_id}-w{index}"
        if self.transactional_id:
            updates["transactional_id"] = f"{self.transactional_id}-w{index}"
        return self.model_copy(update=updates)

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

"""Helpers for the service tests: run the real service (in a thread or a process) on a real broker."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from consumer.service import Service
from consumer.settings import Settings
from newsclf.corpus import iter_bbc
from tests.fixtures.waiting import wait_for  # noqa: F401 (re-exported)

REPO = Path(__file__).resolve().parents[2]
_counter = itertools.count()


def bbc_articles(n: int, step: int = 7) -> list[dict[str, Any]]:
    """``n`` real BBC articles spread over all labels (every ``step``-th file)."""
    every = list(iter_bbc())
    picked = every[::step][:n]
    assert len(picked) == n
    return picked


def encoded(articles: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(a).encode() for a in articles]


def service_settings(bootstrap: str, model_dir: Path, **overrides: Any) -> Settings:
    n = next(_counter)
    base: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "model_dir": model_dir,
        "group_id": f"test-group-{os.getpid()}-{n}-{time.time_ns()}",
        "client_id": f"test-client-{n}",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
        "metrics_port": 0,
        "batch_max_records": 16,
        "batch_max_wait_ms": 20,
        "produce_timeout_s": 15,
        "log_format": "text",
        # These tests expect every article on the output topic; review routing is tested in
        # tests/consumer/test_review_kafka.py.
        "review_routing": False,
    }
    base.update(overrides)
    return Settings(**base)


class ThreadedService:
    """The real :class:`Service` on a background thread; ``error`` holds what ``run`` raised."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.service = Service(settings, **kwargs)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="service", daemon=True)

    def _run(self) -> None:
        try:
            self.service.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc

    def __enter__(self) -> ThreadedService:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        self.service.stop()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "service did not stop"

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self.stop()


def service_process(settings_env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m consumer`` as its own process, configured only through the environment,
    its JSON logs written to ``log_path``."""
    env = {**os.environ, **settings_env, "PYTHONPATH": str(REPO), "NEWSCLF_LOG_FORMAT": "json"}
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "consumer"], cwd=REPO, env=env, stdout=log, stderr=log
        )


def latest_assignment(log_path: Path) -> set[str] | None:
    """The partitions a service process last logged as assigned (None before its first)."""
    latest = None
    if not log_path.exists():
        return None
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("msg") == "partitions assigned":
            latest = set(entry.get("partitions") or [])
    return latest

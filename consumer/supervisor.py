"""``NEWSCLF_WORKERS=N``: N consumer processes of one group under one supervisor, one pod.

A GPU pod has more cores than one Python process can keep busy (the GIL): N workers, each its
own consumer group member with its own model session, share the device. The supervisor

* starts the workers (``spawn``: fresh interpreters, no inherited threads or sessions), each
  with its own client, instance and transactional ids (``-w<index>``);
* serves the pod's one ``/metrics`` through prometheus-client's multiprocess mode (every
  worker writes its values to ``PROMETHEUS_MULTIPROC_DIR``) and ``/healthz`` / ``/readyz``
  over all workers;
* forwards SIGTERM / SIGINT: every worker drains and commits; when one worker exits on its own,
  the others are stopped the same way and the pod exits with that worker's code.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from types import FrameType
from typing import Any

from consumer.errors import ExitCode
from consumer.health import Health, NotReady

log = logging.getLogger(__name__)

# Readiness reasons as small integers in shared memory (0: ready).
REASONS: tuple[NotReady | None, ...] = (None, *NotReady)


def reason_code(reason: NotReady | None) -> int:
    return REASONS.index(reason)


class PublishedHealth(Health):
    """A worker's health, also published to the supervisor through shared memory."""

    def __init__(
        self,
        stall_after_s: float,
        beats: SynchronizedArray[Any],
        reasons: SynchronizedArray[Any],
        index: int,
    ) -> None:
        self._beats = beats
        self._reasons = reasons
        self._index = index
        super().__init__(stall_after_s)
        self.set_not_ready(NotReady.STARTING)  # published: the pod is not ready before it

    def beat(self) -> None:
        super().beat()
        self._beats[self._index] = time.time()

    def set_not_ready(self, reason: NotReady | None, detail: str = "") -> None:
        super().set_not_ready(reason, detail)
        self._reasons[self._index] = reason_code(reason)


class PodHealth:
    """The pod's health over its workers, for the supervisor's HTTP server."""

    def __init__(
        self,
        procs: list[Any],
        beats: SynchronizedArray[Any],
        reasons: SynchronizedArray[Any],
        stall_after_s: float,
    ) -> None:
        self.procs = procs
        self.beats = beats
        self.reasons = reasons
        self.stall_after_s = stall_after_s

    def alive(self) -> bool:
        now = time.time()
        return all(p.is_alive() for p in self.procs) and all(
            now - self.beats[i] < self.stall_after_s for i in range(len(self.procs))
        )

    @property
    def not_ready_because(self) -> str | None:
        for i, p in enumerate(self.procs):
            if not p.is_alive():
                return f"worker {i}: exited"
            code = self.reasons[i]
            if code:
                known = REASONS[code] if code < len(REASONS) else None
                return f"worker {i}: {known.value if known is not None else 'not ready'}"
        return None

    @property
    def ready(self) -> bool:
        return self.not_ready_because is None


def _worker(
    settings: Any,
    index: int,
    beats: SynchronizedArray[Any],
    reasons: SynchronizedArray[Any],
) -> None:
    """A worker process: one service, no HTTP server of its own; exits with its code."""
    from consumer.signals import hold_sighup
    from newsclf import logs

    hold_sighup()
    from consumer.service import serve_one

    logs.configure(settings.log_level, settings.log_format)
    health = PublishedHealth(max(settings.max_poll_interval_ms / 1000, 30), beats, reasons, index)
    sys.exit(serve_one(settings, health=health, http=False))


def _multiproc_dir() -> Path:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="newsclf-metrics-"))
    if path.exists():
        shutil.rmtree(path)  # values of an earlier run would be summed in
    path.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def supervise(settings: Any) -> int:
    """Run ``settings.workers`` workers until SIGTERM or until one exits; return the code."""
    metrics_dir = _multiproc_dir()
    from prometheus_client import CollectorRegistry
    from prometheus_client import multiprocess as prom_mp

    from consumer.health import HealthServer

    ctx = mp.get_context("spawn")
    n = settings.workers
    beats = ctx.Array("d", [time.time()] * n, lock=False)
    reasons = ctx.Array("i", [1] * n, lock=False)
    procs = [
        ctx.Process(
            target=_worker,
            args=(settings.for_worker(i), i, beats, reasons),
            name=f"worker-{i}",
            daemon=False,
        )
        for i in range(n)
    ]
    registry = CollectorRegistry()
    prom_mp.MultiProcessCollector(registry, path=str(metrics_dir))
    health = PodHealth(procs, beats, reasons, max(settings.max_poll_interval_ms / 1000, 30))
    stopping = False

    def _forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        log.info("signal received, draining every worker", extra={"signal": signum})
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGTERM)

    def _reload(signum: int, _frame: FrameType | None) -> None:
        log.info("signal received, every worker reloads its model", extra={"signal": signum})
        for p in procs:
            if p.is_alive() and p.pid:
                os.kill(p.pid, signal.SIGHUP)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    signal.signal(signal.SIGHUP, _reload)
    for p in procs:
        p.start()
    log.info("workers started", extra={"workers": n, "pids": [p.pid for p in procs]})
    server = HealthServer(registry, health, settings.metrics_host, settings.metrics_port).start()
    code = int(ExitCode.OK)
    try:
        while any(p.is_alive() for p in procs):
            for i, p in enumerate(procs):
                if p.exitcode is not None and not stopping:
                    code = p.exitcode if p.exitcode > 0 else int(ExitCode.INTERNAL)
                    log.error(
                        "a worker exited; draining the others",
                        extra={"worker": i, "exit_code": p.exitcode},
                    )
                    stopping = True
                    for other in procs:
                        if other.is_alive() and other.pid:
                            os.kill(other.pid, signal.SIGTERM)
            time.sleep(0.1)
        for p in procs:
            p.join()
            if p.pid:
                prom_mp.mark_process_dead(p.pid, str(metrics_dir))
        if code == int(ExitCode.OK):
            failed = [p.exitcode for p in procs if p.exitcode]
            if failed:
                code = failed[0] if failed[0] > 0 else int(ExitCode.INTERNAL)
    finally:
        server.stop()
    log.info(
        "workers stopped", extra={"exit_codes": [p.exitcode for p in procs], "exit_code": code}
    )
    return code

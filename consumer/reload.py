"""Hot reload: a new model beside the old one, verified and warmed, then served from the next
batch, with no restart, no lost records and readiness untouched.

A reload is asked for by ``SIGHUP`` or found by watching ``NEWSCLF_MODEL_DIR``'s
``manifest.json`` every ``NEWSCLF_MODEL_WATCH_S`` seconds (the directory may be a symlink that
a deployment repoints). The candidate is loaded with the same checks as at start-up (every
file's digest against the manifest, ``NEWSCLF_MODEL_SHA256`` when pinned), must carry the same
labels (the label topics and metrics are built for them), and must classify a warm-up batch;
then :meth:`consumer.loop.Loop.swap` serves it from the next batch the inference thread takes.
A candidate that fails any step is refused with one log line, counted, and not tried again
until the directory changes; the old model keeps serving. Two models are in memory only from
the candidate's load until the last batch of the old one is delivered.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from consumer.serving import Served, build_served

log = logging.getLogger(__name__)

WARM_UP = [
    "Shares rose after the company reported record profits.",
    "The striker scored twice in the cup final.",
]


def directory_signature(model_dir: Path) -> str:
    """What identifies the model directory's current content cheaply: the manifest's sha256
    and every file's name, size and mtime (so a copy still in progress, refused once, is
    tried again when it completes). Empty when there is no manifest."""
    manifest = Path(model_dir) / "manifest.json"
    try:
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        target = Path(os.path.realpath(model_dir))
        entries = sorted(
            (e.name, e.stat().st_size, e.stat().st_mtime_ns)
            for e in os.scandir(target)
            if e.is_file()
        )
    except OSError:
        return ""
    return f"{digest}:{target}:{hashlib.sha256(repr(entries).encode()).hexdigest()[:16]}"


class Reloader:
    """Checks for a new model and swaps it into ``loop``; ``run`` watches on its own thread."""

    def __init__(
        self,
        settings: Any,
        loop: Any,
        metrics: Any,
        *,
        load: Callable[..., Any],
        record_limits: dict[str, int] | None = None,
        model_dir: Path | None = None,
        role: str = "live",
    ) -> None:
        """``loop``: what serves (``served``, ``labels``, ``swap``): the :class:`Loop`, or the
        shadow's :class:`consumer.shadow.ShadowSlot` with ``role="shadow"`` and its own
        ``model_dir`` (never pinned: ``NEWSCLF_MODEL_SHA256`` pins the live model)."""
        self.settings = settings
        self.loop = loop
        self.metrics = metrics
        self.load = load
        self.record_limits = record_limits
        self.role = role
        self.model_dir = Path(model_dir if model_dir is not None else settings.model_dir)
        self._seen = directory_signature(self.model_dir)  # what is serving, or was refused
        self._asked = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------------------- control
    def request(self) -> None:
        """SIGHUP: reload now, even if the directory looks unchanged (safe from a signal
        handler: it only sets an event)."""
        self._asked.set()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.run, name=f"model-reload-{self.role}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._asked.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run(self) -> None:
        watch = self.settings.model_watch_s
        while not self._stop.is_set():
            asked = self._asked.wait(timeout=watch if watch > 0 else None)
            if self._stop.is_set():
                return
            self._asked.clear()
            try:
                self.check(force=asked)
            except Exception:  # noqa: BLE001 - a reload must never stop the service
                log.exception("model reload failed unexpectedly; the current model keeps serving")

    # ---------------------------------------------------------------------------- a check
    def check(self, force: bool = False) -> str | None:
        """Reload if the directory changed (or ``force``). Returns ``"ok"``, ``"refused"`` or
        None when there was nothing to do."""
        with self._lock:
            signature = directory_signature(self.model_dir)
            if not force and signature == self._seen:
                return None
            self._seen = signature
            current = self.loop.served.info
            try:
                served = self._candidate()
            except Exception as exc:  # noqa: BLE001 - every failure is a refusal, said once
                self.metrics.reloads.labels(role=self.role, result="refused").inc()
                log.warning(
                    "model reload refused; the current model keeps serving",
                    extra={
                        "model_dir": str(self.model_dir),
                        "role": self.role,
                        "reason": f"{type(exc).__name__}: {exc}",
                        "model_version": current.version,
                    },
                )
                return "refused"
            self.loop.swap(served)
            self.metrics.reloads.labels(role=self.role, result="ok").inc()
            log.info(
                "model reloaded",
                extra={
                    "role": self.role,
                    "from_version": current.version,
                    "from_sha256": current.sha256,
                    "model_version": served.info.version,
                    "model_sha256": served.info.sha256,
                },
            )
            return "ok"

    def _candidate(self) -> Served:
        s = self.settings
        pin = s.model_sha256 if self.role == "live" else None
        model = self.load(self.model_dir, s.execution_provider, s.intra_op_threads, pin)
        labels = tuple(model.info.labels)
        if labels != tuple(self.loop.labels):
            raise ValueError(
                f"its labels ({', '.join(labels)}) differ from the served model's "
                f"({', '.join(self.loop.labels)}); a new label set needs a restart"
            )
        probs = np.asarray(model.predict_texts(WARM_UP))
        if probs.shape != (len(WARM_UP), len(labels)) or not np.all(np.isfinite(probs)):
            raise ValueError(f"the warm-up batch gave {probs.shape} scores, not finite ones")
        return build_served(s, model, self.record_limits)

"""The inference thread: takes decoded batches in order, classifies each with the model being
served when it starts (the batch keeps it: a reload never splits a batch), retries failures of
the machine within ``NEWSCLF_INFER_RETRY_BUDGET_S`` (:mod:`consumer.policy`), and hands each
inferred batch on. Tokenizers and ONNX Runtime release the GIL, so it runs while the loop
polls and decodes the next batch."""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from typing import Any

from consumer import pipeline
from consumer.inflight import Batch, InFlight, State
from consumer.policy import isolate, retrying
from consumer.schemas import Decoded
from consumer.settings import Settings

PROBE = ["probe: is the model still working"]


class Inference:
    """``put`` batches; ``on_inferred(batch)`` gets each one classified, ``on_fatal(exc)`` the
    failure that ends the service (then the thread stops). ``served()`` is the model to use
    for the next batch."""

    def __init__(
        self,
        settings: Settings,
        served: Callable[[], Any],
        inflight: InFlight,
        *,
        timer: pipeline.StageTimer,
        on_retry: Callable[[], None],
        on_inferred: Callable[[Batch], None],
        on_fatal: Callable[[BaseException], None],
        classify: Callable[..., pipeline.Classified] = pipeline.classify,
    ) -> None:
        self.settings = settings
        self._classify_with = classify  # a seam: the fault drills run a slower machine
        self.served = served
        self.inflight = inflight
        self.timer = timer
        self._on_retry = on_retry
        self._on_inferred = on_inferred
        self._on_fatal = on_fatal
        self._q: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.retrying = False  # inference is failing and being retried (readiness says so)

    def put(self, batch: Batch) -> None:
        self._q.put(batch)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        self._q.put(None)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        s = self.settings
        while True:
            batch = self._q.get()
            if batch is None:
                return
            if batch.state is State.DROPPED:
                continue
            texts = [d.text for d in batch.decoded if isinstance(d, Decoded)]
            batch.served = served = self.served()  # this batch's model, whatever comes next
            try:
                batch.classified = retrying(
                    functools.partial(
                        isolate,
                        functools.partial(self._classify, served.model),
                        texts,
                        functools.partial(self._probe, served.model),
                        len(served.info.labels),
                    ),
                    s.infer_retry_budget_s,
                    on_retry=self._retried,
                )
            except BaseException as exc:
                self._on_fatal(exc)
                return
            self.retrying = False
            if self.inflight.inferred(batch):
                self._on_inferred(batch)

    def _classify(self, model: Any, texts: Any) -> pipeline.Classified:
        s = self.settings
        return self._classify_with(model, texts, s.infer_max_rows, s.infer_max_tokens, self.timer)

    @staticmethod
    def _probe(model: Any) -> None:
        model.predict_texts(PROBE)

    def _retried(self, _exc: BaseException, _wait: float) -> None:
        self.retrying = True
        self._on_retry()

"""Shadow scoring: a candidate model scores the batches the live model classified, off the
critical path, and the service counts where the two agree.

The loop offers each committed batch (a share ``NEWSCLF_SHADOW_SAMPLE`` of them, chosen by the
batch's first offset so replicas sample alike) to a bounded queue; one thread runs the
candidate on the batch's texts. A full queue drops the shadow work and counts it: the live path
never waits. The shadow never changes outputs, commits or readiness. Disagreements can be
written to ``NEWSCLF_SHADOW_TOPIC`` (own producer, outside any transaction), keyed by article
id, with both labels and scores.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from consumer.schemas import Decoded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShadowWork:
    ids: list[str]
    texts: list[str]
    live: list[str]  # the live model's label per text
    live_scores: list[float]
    source: list[tuple[str, int, int]]  # topic, partition, offset


def sampled(batch: Any, share: float) -> bool:
    """Whether ``batch`` is shadowed: deterministic in its first record's position."""
    if share >= 1:
        return True
    if share <= 0 or not batch.records:
        return False
    r = batch.records[0]
    digest = hashlib.sha256(f"{r.topic}/{r.partition}/{r.offset}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def work_of(batch: Any) -> ShadowWork | None:
    """The live results of ``batch`` as shadow work (None when nothing was classified)."""
    rows = [(r, batch.decoded[r.index]) for r in batch.results]
    rows = [(r, d) for r, d in rows if isinstance(d, Decoded)]
    if not rows:
        return None
    return ShadowWork(
        ids=[d.article.id for _, d in rows],
        texts=[d.text for _, d in rows],
        live=[r.label for r, _ in rows],
        live_scores=[r.score for r, _ in rows],
        source=[
            (
                batch.records[r.index].topic,
                batch.records[r.index].partition,
                batch.records[r.index].offset,
            )
            for r, _ in rows
        ],
    )


class Shadow:
    """The candidate, its bounded queue and its thread. ``publish(key, value)`` sends a
    disagreement (None: counted only)."""

    def __init__(
        self,
        model: Any,
        metrics: Any,
        *,
        sample: float = 1.0,
        queue_batches: int = 8,
        publish: Any = None,
        live_version: str = "",
    ) -> None:
        self.model = model
        self.metrics = metrics
        self.sample = sample
        self.publish = publish
        self.live_version = live_version
        self._q: queue.Queue[ShadowWork | None] = queue.Queue(maxsize=queue_batches)
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        metrics.shadow_info.labels(
            version=model.info.version, sha256=model.info.sha256, variant=model.info.variant
        ).set(1)

    @property
    def info(self) -> Any:
        return self.model.info

    def use(self, model: Any) -> None:
        """Score with ``model`` from the next batch on (a hot reload of the shadow)."""
        old = self.model.info
        self.metrics.shadow_info.remove(old.version, old.sha256, old.variant)
        self.model = model
        self.metrics.shadow_info.labels(
            version=model.info.version, sha256=model.info.sha256, variant=model.info.variant
        ).set(1)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued (up to ``timeout``), then stop."""
        try:
            self._q.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def offer(self, batch: Any) -> bool:
        """Queue ``batch``'s results for the candidate, or drop (and count) them at once."""
        if not sampled(batch, self.sample):
            return False
        work = work_of(batch)
        if work is None:
            return False
        try:
            self._q.put_nowait(work)
        except queue.Full:
            self.metrics.shadow_dropped.inc(len(work.texts))
            return False
        return True

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until everything queued has been scored (tests, shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self._q.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            work = self._q.get()
            try:
                if work is None:
                    return
                self.score(work)
            except Exception:  # noqa: BLE001 - the shadow must never stop the service
                self.metrics.shadow_failures.inc()
                log.exception("shadow scoring failed for a batch; live serving is unaffected")
            finally:
                self._q.task_done()

    def score(self, work: ShadowWork) -> list[bool]:
        """Run the candidate on ``work`` and count agreement; returns agree per article."""
        model = self.model  # one model per batch, whatever a reload does meanwhile
        probs = np.asarray(model.predict_texts(work.texts))
        labels: Sequence[str] = model.info.labels
        shadow = [labels[i] for i in np.argmax(probs, axis=1)]
        m = self.metrics
        agree = []
        for i, (live, cand) in enumerate(zip(work.live, shadow, strict=True)):
            same = live == cand
            agree.append(same)
            m.shadow_predictions.labels(outcome="agree" if same else "disagree").inc()
            m.shadow_confusion.labels(live=live, shadow=cand).inc()
            if not same and self.publish is not None:
                topic, partition, offset = work.source[i]
                self.publish(
                    work.ids[i].encode("utf-8"),
                    json.dumps(
                        {
                            "id": work.ids[i],
                            "live_label": live,
                            "live_score": round(work.live_scores[i], 6),
                            "live_model_version": self.live_version,
                            "shadow_label": cand,
                            "shadow_score": round(float(np.max(probs[i])), 6),
                            "shadow_model_version": model.info.version,
                            "shadow_model_sha256": model.info.sha256,
                            "source": {"topic": topic, "partition": partition, "offset": offset},
                        },
                        separators=(",", ":"),
                    ).encode("utf-8"),
                )
        return agree


class ShadowSlot:
    """The shadow as a reload target (:class:`consumer.reload.Reloader` with
    ``role="shadow"``): ``swap`` gives the candidate's thread the new model from its next
    batch."""

    def __init__(self, shadow: Shadow, labels: Sequence[str]) -> None:
        self.shadow = shadow
        self.labels = tuple(labels)

    @property
    def served(self) -> Any:
        return self.shadow

    def swap(self, served: Any) -> None:
        self.shadow.use(served.model)

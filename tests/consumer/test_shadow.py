"""Shadow scoring, the stage itself: the real candidate (the tiny int8 export) scores what the
live model (fp32) classified; agreement and the confusion are counted; a full queue drops and
counts instead of waiting; disagreements are published with both labels; sampling is
deterministic in the batch's position."""

from __future__ import annotations

import json
import threading
import time

from consumer.inflight import Batch
from consumer.metrics import Metrics
from consumer.model import OnnxClassifier
from consumer.pipeline import Result
from consumer.schemas import ShadowDisagreement, decode_article
from consumer.shadow import Shadow, sampled, work_of
from tests.consumer.fakes import Rec


def batch(n: int, offset: int = 0, labels=("business",)) -> Batch:
    records = [
        Rec(
            "news.articles",
            0,
            offset + i,
            json.dumps({"id": f"a{i}", "text": f"Shares {i} rose."}).encode(),
        )
        for i in range(n)
    ]
    b = Batch(records)
    b.decoded = [decode_article(r.value, 10_000) for r in records]
    b.results = [Result(i, labels[i % len(labels)], 0.9, None) for i in range(n)]
    return b


def sample(metrics: Metrics, name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_the_candidate_scores_what_the_live_model_classified(tiny_model_dir, tiny_model_dir_int8):
    live = OnnxClassifier.load(tiny_model_dir, "cpu", 1)
    candidate = OnnxClassifier.load(tiny_model_dir_int8, "cpu", 1)
    b = batch(6)
    texts = [d.text for d in b.decoded]
    live_labels = [live.info.labels[i] for i in live.predict_texts(texts).argmax(axis=1)]
    b.results = [Result(i, lab, 0.9, None) for i, lab in enumerate(live_labels)]
    metrics = Metrics()
    published = []
    shadow = Shadow(candidate, metrics, publish=lambda k, v: published.append((k, json.loads(v))))
    agree = shadow.score(work_of(b))
    cand = [candidate.info.labels[i] for i in candidate.predict_texts(texts).argmax(axis=1)]
    assert agree == [a == c for a, c in zip(live_labels, cand, strict=True)]
    total = sample(metrics, "newsclf_shadow_predictions_total", outcome="agree") + sample(
        metrics, "newsclf_shadow_predictions_total", outcome="disagree"
    )
    assert total == 6
    assert (
        sample(metrics, "newsclf_shadow_confusion_total", live=live_labels[0], shadow=cand[0]) >= 1
    )
    assert len(published) == agree.count(False)
    info = sample(
        metrics,
        "newsclf_shadow_model_info",
        version=candidate.info.version,
        sha256=candidate.info.sha256,
        variant="int8",
    )
    assert info == 1


def test_disagreements_are_published_with_both_labels(tiny_model_dir_int8):
    candidate = OnnxClassifier.load(tiny_model_dir_int8, "cpu", 1)
    b = batch(4)
    predicted = candidate.info.labels[
        candidate.predict_texts([d.text for d in b.decoded]).argmax(axis=1)[0]
    ]
    other = next(lab for lab in candidate.info.labels if lab != predicted)
    b.results = [Result(0, other, 0.8, None)]  # the live model said something else for a0
    published = []
    metrics = Metrics()
    Shadow(candidate, metrics, publish=lambda k, v: published.append((k, json.loads(v)))).score(
        work_of(b)
    )
    ((key, body),) = published
    assert key == b"a0"
    ShadowDisagreement.model_validate(body)  # the wire contract (consumer/wire)
    assert (body["live_label"], body["shadow_label"]) == (other, predicted)
    assert body["shadow_model_sha256"] == candidate.info.sha256
    assert body["source"] == {"topic": "news.articles", "partition": 0, "offset": 0}
    assert sample(metrics, "newsclf_shadow_predictions_total", outcome="disagree") == 1


class SlowCandidate:
    """A candidate that takes its time (a larger model on a busy machine), to fill the queue."""

    def __init__(self, model, gate: threading.Event) -> None:
        self.model, self.gate, self.info = model, gate, model.info

    def tokenize(self, texts):
        return self.model.tokenize(texts)

    def predict_texts(self, texts):
        self.gate.wait(10)
        return self.model.predict_texts(texts)


def test_a_full_queue_drops_shadow_work_and_never_waits(tiny_model_dir_int8):
    gate = threading.Event()
    slow = SlowCandidate(OnnxClassifier.load(tiny_model_dir_int8, "cpu", 1), gate)
    metrics = Metrics()
    shadow = Shadow(slow, metrics, queue_batches=1)
    shadow.start()
    started = time.monotonic()
    offered = [shadow.offer(batch(5, offset=10 * i)) for i in range(6)]
    assert time.monotonic() - started < 1.0  # the live path did not wait for the shadow
    assert offered[0] and not all(offered)
    dropped = sample(metrics, "newsclf_shadow_dropped_total")
    assert dropped == 5 * offered.count(False)
    gate.set()
    shadow.drain()
    shadow.stop()
    scored = sample(metrics, "newsclf_shadow_predictions_total", outcome="agree") + sample(
        metrics, "newsclf_shadow_predictions_total", outcome="disagree"
    )
    assert scored == 5 * offered.count(True)


def test_sampling_is_deterministic_in_the_batchs_position():
    picks = [sampled(batch(1, offset=i), 0.25) for i in range(400)]
    assert picks == [sampled(batch(1, offset=i), 0.25) for i in range(400)]
    assert 60 < sum(picks) < 140
    assert all(sampled(batch(1, offset=i), 1.0) for i in range(10))
    assert not any(sampled(batch(1, offset=i), 0.0) for i in range(10))


def test_a_failing_candidate_is_counted_and_the_shadow_goes_on(tiny_model_dir_int8):
    class Broken(SlowCandidate):
        def predict_texts(self, texts):
            raise RuntimeError("out of memory")

    metrics = Metrics()
    shadow = Shadow(
        Broken(OnnxClassifier.load(tiny_model_dir_int8, "cpu", 1), threading.Event()), metrics
    )
    shadow.start()
    assert shadow.offer(batch(3)) and shadow.offer(batch(3, offset=5))
    shadow.drain()
    shadow.stop()
    assert sample(metrics, "newsclf_shadow_failures_total") == 2

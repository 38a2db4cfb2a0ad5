"""Hot reload on a real broker with the real service, under load: the model directory (a
symlink) is repointed while articles stream in; every article comes out exactly once, each
output names the model that produced it, per partition the old model's outputs all come
before the new one's (a batch is never split), readiness never drops; a broken model is
refused and the old one keeps serving."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter

import pytest

from consumer.model import OnnxClassifier
from tests.consumer.service_helpers import ThreadedService, service_settings, wait_for
from tests.consumer.test_reload import count, point
from tests.fixtures.kafka import consume_all, make_topic, produce_values

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def topics(bootstrap: str) -> dict[str, str]:
    return {
        "input_topic": make_topic(bootstrap, 2, prefix="reload-in"),
        "output_topic": make_topic(bootstrap, 1, prefix="reload-out"),
        "dlq_topic": make_topic(bootstrap, 1, prefix="reload-dlq"),
    }


def article(i: int) -> bytes:
    return json.dumps({"id": f"a{i}", "title": f"Headline {i}", "text": "Shares rose."}).encode()


class Stream:
    """Produces articles in chunks of 10, on a thread, until :meth:`stop` (then finishes its
    chunk): the stream goes on before, during and after a model change."""

    def __init__(self, bootstrap: str, topic: str, pause_s: float = 0.1) -> None:
        self.sent = 0
        self._args = (bootstrap, topic, pause_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        bootstrap, topic, pause_s = self._args
        while not self._stop.is_set():
            produce_values(bootstrap, topic, [article(i) for i in range(self.sent, self.sent + 10)])
            self.sent += 10
            time.sleep(pause_s)

    def stop_after(self, more: int) -> int:
        """Let ``more`` articles more go, stop, and return how many were sent in all."""
        target = self.sent + more
        wait_for(lambda: self.sent >= target, timeout=60, what=f"{more} more sent")
        self._stop.set()
        self._thread.join(60)
        return self.sent

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)


class ReadyWatch:
    """Samples readiness every 20 ms; ``drops`` lists any reason seen after the first ready."""

    def __init__(self, health) -> None:
        self.health, self.drops, self._stop = health, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        seen_ready = False
        while not self._stop.wait(0.02):
            reason = self.health.not_ready_because
            seen_ready = seen_ready or reason is None
            if seen_ready and reason is not None:
                self.drops.append(reason)

    def __enter__(self) -> ReadyWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.parametrize("delivery", ["at-least-once", "exactly-once"])
def test_a_new_model_takes_over_under_load_with_nothing_lost_or_doubled(
    kafka_bootstrap, tiny_model_dir, tiny_model_dir_int8, tmp_path, delivery
):
    t = topics(kafka_bootstrap)
    link = tmp_path / "model"
    link.symlink_to(tiny_model_dir)
    old = OnnxClassifier.load(tiny_model_dir, "cpu", 1).info.sha256
    new = OnnxClassifier.load(tiny_model_dir_int8, "cpu", 1).info.sha256
    settings = service_settings(kafka_bootstrap, link, model_watch_s=0.2, delivery=delivery, **t)
    with ThreadedService(settings) as svc, ReadyWatch(svc.service.health) as ready:
        with Stream(kafka_bootstrap, t["input_topic"]) as stream:
            wait_for(lambda: classified(svc) >= 50, timeout=90, what="50 classified")
            point(link, tiny_model_dir_int8)
            wait_for(lambda: count(svc.service.metrics, "ok") == 1, timeout=30, what="reload")
            n = stream.stop_after(50)
        out = consume_all(kafka_bootstrap, t["output_topic"], n, timeout=120)
    assert svc.error is None
    assert ready.drops == []
    assert Counter(json.loads(r.value)["id"] for r in out) == Counter(f"a{i}" for i in range(n))
    by_partition: dict[int, list[str]] = {}
    for r in out:
        body = json.loads(r.value)
        by_partition.setdefault(body["source"]["partition"], []).append(
            (body["source"]["offset"], body["model_sha256"])
        )
    shas = set()
    for rows in by_partition.values():
        sequence = [sha for _, sha in sorted(rows)]
        shas |= set(sequence)
        first_new = sequence.index(new) if new in sequence else len(sequence)
        assert set(sequence[:first_new]) <= {old} and set(sequence[first_new:]) <= {new}
    assert shas == {old, new}, (shas, old, new)  # both served, the new one last
    assert count(svc.service.metrics, "refused") == 0
    info = svc.service.metrics.registry.get_sample_value
    assert info("newsclf_model_info", {**_info_labels(svc, new)}) == 1


def classified(svc) -> float:
    return svc.service.metrics.registry.get_sample_value(
        "newsclf_messages_total", {"outcome": "classified"}
    )


def _info_labels(svc, sha: str) -> dict[str, str]:
    for metric in svc.service.metrics.registry.collect():
        for sample in metric.samples:
            if sample.name == "newsclf_model_info" and sample.labels["sha256"] == sha:
                return sample.labels
    raise AssertionError(f"no newsclf_model_info for {sha}")


def test_a_broken_model_is_refused_and_the_old_one_keeps_serving(
    kafka_bootstrap, tiny_model_dir, tiny_model_dir_int8, tmp_path
):
    t = topics(kafka_bootstrap)
    link = tmp_path / "model"
    link.symlink_to(tiny_model_dir)
    old = OnnxClassifier.load(tiny_model_dir, "cpu", 1).info.sha256
    bad = tmp_path / "bad"
    shutil.copytree(tiny_model_dir_int8, bad)
    (bad / "tokenizer.json").write_text("{}", encoding="utf-8")
    settings = service_settings(kafka_bootstrap, link, model_watch_s=0, **t)
    with ThreadedService(settings) as svc, ReadyWatch(svc.service.health) as ready:
        produce_values(kafka_bootstrap, t["input_topic"], [article(i) for i in range(20)])
        consume_all(kafka_bootstrap, t["output_topic"], 20, timeout=60)
        point(link, bad)
        svc.service.reloader.request()  # what SIGHUP does
        wait_for(lambda: count(svc.service.metrics, "refused") == 1, timeout=30, what="refusal")
        produce_values(kafka_bootstrap, t["input_topic"], [article(i) for i in range(20, 40)])
        out = consume_all(kafka_bootstrap, t["output_topic"], 40, timeout=60)
    assert svc.error is None and ready.drops == []
    assert len(out) == 40
    assert {json.loads(r.value)["model_sha256"] for r in out} == {old}
    assert count(svc.service.metrics, "ok") == 0

"""Shadow scoring on a real broker with the real service: the candidate scores every batch the
live model classified, outputs and commits are the live model's alone, agreement is counted,
and each disagreement lands on the shadow topic."""

from __future__ import annotations

import json

import pytest

from consumer.model import OnnxClassifier
from tests.consumer.service_helpers import ThreadedService, bbc_articles, service_settings, wait_for
from tests.fixtures.kafka import committed_offsets, consume_all, make_topic, produce_values

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_the_shadow_scores_every_batch_and_changes_nothing(
    kafka_bootstrap, tiny_model_dir, tiny_model_dir_int8
):
    t = {
        "input_topic": make_topic(kafka_bootstrap, 2, prefix="shadow-in"),
        "output_topic": make_topic(kafka_bootstrap, 1, prefix="shadow-out"),
        "dlq_topic": make_topic(kafka_bootstrap, 1, prefix="shadow-dlq"),
    }
    shadow_topic = make_topic(kafka_bootstrap, 1, prefix="shadow-disagree")
    articles = bbc_articles(40, step=13)
    produce_values(kafka_bootstrap, t["input_topic"], [json.dumps(a).encode() for a in articles])
    live_sha = OnnxClassifier.load(tiny_model_dir, "cpu", 1).info.sha256
    settings = service_settings(
        kafka_bootstrap,
        tiny_model_dir,
        shadow_model_dir=tiny_model_dir_int8,
        shadow_topic=shadow_topic,
        **t,
    )

    def scored(svc) -> float:
        get = svc.service.metrics.registry.get_sample_value
        return sum(
            get("newsclf_shadow_predictions_total", {"outcome": o}) for o in ("agree", "disagree")
        )

    with ThreadedService(settings) as svc:
        out = consume_all(kafka_bootstrap, t["output_topic"], 40, timeout=90)
        wait_for(lambda: scored(svc) == 40, timeout=30, what="40 shadow-scored")
        metrics = svc.service.metrics.registry
    assert svc.error is None
    assert len(out) == 40 and {json.loads(r.value)["model_sha256"] for r in out} == {live_sha}
    assert (
        sum(committed_offsets(kafka_bootstrap, settings.group_id, t["input_topic"]).values()) == 40
    )
    disagree = metrics.get_sample_value("newsclf_shadow_predictions_total", {"outcome": "disagree"})
    assert metrics.get_sample_value("newsclf_shadow_dropped_total") == 0
    live = {json.loads(r.value)["id"]: json.loads(r.value)["label"] for r in out}
    written = consume_all(kafka_bootstrap, shadow_topic, int(disagree), timeout=20)
    assert len(written) == disagree
    for r in written:
        body = json.loads(r.value)
        assert body["live_label"] == live[body["id"]] != body["shadow_label"]

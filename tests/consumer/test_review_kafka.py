"""Review routing end to end on a real broker: each reason, the model's own policy, routing off,
and the metrics that count it. Real model, real language detector, real Kafka."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import numpy as np
import pytest

from consumer.model import OnnxClassifier
from consumer.serving import review_policy
from devkit.samples import FOREIGN_ARTICLES
from newsclf.language import LanguageDetector
from newsclf.textprep import compose
from tests.consumer.service_helpers import ThreadedService, bbc_articles, service_settings
from tests.fixtures.kafka import consume_all, make_topic, produce_values

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FOREIGN = [{k: v for k, v in a.items() if k != "language"} for a in FOREIGN_ARTICLES]
EXPECTED_LANGUAGE = {a["id"]: a["language"] for a in FOREIGN_ARTICLES}


def topics(bootstrap: str) -> dict[str, str]:
    return {
        "input_topic": make_topic(bootstrap, 2, prefix="review-in"),
        "output_topic": make_topic(bootstrap, 1, prefix="review-out"),
        "dlq_topic": make_topic(bootstrap, 1, prefix="review-dlq"),
        "review_topic": make_topic(bootstrap, 1, prefix="review-review"),
    }


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def calibrated_scores(model_dir, articles) -> dict[str, float]:
    """The served (calibrated) confidence of each article, computed apart from the service."""
    model = OnnxClassifier.load(model_dir, "cpu", 1)
    texts = [compose(a.get("title"), a.get("text")) for a in articles]
    probs = model.predict_texts(texts)
    return {a["id"]: float(p) for a, p in zip(articles, np.max(probs, axis=1), strict=True)}


def split_threshold(scores: dict[str, float]) -> float:
    """A threshold between two neighbouring scores far enough apart that batch composition
    (float noise of 1e-6) cannot move an article across it, near the median."""
    ordered = sorted(scores.values())
    gaps = [(ordered[i + 1] - ordered[i], i) for i in range(len(ordered) - 1)]
    middle = [g for g in gaps if len(ordered) // 4 <= g[1] <= 3 * len(ordered) // 4]
    gap, i = max(middle)
    assert gap > 1e-4, "no clear gap between the test model's scores"
    return (ordered[i] + ordered[i + 1]) / 2


def test_each_reason_goes_to_review_and_the_rest_is_labelled(kafka_bootstrap, tiny_model_dir):
    english = bbc_articles(24)
    scores = calibrated_scores(tiny_model_dir, english)
    threshold = split_threshold(scores)
    t = topics(kafka_bootstrap)
    produce_values(
        kafka_bootstrap,
        t["input_topic"],
        [json.dumps(a).encode() for a in [*english, *FOREIGN]],
    )
    settings = service_settings(
        kafka_bootstrap,
        tiny_model_dir,
        review_routing=True,
        review_threshold=threshold,
        supported_languages="en",
        **t,
    )
    low = {i for i, s in scores.items() if s < threshold}
    labelled = {a["id"] for a in english} - low
    assert low and labelled
    with ThreadedService(settings) as svc:
        out = consume_all(kafka_bootstrap, t["output_topic"], len(labelled), timeout=90)
        review = consume_all(
            kafka_bootstrap, t["review_topic"], len(low) + len(FOREIGN), timeout=60
        )
        port = svc.service.http.port
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    assert svc.error is None

    assert {json.loads(r.value)["id"] for r in out} == labelled
    for record in out:
        body = json.loads(record.value)
        assert body["language"] == "en" and body["score"] >= threshold
    bodies = {json.loads(r.value)["id"]: (r, json.loads(r.value)) for r in review}
    assert set(bodies) == low | set(EXPECTED_LANGUAGE)
    for article_id, (record, body) in bodies.items():
        if article_id in EXPECTED_LANGUAGE:
            assert body["reason"] == "unsupported_language", body
            assert body["language"] == EXPECTED_LANGUAGE[article_id]
        else:
            assert body["reasons"] == ["low_confidence"], body
            assert body["language"] == "en"
            assert body["score"] == pytest.approx(scores[article_id], abs=1e-5)
        assert body["threshold"] == pytest.approx(threshold)
        assert abs(sum(body["scores"].values()) - 1) < 1e-3  # the whole distribution
        assert body["model_version"] == svc.service.model.info.version
        assert dict(record.headers)["review-reason"].decode() == body["reason"]

    reasons = Counter(body["reason"] for _, body in bodies.values())
    assert (
        metric(scrape, 'newsclf_reviews_total{reason="low_confidence"}')
        == reasons["low_confidence"]
    )
    assert metric(scrape, 'newsclf_reviews_total{reason="unsupported_language"}') == len(FOREIGN)
    assert metric(scrape, 'newsclf_messages_total{outcome="reviewed"}') == len(bodies)
    assert metric(scrape, 'newsclf_messages_total{outcome="classified"}') == len(labelled)
    assert metric(scrape, "newsclf_predictions_total") == len(labelled)
    assert metric(scrape, "newsclf_drift_window_fill") > 0  # the test model has a reference


def test_routing_off_labels_everything_with_its_language(kafka_bootstrap, tiny_model_dir):
    t = topics(kafka_bootstrap)
    english = bbc_articles(6, step=11)
    produce_values(
        kafka_bootstrap, t["input_topic"], [json.dumps(a).encode() for a in [*english, *FOREIGN]]
    )
    settings = service_settings(
        kafka_bootstrap,
        tiny_model_dir,
        review_routing=False,
        review_threshold=0.99,
        supported_languages="en",
        **t,
    )
    with ThreadedService(settings) as svc:
        out = consume_all(kafka_bootstrap, t["output_topic"], len(english) + len(FOREIGN), 90)
        review = consume_all(kafka_bootstrap, t["review_topic"], 0, timeout=3)
    assert svc.error is None
    assert not review
    languages = {json.loads(r.value)["id"]: json.loads(r.value)["language"] for r in out}
    assert languages == {**{a["id"]: "en" for a in english}, **EXPECTED_LANGUAGE}


def test_the_models_own_policy_is_used_unless_overridden(kafka_bootstrap, tiny_model_dir):
    """The test model carries a threshold and its training data's languages; settings win."""
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    assert manifest["languages"]["supported"] == ["en"]
    own = manifest["calibration"]["threshold"]
    info = OnnxClassifier.load(tiny_model_dir, "cpu", 1).info
    t = topics(kafka_bootstrap)
    policy = review_policy(
        service_settings(kafka_bootstrap, tiny_model_dir, review_routing=True, **t), info
    )
    assert policy["review_topic"] == t["review_topic"]
    assert policy["review_threshold"] == pytest.approx(own)
    assert policy["supported_languages"] == frozenset({"en"})
    overridden = service_settings(
        kafka_bootstrap,
        tiny_model_dir,
        review_routing=True,
        review_threshold=0,
        supported_languages="*",
        **t,
    )
    policy = review_policy(overridden, info)
    assert policy["review_threshold"] == 0 and policy["supported_languages"] is None
    off = review_policy(service_settings(kafka_bootstrap, tiny_model_dir, **t), info)
    assert off["review_topic"] is None


def test_detector_and_service_agree_on_the_samples():
    """The hand-written samples are what the tests above take them for."""
    detected = LanguageDetector().detect([f"{a['title']} {a['text']}" for a in FOREIGN_ARTICLES])
    assert detected == [a["language"] for a in FOREIGN_ARTICLES]

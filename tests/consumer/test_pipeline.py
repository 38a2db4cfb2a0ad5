"""The pure pipeline with the real tokenizer and the real ONNX model (the 1-layer test model):
decode -> tokenize -> infer -> serialize never raises past the dead-letter path."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer import pipeline
from consumer.metrics import StageTimer
from consumer.model import OnnxClassifier
from consumer.schemas import ERRORS, ClassifiedArticle, Decoded

pytestmark = pytest.mark.slow


@dataclass
class Rec:
    value: bytes | None
    key: bytes | None = None
    topic: str = "news.articles"
    partition: int = 0
    offset: int = 0
    timestamp: int = 1_700_000_000_000
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return OnnxClassifier.load(tiny_model_dir, "cpu", 1)


def routes(model, by_label=False, cap=1000):
    labels = model.info.labels
    return pipeline.Routes(
        output_topic="out",
        dlq_topic="dlq",
        label_topics={lb: f"out.{lb}" for lb in labels} if by_label else None,
        client_id="test",
        model_version=model.info.version,
        model_sha256=model.info.sha256,
        labels=labels,
        dlq_max_value_bytes=cap,
    )


def run(model, records, by_label=False):
    timer = StageTimer()
    decoded = pipeline.decode(records, 100_000)
    texts = [d.text for d in decoded if isinstance(d, Decoded)]
    classified = pipeline.classify(model, texts, 8, 2048, timer)
    out, results = pipeline.build_outgoing(
        records, decoded, classified, routes(model, by_label), "2026-01-01T00:00:00Z"
    )
    return out, results, timer


def test_every_record_gets_exactly_one_answer(model):
    records = [
        Rec(
            json.dumps({"id": f"a{i}", "title": "Shares rally", "text": "Markets " * i}).encode(),
            offset=i,
        )
        for i in range(20)
    ] + [Rec(b"{broken", offset=20), Rec(None, offset=21)]
    out, results, timer = run(model, records, by_label=True)
    outputs = [o for o in out if o.kind == "output"]
    letters = [o for o in out if o.kind == "dead_letter"]
    assert sorted(o.index for o in outputs) == list(range(20))
    assert sorted(o.index for o in letters) == [20, 21]
    assert len([o for o in out if o.kind == "label"]) == 20
    for o in outputs:
        body = ClassifiedArticle.model_validate_json(o.value)
        assert body.source.offset == o.index
        assert body.label in model.info.labels
        assert abs(sum(body.scores.values()) - 1) < 1e-4
    assert {r.index for r in results} == set(range(20))
    assert timer.counts["tokenize"] == 1 and timer.counts["infer"] == 1


def test_results_do_not_depend_on_batch_company(model):
    """The same article gives the same output bytes alone and in a mixed batch."""
    one = Rec(json.dumps({"id": "x", "text": "The striker scored twice."}).encode(), offset=3)
    others = [
        Rec(json.dumps({"id": f"o{i}", "text": "word " * (50 * i + 1)}).encode(), offset=10 + i)
        for i in range(6)
    ]
    alone, _, _ = run(model, [one])
    mixed, _, _ = run(model, [*others[:3], one, *others[3:]])
    value = next(o.value for o in mixed if o.kind == "output" and o.index == 3)
    assert value == alone[0].value


def test_a_failed_row_becomes_a_processing_failed_dead_letter(model):
    records = [
        Rec(json.dumps({"id": f"a{i}", "text": "text"}).encode(), offset=i) for i in range(3)
    ]
    decoded = pipeline.decode(records, 1000)
    probs = np.full((3, len(model.info.labels)), 1 / len(model.info.labels), dtype=np.float32)
    classified = pipeline.Classified(probs, {1: "the model failed on this article: boom"})
    out, results = pipeline.build_outgoing(records, decoded, classified, routes(model), "t")
    assert [(o.index, o.kind) for o in out] == [(0, "output"), (2, "output"), (1, "dead_letter")]
    letter = json.loads(out[-1].value)
    assert letter["error"] == "processing_failed" and "boom" in letter["reason"]
    assert [r.index for r in results] == [0, 2]


any_text = st.text(st.characters(exclude_categories=()), max_size=3000)


@given(
    st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(
                lambda i, t, x: json.dumps({"id": i, "title": t, "text": x}),
                any_text,
                any_text,
                any_text,
            ).map(lambda s: s.encode()),
        ),
        min_size=1,
        max_size=12,
    )
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_decode_tokenize_infer_serialize_never_raises(model, values):
    records = [Rec(v, key=v[:8], offset=i) for i, v in enumerate(values)]
    out, _, _ = run(model, records, by_label=True)
    answered = {o.index for o in out if o.kind in ("output", "dead_letter")}
    assert answered == set(range(len(records)))
    for o in out:
        body = json.loads(o.value)
        if o.kind == "dead_letter":
            assert body["error"] in ERRORS


def test_a_result_over_its_topics_limit_becomes_an_output_rejected_dead_letter(model):
    records = [
        Rec(json.dumps({"id": "short", "text": "Goal."}).encode(), offset=0),
        Rec(json.dumps({"id": "long", "title": "headline " * 100, "text": "x"}).encode(), offset=1),
    ]
    decoded = pipeline.decode(records, 100_000)
    texts = [d.text for d in decoded if isinstance(d, Decoded)]
    classified = pipeline.classify(model, texts, 8, 2048, StageTimer())
    limited = routes(model, by_label=True)
    limited = pipeline.Routes(**{**limited.__dict__, "record_limits": {"out": 1000}})
    out, results = pipeline.build_outgoing(records, decoded, classified, limited, "t")
    assert [(o.index, o.kind) for o in out] == [(0, "output"), (0, "label"), (1, "dead_letter")]
    letter = json.loads(out[-1].value)
    assert letter["error"] == "output_rejected" and "out accepts at most 1000" in letter["reason"]
    assert [r.index for r in results] == [0]


def test_review_routing_by_reason():
    """Each article goes to exactly one place: its label, or review with the reasons that
    apply; label copies only for labelled articles; routing off labels everything."""
    labels = ("business", "sport", "tech")
    records = [Rec(json.dumps({"id": f"a{i}", "text": "x"}).encode(), offset=i) for i in range(4)]
    decoded = pipeline.decode(records, 1000)
    probs = np.array(
        [[0.98, 0.01, 0.01], [0.5, 0.3, 0.2], [0.97, 0.02, 0.01], [0.4, 0.3, 0.3]],
        dtype=np.float32,
    )
    classified = pipeline.Classified(probs, truncated=[False, True, False, False])
    languages = ["en", "en", "de", "tr"]
    base = {
        "output_topic": "out",
        "dlq_topic": "dlq",
        "label_topics": {lb: f"out.{lb}" for lb in labels},
        "client_id": "t",
        "model_version": "v1",
        "model_sha256": "ab" * 32,
        "labels": labels,
        "dlq_max_value_bytes": 100,
    }
    on = pipeline.Routes(
        **base,
        review_topic="review",
        review_threshold=0.9,
        supported_languages=frozenset({"en"}),
    )
    out, results = pipeline.build_outgoing(records, decoded, classified, on, "t", languages)
    by_index = {}
    for o in out:
        by_index.setdefault(o.index, []).append(o)
    assert [(o.topic, o.kind) for o in by_index[0]] == [
        ("out", "output"),
        ("out.business", "label"),
    ]
    assert [r.reason for r in results] == [None, "low_confidence", "unsupported_language"] + [
        "unsupported_language"
    ]
    for i, reasons in ((1, ["low_confidence"]), (2, ["unsupported_language"])):
        (o,) = by_index[i]
        assert (o.topic, o.kind) == ("review", "review")
        body = json.loads(o.value)
        assert body["reasons"] == reasons and body["threshold"] == 0.9
        assert dict(o.headers)["review-reason"] == reasons[0].encode()
    last = json.loads(by_index[3][0].value)
    assert last["reasons"] == ["unsupported_language", "low_confidence"]
    assert last["language"] == "tr" and len(last["scores"]) == 3
    assert json.loads(by_index[1][0].value)["truncated"] is True

    off = pipeline.Routes(**base)
    out, results = pipeline.build_outgoing(records, decoded, classified, off, "t", languages)
    assert {o.topic for o in out} == {"out", "out.business"}
    assert all(r.reason is None for r in results)
    assert json.loads(out[0].value)["language"] == "en"


def test_language_detection_never_stops_a_batch():
    records = [Rec(json.dumps({"id": "a", "text": "x"}).encode()), Rec(b"not json")]
    decoded = pipeline.decode(records, 1000)
    assert pipeline.detect_languages(decoded, lambda texts: ["de"] * len(texts)) == ["de"]
    assert pipeline.detect_languages(decoded, None) == [None]

    def broken(texts):
        raise RuntimeError("the detector fell over")

    assert pipeline.detect_languages(decoded, broken) == [None]
    assert pipeline.detect_languages(decoded, lambda texts: []) == [None]  # wrong length

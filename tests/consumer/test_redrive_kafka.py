"""Dead-letter redrive on a real broker with the real service: articles dead-lettered as
``too_large`` under a small NEWSCLF_MAX_MESSAGE_BYTES come out classified once redriven after
the limit is raised; a dry run sends nothing; a second run resends nothing; an article that
fails again is not redriven twice."""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest

from consumer.redrive import Selection, run
from consumer.redrive.cli import main as redrive_main
from tests.consumer.service_helpers import ThreadedService, bbc_articles, service_settings
from tests.fixtures.kafka import committed_offsets, consume_all, make_topic, produce_values

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

LIMIT = 1200  # bytes: every picked BBC article is larger, the two short ones smaller
TOO_LARGE = Selection(errors=frozenset({"too_large"}))


def topics(bootstrap: str) -> dict[str, str]:
    return {
        "input_topic": make_topic(bootstrap, 2, prefix="redrive-in"),
        "output_topic": make_topic(bootstrap, 1, prefix="redrive-out"),
        "dlq_topic": make_topic(bootstrap, 1, prefix="redrive-dlq"),
    }


def inputs() -> tuple[list[bytes], set[str], set[str]]:
    big = [a for a in bbc_articles(12) if len(json.dumps(a)) > LIMIT][:6]
    short = [{"id": "short-1", "text": "Shares rose."}, {"id": "short-2", "text": "A late goal."}]
    values = [json.dumps(a).encode() for a in [*big, *short]] + [b'{"id": "broken",']
    return values, {a["id"] for a in big}, {a["id"] for a in short}


def ids(records) -> Counter[str]:
    return Counter(json.loads(r.value)["id"] for r in records)


def test_too_large_articles_redriven_after_the_limit_is_raised_come_out_classified(
    kafka_bootstrap, tiny_model_dir
):
    t = topics(kafka_bootstrap)
    values, big, short = inputs()
    assert len(big) == 6
    produce_values(kafka_bootstrap, t["input_topic"], values, keys=[f"k{i}" for i in range(9)])
    small = service_settings(kafka_bootstrap, tiny_model_dir, max_message_bytes=LIMIT, **t)
    with ThreadedService(small) as svc:
        dead = consume_all(kafka_bootstrap, t["dlq_topic"], 7, timeout=60)
        assert len(consume_all(kafka_bootstrap, t["output_topic"], 2, timeout=60)) == 2
    assert svc.error is None
    assert Counter(json.loads(r.value)["error"] for r in dead) == {"too_large": 6, "bad_json": 1}

    dry = run(small, TOO_LARGE, dry_run=True)
    assert (dry.read, dry.sent, dict(dry.skipped)) == (7, 6, {"not_selected": 1})
    assert len(consume_all(kafka_bootstrap, t["input_topic"], 9, timeout=10)) == 9
    assert set(committed_offsets(kafka_bootstrap, dry.group, t["dlq_topic"]).values()) == {None}

    sent = run(small, TOO_LARGE)
    assert (sent.read, sent.sent, dict(sent.skipped)) == (7, 6, {"not_selected": 1})
    assert sent.group == f"{small.group_id}-redrive-too_large"
    assert committed_offsets(kafka_bootstrap, sent.group, t["dlq_topic"]) == {0: 7}
    again = run(small, TOO_LARGE)
    assert (again.read, again.sent) == (0, 0)  # a second run resends nothing

    redriven = consume_all(kafka_bootstrap, t["input_topic"], 15, timeout=30)
    redriven = [r for r in redriven if dict(r.headers or []).get("redrive-count")]
    assert len(redriven) == 6
    by_offset = {r.offset: r for r in dead}
    for r in redriven:
        headers = dict(r.headers)
        assert headers["redrive-count"] == b"1" and headers["redrive-error"] == b"too_large"
        assert headers["redrive-dlq-topic"] == t["dlq_topic"].encode()
        source = json.loads(by_offset[int(headers["redrive-dlq-offset"])].value)
        assert r.key == base64.b64decode(source["key_b64"])  # keyed like the input
        assert json.loads(r.value)["id"] in big

    raised = small.model_copy(update={"max_message_bytes": 1_000_000})
    with ThreadedService(raised) as svc:  # the same group: it reads on from its commit
        out = consume_all(kafka_bootstrap, t["output_topic"], 8, timeout=90)
    assert svc.error is None
    assert ids(out) == Counter(big | short)  # each exactly once, the broken one still dead
    assert len(consume_all(kafka_bootstrap, t["dlq_topic"], 7, timeout=10)) == 7


def test_an_article_that_fails_again_is_not_redriven_twice(
    kafka_bootstrap, tiny_model_dir, monkeypatch, capsys
):
    t = topics(kafka_bootstrap)
    values, big, _ = inputs()
    produce_values(kafka_bootstrap, t["input_topic"], values[:3])
    small = service_settings(kafka_bootstrap, tiny_model_dir, max_message_bytes=LIMIT, **t)
    with ThreadedService(small) as svc:
        consume_all(kafka_bootstrap, t["dlq_topic"], 3, timeout=60)
        assert run(small, TOO_LARGE).sent == 3
        # Still too large for this service: dead-lettered again, with the redrive's provenance.
        dead = consume_all(kafka_bootstrap, t["dlq_topic"], 6, timeout=60)
    assert svc.error is None
    assert len(dead) == 6
    for r in dead[3:]:
        headers = dict(r.headers)
        assert headers["redrive-count"] == b"1"
        assert int(headers["redrive-dlq-offset"]) in {0, 1, 2}

    # The CLI, configured like the service through NEWSCLF_* variables.
    monkeypatch.setenv("NEWSCLF_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("NEWSCLF_DLQ_TOPIC", t["dlq_topic"])
    monkeypatch.setenv("NEWSCLF_GROUP_ID", small.group_id)
    assert redrive_main(["--error", "too_large", "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["read"] == 3 and summary["sent"] == 0
    assert summary["skipped"] == {"max_redrives": 3}
    assert len(consume_all(kafka_bootstrap, t["input_topic"], 6, timeout=10)) == 6


def test_an_original_too_large_to_embed_is_read_back_from_the_input_topic(
    kafka_bootstrap, tiny_model_dir
):
    t = topics(kafka_bootstrap)
    values, big, _ = inputs()
    produce_values(kafka_bootstrap, t["input_topic"], values[:2])
    small = service_settings(
        kafka_bootstrap, tiny_model_dir, max_message_bytes=LIMIT, dlq_max_value_bytes=256, **t
    )
    with ThreadedService(small) as svc:
        dead = consume_all(kafka_bootstrap, t["dlq_topic"], 2, timeout=60)
    assert svc.error is None
    assert all(json.loads(r.value)["value_truncated"] for r in dead)
    report = run(small, TOO_LARGE)
    assert (report.sent, dict(report.skipped)) == (2, {})
    records = consume_all(kafka_bootstrap, t["input_topic"], 4, timeout=30)
    redriven = [r for r in records if "redrive-count" in dict(r.headers or [])]
    assert len(redriven) == 2
    assert sorted(r.value for r in redriven) == sorted(values[:2])  # the whole originals

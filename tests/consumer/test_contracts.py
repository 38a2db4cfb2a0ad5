"""Wire contracts: the shipped JSON Schemas are what the models generate, stay backward
compatible with every released version, and the records the service really writes validate
against them (with a JSON Schema validator, as a platform team or a producer would)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from consumer import contracts
from consumer.schemas import (
    Article,
    Prediction,
    Rejection,
    ShadowDisagreement,
    dead_letter_value,
    output_value,
)
from newsclf.corpus import iter_bbc


def shipped(name: str) -> dict:
    return json.loads((contracts.WIRE / contracts.file_name(name)).read_text())


def valid(name: str, value: bytes | dict) -> None:
    instance = json.loads(value) if isinstance(value, bytes) else value
    jsonschema.Draft202012Validator(shipped(name)).validate(instance)


def test_the_shipped_schemas_are_generated_versioned_and_compatible():
    assert contracts.check() == []
    for name in contracts.CONTRACTS:
        schema = shipped(name)
        assert schema["x-version"] == contracts.VERSIONS[name]
        assert schema["$id"].endswith(f"{name}:v{schema['x-version']}")
        jsonschema.Draft202012Validator.check_schema(schema)
        assert (contracts.HISTORY / contracts.file_name(name, schema["x-version"])).is_file()


def test_a_new_required_field_fails_and_a_new_optional_one_passes():
    old = contracts.generate("article")
    optional = json.loads(json.dumps(old))
    optional["properties"]["lang"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert contracts.incompatibilities(old, optional) == []
    required = json.loads(json.dumps(optional))
    required["required"].append("lang")
    assert contracts.incompatibilities(old, required) == ["lang: a new required field"]
    removed = json.loads(json.dumps(old))
    del removed["properties"]["source"]
    assert contracts.incompatibilities(old, removed) == ["source: removed"]
    narrowed = json.loads(json.dumps(old))
    narrowed["properties"]["title"] = {"type": "string"}
    assert contracts.incompatibilities(old, narrowed) == ["title: no longer accepts null"]


def test_a_nested_model_is_checked_too():
    old = contracts.generate("classified")
    new = json.loads(json.dumps(old))
    new["$defs"]["SourceRef"]["required"].append("leader_epoch")
    assert contracts.incompatibilities(old, new) == ["SourceRef.leader_epoch: a new required field"]


def test_a_change_without_a_new_version_is_caught(tmp_path, monkeypatch):
    released = contracts.generate("article")
    released["properties"]["old_field"] = {"type": "string"}
    (tmp_path / "article.v1.json").write_text(json.dumps(released))
    monkeypatch.setattr(contracts, "HISTORY", tmp_path)
    problems = contracts.check()
    assert any("old_field: removed" in p for p in problems)
    assert any("without a new version" in p for p in problems)


def test_what_the_service_writes_validates_against_the_shipped_schemas():
    raw = next(iter_bbc())
    valid("article", raw)
    valid("article", {"id": "a1", "title": "Headline only", "extra": {"tolerated": True}})
    with pytest.raises(jsonschema.ValidationError):
        valid("article", {"title": "no id"})
    article = Article.model_validate(raw)
    prediction = Prediction("sport", 1, [0.1, 0.9], "en", False)
    where = ("news.articles", 0, 7, 1_700_000_000_000)
    valid(
        "classified", output_value(article, prediction, ["business", "sport"], "v1", "ab", *where)
    )
    review = output_value(
        article,
        prediction,
        ["business", "sport"],
        "v1",
        "ab",
        *where,
        review=(["low_confidence"], 0.95),
    )
    valid("review", review)
    letter = dead_letter_value(
        original=b"\xff not utf-8",
        key=b"k",
        rejection=Rejection("bad_utf8", "value is not UTF-8"),
        topic="news.articles",
        partition=0,
        offset=8,
        timestamp_ms=None,
        failed_at="2026-12-06T10:00:00+00:00",
        max_value_bytes=100,
    )
    valid("dead_letter", letter)
    disagreement = ShadowDisagreement(
        id="a1",
        live_label="sport",
        live_score=0.9,
        live_model_version="v1",
        shadow_label="business",
        shadow_score=0.6,
        shadow_model_version="v2",
        shadow_model_sha256="cd",
        source={"topic": "news.articles", "partition": 0, "offset": 7},
    )
    valid("shadow_disagreement", disagreement.model_dump())


def test_the_cli_says_all_is_well(capsys):
    assert contracts.main([]) == 0
    assert "5 wire schemas" in capsys.readouterr().out

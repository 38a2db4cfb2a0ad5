import base64
import json

import pytest

from consumer.schemas import (
    Article,
    ClassifiedArticle,
    Rejection,
    SourceRef,
    dead_letter_headers,
    dead_letter_value,
    decode_article,
)

LIMIT = 10_000


def ok(value: bytes):
    result = decode_article(value, LIMIT)
    assert not isinstance(result, Rejection), result
    return result


def rejected(value: bytes | None, limit: int = LIMIT) -> Rejection:
    result = decode_article(value, limit)
    assert isinstance(result, Rejection), result
    return result


def test_valid_article_and_unknown_fields_tolerated():
    article, text = ok(
        json.dumps(
            {"id": "a1", "title": " Budget  row ", "text": "MPs\nvote.", "extra": {"x": 1}}
        ).encode()
    )
    assert article.id == "a1"
    assert text == "Budget row MPs vote."


def test_title_alone_is_enough():
    _, text = ok(b'{"id": "t", "title": "Only a headline"}')
    assert text == "Only a headline"


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        (b"\xff\xfe not utf8", "bad_utf8", "not UTF-8"),
        (b"{not json", "bad_json", "not JSON"),
        (b"[1, 2]", "not_an_object", "list"),
        (b'"just a string"', "not_an_object", "str"),
        (b'{"title": "no id", "text": "body"}', "invalid_article", "id"),
        (b'{"id": 7, "text": "numeric id"}', "invalid_article", "id"),
        (b'{"id": "x", "text": 42}', "invalid_article", "text"),
        (b'{"id": "   ", "text": "blank id"}', "invalid_article", "id"),
        (b'{"id": "x", "text": "   ", "title": ""}', "empty_text", "empty"),
        (b'{"id": "x"}', "empty_text", "empty"),
        (None, "bad_json", "tombstone"),
    ],
)
def test_rejections_are_classified_with_a_reason(value, error, fragment):
    r = rejected(value)
    assert r.error == error
    assert fragment in r.reason


def test_size_limit():
    r = rejected(b'{"id": "x", "text": "' + b"a" * 200 + b'"}', limit=100)
    assert r.error == "too_large" and "limit is 100" in r.reason


def test_dead_letter_keeps_original_bytes_and_location():
    original = b"\xff\x00binary"
    rej = Rejection("bad_utf8", "value is not UTF-8")
    value = json.loads(
        dead_letter_value(
            original=original,
            key=b"k1",
            rejection=rej,
            topic="news.articles",
            partition=2,
            offset=41,
            timestamp_ms=123,
            failed_at="2026-01-01T00:00:00Z",
        )
    )
    assert base64.b64decode(value["value_b64"]) == original
    assert base64.b64decode(value["key_b64"]) == b"k1"
    assert (value["topic"], value["partition"], value["offset"]) == ("news.articles", 2, 41)
    assert value["error"] == "bad_utf8"
    headers = dict(dead_letter_headers(rej, "news.articles", 2, 41))
    assert headers["error"] == b"bad_utf8" and headers["source-offset"] == b"41"


def test_output_is_deterministic_bytes():
    def make():
        return ClassifiedArticle(
            id="a",
            title=None,
            label="sport",
            score=0.9,
            scores={"sport": 0.9, "tech": 0.1},
            model_version="v1",
            model_sha256="ab" * 32,
            source=SourceRef(topic="t", partition=0, offset=5, timestamp_ms=1),
        ).to_bytes()

    assert make() == make()
    assert json.loads(make())["source"]["offset"] == 5


def test_article_model_input_composes_title_and_text():
    assert Article(id="1", title="T", text="body").model_input() == "T body"

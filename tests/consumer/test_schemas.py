import base64
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.limits import MAX_KEY_BYTES, TITLE_ECHO_CHARS, dead_letter_max_bytes
from consumer.schemas import (
    ERRORS,
    REVIEW_REASONS,
    Article,
    ClassifiedArticle,
    Decoded,
    Prediction,
    Rejection,
    ReviewArticle,
    dead_letter_headers,
    dead_letter_key,
    dead_letter_value,
    decode_article,
    output_value,
)

LIMIT = 10_000


def ok(value: bytes) -> Decoded:
    result = decode_article(value, LIMIT)
    assert isinstance(result, Decoded), result
    return result


def rejected(value: bytes | None, limit: int = LIMIT, key: bytes | None = None) -> Rejection:
    result = decode_article(value, limit, key)
    assert isinstance(result, Rejection), result
    assert result.error in ERRORS
    return result


def test_valid_article_and_unknown_fields_tolerated():
    d = ok(
        json.dumps(
            {"id": "a1", "title": " Budget  row ", "text": "MPs\nvote.", "extra": {"x": 1}}
        ).encode()
    )
    assert d.article.id == "a1"
    assert d.text == "Budget row MPs vote."


def test_title_alone_is_enough_and_a_bom_is_tolerated():
    assert ok(b'{"id": "t", "title": "Only a headline"}').text == "Only a headline"
    assert ok(b'\xef\xbb\xbf{"id": "t", "title": "BOM first"}').text == "BOM first"


def test_valid_surrogate_pairs_and_escaped_controls_are_text():
    d = ok(b'{"id": "e", "title": "\\ud83d\\ude00 match", "text": "a\\u0000b"}')
    assert d.text == "\U0001f600 match a b"


@pytest.mark.parametrize(
    ("value", "error", "fragment"),
    [
        (b"\xff\xfe not utf8", "bad_utf8", "not UTF-8"),
        (b"{not json", "bad_json", "not valid JSON"),
        (b'{"id": "x", "text": "\\ud800"}', "bad_json", "surrogate"),
        (b'{"id": "x", "title": "\\udc00 tail first"}', "bad_json", "surrogate"),
        (b"[" * 100_000 + b"]" * 100_000, "bad_json", "recursion"),
        (b'{"id": "x", "n": ' + b"9" * 5000 + b', "text": "t"}', "bad_json", "number"),
        (b"[1, 2]", "not_an_object", "not an object"),
        (b'"just a string"', "not_an_object", "not an object"),
        (b'{"title": "no id", "text": "body"}', "invalid_article", "id"),
        (b'{"id": 7, "text": "numeric id"}', "invalid_article", "id"),
        (b'{"id": "x", "text": 42}', "invalid_article", "text"),
        (b'{"id": "   ", "text": "blank id"}', "invalid_article", "id"),
        (b'{"id": "' + b"i" * 300 + b'", "text": "t"}', "invalid_article", "id"),
        (b'{"id": "x", "text": "   ", "title": ""}', "empty_text", "empty"),
        (b'{"id": "x", "text": "\\u0000\\u0007"}', "empty_text", "empty"),
        (b'{"id": "x"}', "empty_text", "empty"),
        (None, "bad_json", "tombstone"),
    ],
)
def test_rejections_are_classified_with_a_reason(value, error, fragment):
    r = rejected(value, limit=1_000_000)
    assert r.error == error
    assert fragment in r.reason


def test_size_limits_for_value_and_key():
    r = rejected(b'{"id": "x", "text": "' + b"a" * 200 + b'"}', limit=100)
    assert r.error == "too_large" and "limit is 100" in r.reason
    r = rejected(b'{"id": "x", "text": "t"}', key=b"k" * (MAX_KEY_BYTES + 1))
    assert r.error == "too_large" and "key is" in r.reason


def test_reasons_are_bounded():
    assert len(Rejection("bad_json", "x" * 5000).reason) == 1000


@given(st.binary(max_size=2000))
@settings(max_examples=400)
def test_decoding_arbitrary_bytes_never_raises(value):
    result = decode_article(value, 1000, value[:10] or None)
    assert isinstance(result, Decoded | Rejection)
    if isinstance(result, Rejection):
        assert result.error in ERRORS and result.reason


# Text with every code point, lone surrogates included (json.dumps escapes them as \udXXX).
any_text = st.text(st.characters(exclude_categories=()), max_size=50)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
articleish = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(any_text, json_values),
        "title": st.one_of(any_text, json_values),
        "text": st.one_of(any_text, json_values),
        "source": any_text,
        "extra": json_values,
    },
)


@given(st.one_of(json_values, articleish), st.booleans())
@settings(max_examples=500)
def test_decoding_arbitrary_json_never_raises(obj, ascii_only):
    raw = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    result = decode_article(raw, 1_000_000)
    if isinstance(result, Decoded):
        assert result.text and result.article.id.strip()
        result.text.encode("utf-8")  # valid Unicode: the tokenizer and the encoder accept it
    else:
        assert result.error in ERRORS


def _dead_letter(original, key=b"k1", max_value_bytes=1000):
    rej = Rejection("bad_utf8", "value is not UTF-8")
    raw = dead_letter_value(
        original=original,
        key=key,
        rejection=rej,
        topic="news.articles",
        partition=2,
        offset=41,
        timestamp_ms=123,
        failed_at="2026-01-01T00:00:00Z",
        max_value_bytes=max_value_bytes,
    )
    return raw, json.loads(raw)


def test_dead_letter_keeps_original_bytes_and_location():
    original = b"\xff\x00binary"
    _, value = _dead_letter(original)
    assert base64.b64decode(value["value_b64"]) == original
    assert value["value_truncated"] is False and value["value_bytes"] == len(original)
    assert base64.b64decode(value["key_b64"]) == b"k1"
    assert (value["topic"], value["partition"], value["offset"]) == ("news.articles", 2, 41)
    assert value["error"] == "bad_utf8"
    headers = dict(dead_letter_headers(Rejection("bad_utf8", "r"), "news.articles", 2, 41))
    assert headers["error"] == b"bad_utf8" and headers["source-offset"] == b"41"


def test_dead_letter_of_a_huge_original_is_capped_and_identified():
    original = b"x" * 5_000_000
    raw, value = _dead_letter(original, key=b"k" * 10_000, max_value_bytes=1000)
    assert value["value_truncated"] is True
    assert value["value_bytes"] == 5_000_000
    assert value["value_sha256"] == hashlib.sha256(original).hexdigest()
    assert base64.b64decode(value["value_b64"]) == original[:1000]
    assert value["key_b64"] is None and value["key_bytes"] == 10_000
    assert dead_letter_key(b"k" * 10_000) is None
    assert len(raw) <= dead_letter_max_bytes(1000)


@given(st.binary(max_size=5000), st.integers(0, 6000))
def test_dead_letters_never_exceed_their_bound(original, cap):
    raw, _ = _dead_letter(original, key=b"\xff" * MAX_KEY_BYTES, max_value_bytes=cap)
    assert len(raw) + MAX_KEY_BYTES <= dead_letter_max_bytes(cap)


def _output(article: Article, review: tuple[list[str], float | None] | None = None) -> bytes:
    return output_value(
        article,
        Prediction("sport", 1, [0.1, 0.9], "en", True),
        ("business", "sport"),
        "v1",
        "ab" * 32,
        "news.articles",
        0,
        5,
        1,
        review=review,
    )


def test_output_is_deterministic_and_matches_its_schema():
    article = Article(id="a", title="T" * 5000, text="body")
    raw = _output(article)
    assert raw == _output(article)
    parsed = ClassifiedArticle.model_validate_json(raw)
    assert parsed.label == "sport" and parsed.score == 0.9
    assert parsed.scores == {"business": 0.1, "sport": 0.9}
    assert parsed.source.offset == 5
    assert len(parsed.title or "") == TITLE_ECHO_CHARS  # the echo is capped
    assert list(json.loads(raw)) == list(ClassifiedArticle.model_fields)
    assert parsed.language == "en" and parsed.truncated is True


def test_review_record_is_deterministic_and_matches_its_schema():
    article = Article(id="a", title="Titel", text="Ein Artikel")
    review = (["unsupported_language", "low_confidence"], 0.93)
    raw = _output(article, review)
    assert raw == _output(article, review)
    parsed = ReviewArticle.model_validate_json(raw)
    assert parsed.reason == "unsupported_language"
    assert parsed.reasons == ["unsupported_language", "low_confidence"]
    assert parsed.threshold == 0.93
    assert parsed.scores == {"business": 0.1, "sport": 0.9}  # the whole distribution
    assert parsed.label == "sport" and parsed.model_version == "v1"
    assert list(json.loads(raw)) == list(ReviewArticle.model_fields)
    assert set(parsed.reasons) <= set(REVIEW_REASONS)


def test_article_model_input_composes_title_and_text():
    assert Article(id="1", title="T", text="body").model_input() == "T body"

"""A catalogue of hostile and strange input records, each with the outcome the service owes it.

Every kind is one Kafka record (key, value bytes, headers) and an expectation: ``classified``
(an output on the output topic) or a dead-letter ``error`` class (README "Contracts"):

    too_large        value over NEWSCLF_MAX_MESSAGE_BYTES, or a key over 4096 bytes
    bad_utf8         the value is not UTF-8
    bad_json         not JSON: also a tombstone (no value), nesting deeper than 200 levels,
                     numbers out of range, lone surrogate escapes ("\\ud800")
    not_an_object    JSON, but not an object
    invalid_article  missing / blank / too long (> 256 chars) id, wrong types
    empty_text       no title and no text after normalisation
    processing_failed, output_rejected: failures of one record past decoding (the model, the
                     broker refusing its result); no input alone reaches them on a correct
                     service except ``output_rejected`` with a tiny output-topic limit, see
                     :func:`output_rejected_case`.

Kinds whose expectation is a judgment call that the service owner has to confirm are marked
``confirm=True`` with the reason in ``why``; ``from_issue=True`` marks the four inputs of
issue 6. Nothing here needs a broker: :func:`catalogue` builds the records (a few MB in all).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

CLASSIFIED = "classified"
ERRORS = (
    "too_large",
    "bad_utf8",
    "bad_json",
    "not_an_object",
    "invalid_article",
    "empty_text",
    "processing_failed",
    "output_rejected",
)
OUTCOMES = (CLASSIFIED, *ERRORS)
MAX_KEY_BYTES = 4096
MAX_ID_CHARS = 256
MAX_DEPTH = 200

TEXT = "The government announced new measures on the economy and the markets rose on Monday."


@dataclass(frozen=True)
class Hostile:
    name: str
    value: bytes | None
    expect: str
    why: str
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    confirm: bool = False  # the expectation awaits the service owner's confirmation
    from_issue: bool = False  # one of the inputs issue 6 reproduced
    tansu: str | None = None  # the outcome on the embedded Tansu broker, when it differs
    tags: tuple[str, ...] = field(default=())

    def expected(self, broker_kind: str = "kafka") -> str:
        if broker_kind == "tansu" and self.tansu is not None:
            return self.tansu
        return self.expect

    @property
    def size(self) -> int:
        return len(self.value or b"") + len(self.key or b"")


def _j(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _raw(text: str) -> bytes:
    """A JSON document written by hand (escapes exactly as given)."""
    return text.encode("utf-8")


def _padded_article(total: int, article_id: str) -> bytes:
    """A valid article of exactly ``total`` bytes (the body padded with words)."""
    head = _j({"id": article_id, "title": "Padded", "text": ""})
    room = total - len(head)
    words = (TEXT + " ") * (room // (len(TEXT) + 1) + 1)
    body = _j({"id": article_id, "title": "Padded", "text": words[:room]})
    assert len(body) == total, (len(body), total)
    return body


def _nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def catalogue(max_message_bytes: int = 1_000_000) -> list[Hostile]:
    """The hostile kinds for a service running with ``NEWSCLF_MAX_MESSAGE_BYTES``.

    The input topic must accept records of ~6 MB (``max.message.bytes``) and the test producer
    must send them (``max_request_size``): see :data:`INPUT_TOPIC_CONFIGS`.
    """
    m = max_message_bytes
    rnd = os.urandom  # random bytes: never valid UTF-8 in practice, and never JSON
    k: list[Hostile] = []

    def add(name: str, value: bytes | None, expect: str, why: str, **kw: Any) -> None:
        k.append(Hostile(name, value, expect, why, **kw))

    # ---------------------------------------------------------------- too_large
    five_mb = _padded_article(5_000_000, "oversized-5mb")
    add(
        "oversized_5mb_article",
        five_mb,
        "too_large",
        "a valid 5 MB article: over the limit; its dead letter must not embed it whole",
        from_issue=True,
    )
    add(
        "oversized_by_one_byte",
        _padded_article(m + 1, "over-by-one"),
        "too_large",
        "one byte over NEWSCLF_MAX_MESSAGE_BYTES",
    )
    add(
        "oversized_random_binary",
        rnd(2_000_000),
        "too_large",
        "2 MB of random bytes: the size check comes before any decoding",
    )
    add(
        "key_over_4096_bytes",
        _j({"id": "long-key", "text": TEXT}),
        "too_large",
        "a 5,000-byte key: outputs are keyed like inputs, so the key is bounded",
        key=b"k" * 5000,
    )
    # ---------------------------------------------------------------- bad_utf8
    add("invalid_start_bytes", b"\xff\xfe\xfa", "bad_utf8", "not UTF-8 at all")
    add(
        "truncated_multibyte",
        b'{"id": "u1", "text": "caf\xc3"}',
        "bad_utf8",
        "a UTF-8 sequence cut in the middle",
    )
    add(
        "overlong_encoding",
        b'{"id": "u2", "text": "\xc0\xaf etc"}',
        "bad_utf8",
        "an overlong encoding of '/' (forbidden in UTF-8)",
    )
    add(
        "raw_encoded_surrogate",
        b'{"id": "u3", "text": "x \xed\xa0\x80 y"}',
        "bad_utf8",
        "a surrogate encoded directly as bytes (CESU-8 style), invalid in UTF-8",
    )
    add(
        "latin1_article",
        '{"id": "u4", "text": "café crème"}'.encode("latin-1"),
        "bad_utf8",
        "an article in Latin-1 instead of UTF-8",
    )
    add(
        "utf16_article",
        '{"id": "u5", "text": "hello"}'.encode("utf-16"),
        "bad_utf8",
        "an article in UTF-16 with its BOM",
    )
    add(
        "random_binary_small",
        b"\x00\x9f\x92\x96" + rnd(60),
        "bad_utf8",
        "64 bytes of binary noise (starts with an invalid sequence)",
    )
    # ---------------------------------------------------------------- bad_json
    add(
        "deep_nesting_100000",
        _raw('{"id": "deep", "text": "t", "x": ' + _nested(100_000) + "}"),
        "bad_json",
        "100,000-deep nesting: RecursionError in json.loads",
        from_issue=True,
    )
    add(
        "deep_nesting_top_level_array",
        _raw(_nested(100_000)),
        "bad_json",
        "a bare 100,000-deep array: over the depth limit before it is 'not an object'",
        confirm=True,
    )
    add(
        "nesting_250_in_unknown_field",
        _raw('{"id": "deep250", "text": "t", "x": ' + _nested(250) + "}"),
        "bad_json",
        "nesting deeper than 200 even where the field is ignored",
    )
    add(
        "integer_5000_digits",
        _raw('{"id": "bigint", "text": "t", "n": ' + "7" * 5000 + "}"),
        "bad_json",
        "a 5,000-digit integer: ValueError in json.loads (4,300-digit limit)",
        from_issue=True,
    )
    add(
        "float_overflow_1e999",
        _raw('{"id": "inf", "text": "t", "n": 1e999}'),
        CLASSIFIED,
        "a float out of double range in an ignored field: parsed as inf, never read (the "
        "service does not police fields it ignores)",
    )
    add(
        "nan_literal",
        _raw('{"id": "nan", "text": "t", "n": NaN}'),
        CLASSIFIED,
        "NaN in an ignored field: not RFC 8259 JSON, but accepted by json.loads and "
        "pydantic's parser alike, and never read",
    )
    add(
        "infinity_literal",
        _raw('{"id": "infl", "text": "t", "n": -Infinity}'),
        CLASSIFIED,
        "-Infinity in an ignored field: as NaN",
    )
    add(
        "lone_surrogate_in_text",
        _raw('{"id": "sur1", "text": "abc \\ud800 def"}'),
        "bad_json",
        "a lone high surrogate escape: breaks the tokenizer and the output encoder",
        from_issue=True,
    )
    add(
        "lone_surrogate_in_title",
        _raw('{"id": "sur2", "title": "\\ud800", "text": "ok"}'),
        "bad_json",
        "a lone surrogate in the title (echoed in the output)",
        from_issue=True,
    )
    add(
        "lone_low_surrogate",
        _raw('{"id": "sur3", "text": "x \\udfff y"}'),
        "bad_json",
        "a lone low surrogate escape",
    )
    add(
        "reversed_surrogate_pair",
        _raw('{"id": "sur4", "text": "\\ude00\\ud83d"}'),
        "bad_json",
        "a low surrogate before a high one: two lone surrogates",
    )
    add(
        "lone_surrogate_in_id",
        _raw('{"id": "\\ud800", "text": "ok"}'),
        "bad_json",
        "a lone surrogate in the id",
        confirm=True,
    )
    add(
        "lone_surrogate_in_unknown_field",
        _raw('{"id": "sur5", "text": "ok", "extra": "\\udc80"}'),
        "bad_json",
        "a lone surrogate in a field the service ignores: the document is still not Unicode text",
        confirm=True,
    )
    add("tombstone", None, "bad_json", "a record with no value (a tombstone)", key=b"tombstone-key")
    add(
        "tombstone_empty_key",
        None,
        "bad_json",
        "a zero-byte key and no value (kafka-python refuses to send a record with neither)",
        key=b"",
    )
    add("empty_value", b"", "bad_json", "zero bytes")
    add("whitespace_only", b" \n\t \r\n", "bad_json", "only whitespace")
    add("truncated_json", b'{"id": "x", "text": ', "bad_json", "cut in the middle")
    add(
        "trailing_garbage",
        b'{"id": "tg", "text": "t"} trailing',
        "bad_json",
        "one object followed by garbage",
    )
    add(
        "two_objects",
        b'{"id": "a", "text": "t"}{"id": "b", "text": "t"}',
        "bad_json",
        "two JSON documents in one value",
    )
    add(
        "python_repr",
        b"{'id': 'py', 'text': 'single quotes'}",
        "bad_json",
        "a Python dict repr, not JSON",
    )
    add(
        "json_with_comment",
        b'{"id": "c", /* note */ "text": "t"}',
        "bad_json",
        "comments are not JSON",
    )
    add("trailing_comma", b'{"id": "tc", "text": "t",}', "bad_json", "a trailing comma")
    add(
        "raw_newline_in_string",
        b'{"id": "nl", "text": "line one\nline two"}',
        "bad_json",
        "an unescaped control character inside a string",
    )
    add(
        "invalid_escape",
        b'{"id": "esc", "text": "bad \\x41 escape"}',
        "bad_json",
        "\\x is not a JSON escape",
    )
    add(
        "non_json_900kb",
        b"not json at all; " * (900_000 // 17),
        "bad_json",
        "900 KB of text that is not JSON: the dead letter must still fit",
        from_issue=True,
    )
    add(
        "xml_document",
        b"<?xml version='1.0'?><article id='x'>text</article>",
        "bad_json",
        "XML instead of JSON",
    )
    # ---------------------------------------------------------------- not_an_object
    add("json_array", b'["a", "list"]', "not_an_object", "a JSON array")
    add("json_string", b'"just a string"', "not_an_object", "a JSON string")
    add("json_number", b"42", "not_an_object", "a JSON number")
    add("json_null", b"null", "not_an_object", "JSON null (a value, not a tombstone)", confirm=True)
    add("json_true", b"true", "not_an_object", "a JSON boolean")
    add(
        "array_of_articles",
        _j([{"id": "a1", "text": TEXT}]),
        "not_an_object",
        "an array holding an article: the service takes one article per record",
    )
    # ---------------------------------------------------------------- invalid_article
    add("missing_id", _j({"text": TEXT}), "invalid_article", "no id")
    add("empty_id", _j({"id": "", "text": TEXT}), "invalid_article", "an empty id")
    add("blank_id", _j({"id": " \t ", "text": TEXT}), "invalid_article", "a blank id")
    add(
        "id_257_chars",
        _j({"id": "i" * 257, "text": TEXT}),
        "invalid_article",
        "an id one character over 256",
    )
    add(
        "id_257_emoji",
        _j({"id": "\U0001f600" * 257, "text": TEXT}),
        "invalid_article",
        "257 characters (1,028 bytes): the limit counts characters",
    )
    add(
        "id_integer",
        _j({"id": 123, "text": TEXT}),
        "invalid_article",
        "an integer id (strict types: no coercion)",
    )
    add("id_null", _j({"id": None, "text": TEXT}), "invalid_article", "a null id")
    add(
        "id_object", _j({"id": {"nested": "x"}, "text": TEXT}), "invalid_article", "an object as id"
    )
    add("id_boolean", _j({"id": True, "text": TEXT}), "invalid_article", "a boolean id")
    add(
        "title_number",
        _j({"id": "tn", "title": 42, "text": TEXT}),
        "invalid_article",
        "a number as title",
    )
    add("text_list", _j({"id": "tl", "text": ["a", "list"]}), "invalid_article", "a list as text")
    add(
        "text_object",
        _j({"id": "to", "text": {"body": TEXT}}),
        "invalid_article",
        "an object as text",
    )
    add(
        "source_number",
        _j({"id": "sn", "text": TEXT, "source": 7}),
        "invalid_article",
        "a known optional field of the wrong type",
        confirm=True,
    )
    # ---------------------------------------------------------------- empty_text
    add(
        "blank_title_empty_text",
        _j({"id": "e1", "title": " ", "text": ""}),
        "empty_text",
        "a blank title and an empty text",
    )
    add("no_title_no_text", _j({"id": "e2"}), "empty_text", "neither field")
    add(
        "null_title_null_text",
        _j({"id": "e3", "title": None, "text": None}),
        "empty_text",
        "both null",
    )
    add(
        "only_control_chars",
        _raw('{"id": "e4", "text": "\\u0000\\u0001\\u007f\\u009f"}'),
        "empty_text",
        "control characters only: nothing left after normalisation",
    )
    add(
        "only_unicode_whitespace",
        _j({"id": "e5", "title": "\u00a0\u2003", "text": "\t\n\u3000"}),
        "empty_text",
        "Unicode whitespace only (NBSP, em space, ideographic space)",
    )
    # ---------------------------------------------------------------- valid but strange
    add(
        "exactly_max_bytes",
        _padded_article(m, "exactly-max"),
        CLASSIFIED,
        "exactly NEWSCLF_MAX_MESSAGE_BYTES: at the limit is allowed",
    )
    add(
        "key_exactly_4096_bytes",
        _j({"id": "key4096", "text": TEXT}),
        CLASSIFIED,
        "a 4,096-byte key: at the limit is allowed",
        key=b"k" * 4096,
    )
    add(
        "emoji_text",
        _j(
            {
                "id": "emoji",
                "title": "\U0001f600\U0001f525\U0001f3c6",
                "text": "Goal! \U0001f3c6\u26bd " * 20,
            }
        ),
        CLASSIFIED,
        "emoji",
    )
    add(
        "surrogate_pair_escape",
        _raw('{"id": "pair", "text": "smile \\ud83d\\ude00 ok"}'),
        CLASSIFIED,
        "an escaped surrogate *pair* is a valid character",
    )
    add(
        "rtl_text",
        _j(
            {
                "id": "rtl",
                "title": "\u0627\u0644\u0627\u0642\u062a\u0635\u0627\u062f",
                "text": "\u05e9\u05dc\u05d5\u05dd \u202e reversed \u202c "
                "\u0645\u0631\u062d\u0628\u0627",
            }
        ),
        CLASSIFIED,
        "Arabic and Hebrew with bidi override characters",
    )
    add(
        "zero_width_inside_words",
        _j({"id": "zw", "text": "Mar\u200bket\u200c rally\u200d on Mon\ufeffday " + TEXT}),
        CLASSIFIED,
        "zero-width space/joiners and a BOM character inside the text",
    )
    add(
        "only_zero_width_chars",
        _j({"id": "zw-only", "text": "\u200b\u200c\u200d"}),
        CLASSIFIED,
        "zero-width characters only: not control characters nor whitespace, so "
        "not empty after today's normalisation",
        confirm=True,
    )
    add("one_char_text", _j({"id": "one", "text": "a"}), CLASSIFIED, "a one-character text")
    add(
        "nul_escape_in_text",
        _raw('{"id": "nul", "text": "before\\u0000after ' + TEXT + '"}'),
        CLASSIFIED,
        "a NUL escape inside the text",
    )
    add(
        "huge_title",
        _j({"id": "bigtitle", "title": "Headline " * 25_000, "text": "x"}),
        CLASSIFIED,
        "a 225 KB title (the output echoes at most part of it)",
    )
    add(
        "text_900kb",
        _j({"id": "longtext", "text": (TEXT + " ") * 10_500}),
        CLASSIFIED,
        "a 900 KB article under the limit: cut head + tail, memory bounded",
    )
    add(
        "unknown_fields",
        _j(
            {
                "id": "unk",
                "text": TEXT,
                "extra": {"a": [1, 2, {"b": None}]},
                "score": 1.5,
                "tags": ["x"] * 50,
                "lang": None,
            }
            | {f"f{i}": i for i in range(200)}
        ),
        CLASSIFIED,
        "200 unknown fields of every type are ignored",
    )
    add(
        "duplicate_keys",
        _raw('{"id": "dup-a", "text": "first", "id": "dup-b", "text": "' + TEXT + '"}'),
        CLASSIFIED,
        "duplicate keys: JSON parsers keep the last",
        confirm=True,
    )
    add(
        "utf8_bom_prefix",
        b"\xef\xbb\xbf" + _j({"id": "bom", "text": TEXT}),
        CLASSIFIED,
        "a UTF-8 byte order mark before the JSON (RFC 8259 lets a parser ignore it)",
        confirm=True,
    )
    add(
        "nesting_20_in_unknown_field",
        _raw('{"id": "deep20", "text": "t", "x": ' + _nested(20) + "}"),
        CLASSIFIED,
        "moderate nesting in an ignored field",
    )
    add(
        "integer_300_digits",
        _raw('{"id": "int300", "text": "t", "n": ' + "9" * 300 + "}"),
        CLASSIFIED,
        "a 300-digit integer in an ignored field: parsable; only the 5,000-digit "
        "one is out of range",
        confirm=True,
    )
    add("id_256_chars", _j({"id": "i" * 256, "text": TEXT}), CLASSIFIED, "an id of exactly 256")
    add(
        "id_256_emoji",
        _j({"id": "\U0001f4f0" * 256, "text": TEXT}),
        CLASSIFIED,
        "256 emoji (1,024 bytes): the limit counts characters",
    )
    add(
        "id_with_controls",
        _raw('{"id": "ctl\\u0001\\u0000id", "text": "' + TEXT + '"}'),
        CLASSIFIED,
        "an id with control characters is still a non-blank string",
        confirm=True,
    )
    add(
        "title_only",
        _j({"id": "title-only", "title": "Shares rise as markets rally"}),
        CLASSIFIED,
        "a title and no text",
    )
    add(
        "text_null_title_set",
        _j({"id": "tnull", "title": "Election results", "text": None}),
        CLASSIFIED,
        "text null, title set",
    )
    add(
        "html_and_script",
        _j(
            {
                "id": "html",
                "title": "<b>Bold</b>",
                "text": "<script>alert(1)</script><p>" + TEXT + "</p>",
            }
        ),
        CLASSIFIED,
        "markup is just text",
    )
    add(
        "combining_marks",
        _j({"id": "zalgo", "text": "Z\u0351\u036b\u0343\u036a\u0302a\u0352\u0309l\u0350go " * 50}),
        CLASSIFIED,
        "stacked combining marks ('Zalgo')",
    )
    add(
        "cjk_text",
        _j(
            {
                "id": "cjk",
                "title": "\u65b0\u805e",
                "text": "\u7d4c\u6e08\u306f\u56de\u5fa9\u3057\u305f" * 40,
            }
        ),
        CLASSIFIED,
        "CJK text, no spaces",
    )
    add("no_key", _j({"id": "nokey", "text": TEXT}), CLASSIFIED, "no key at all")
    add(
        "binary_key",
        _j({"id": "binkey", "text": TEXT}),
        CLASSIFIED,
        "a key that is not UTF-8: keys pass through untouched",
        key=b"\xff\x00\xfe\x01",
    )
    add("empty_key", _j({"id": "emptykey", "text": TEXT}), CLASSIFIED, "a zero-byte key", key=b"")
    add(
        "odd_headers",
        _j({"id": "hdrs", "text": TEXT}),
        CLASSIFIED,
        "binary, empty, repeated and non-ASCII-named headers are ignored",
        headers=(
            ("error", b"spoofed"),
            ("x", b"\xff\xfe"),
            ("x", b""),
            ("h\u00e9ader", b"v"),
            ("big", b"b" * 20_000),
        ),
    )
    add(
        "whitespace_around_json",
        b"\n\t  " + _j({"id": "ws", "text": TEXT}) + b"  \r\n",
        CLASSIFIED,
        "whitespace around the document is allowed by JSON",
    )
    add(
        "escaped_everything",
        _raw('{"\\u0069d": "esc", "\\u0074ext": "\\u0048\\u0069 ' + TEXT + '"}'),
        CLASSIFIED,
        "keys and text written entirely with \\u escapes",
    )
    add(
        "published_at_garbage",
        _j({"id": "when", "text": TEXT, "published_at": "not a date", "source": ""}),
        CLASSIFIED,
        "published_at and source are free strings",
    )
    names = [h.name for h in k]
    assert len(names) == len(set(names)), "kind names must be unique"
    return k


# Topic settings the hostile-input test needs on Apache Kafka (Tansu ignores them): records up to
# 6 MB on the input topic, so the 5 MB article reaches the service at all.
INPUT_TOPIC_CONFIGS = {"max.message.bytes": "6291456"}
PRODUCER_MAX_REQUEST_SIZE = 8 * 1024 * 1024


def follower(i: int, name: str) -> dict[str, str]:
    """The valid article sent right after hostile kind ``i``."""
    return {
        "id": f"follower-{i:03d}-{name}",
        "title": "Markets rally after the central bank decision",
        "text": TEXT,
    }


# --------------------------------------------------------------------- output_rejected

# An output topic that refuses any record batch over this many bytes (Apache Kafka only).
OUTPUT_REJECTED_TOPIC_LIMIT = 3000


def output_rejected_case() -> tuple[Hostile, Hostile]:
    """A valid article whose *result* is larger than the output topic accepts, then a small one.

    Run alone (one record per batch) against an output topic created with
    ``max.message.bytes=OUTPUT_REJECTED_TOPIC_LIMIT``: the result echoes up to 1,000 characters of
    the title, and 1,000 four-byte emoji make it ~4 KB. Apache Kafka refuses it
    (MESSAGE_TOO_LARGE): the service owes a dead letter ``output_rejected``; Tansu does not
    enforce the limit, so there the article is classified.
    """
    big = Hostile(
        "result_over_output_topic_limit",
        _j({"id": "big-result", "title": "\U0001f4f0" * 1000, "text": TEXT}),
        "output_rejected",
        "the broker refuses the result (topic max.message.bytes); the record is dead-lettered "
        "and the next one goes on",
        confirm=True,
        tansu=CLASSIFIED,
    )
    small = Hostile(
        "small_after_rejected_result",
        _j({"id": "small-result", "text": TEXT}),
        CLASSIFIED,
        "an ordinary article after it",
    )
    return big, small

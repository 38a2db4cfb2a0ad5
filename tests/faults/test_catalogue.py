"""The hostile-input catalogue itself (no broker): big enough, well formed, the issue's four in."""

from __future__ import annotations

from collections import Counter

from tests.faults.hostile import (
    CLASSIFIED,
    ERRORS,
    MAX_ID_CHARS,
    MAX_KEY_BYTES,
    OUTCOMES,
    catalogue,
    output_rejected_case,
)


def test_at_least_forty_kinds_with_known_outcomes():
    kinds = catalogue()
    assert len(kinds) >= 40
    assert all(k.expect in OUTCOMES for k in kinds)
    assert len({k.name for k in kinds}) == len(kinds)
    by_outcome = Counter(k.expect for k in kinds)
    for outcome in (
        CLASSIFIED,
        "too_large",
        "bad_utf8",
        "bad_json",
        "not_an_object",
        "invalid_article",
        "empty_text",
    ):
        assert by_outcome[outcome] >= 3, (outcome, by_outcome)
    big, small = output_rejected_case()
    assert big.expect == "output_rejected" and small.expect == CLASSIFIED


def test_the_four_inputs_of_issue_6_are_in():
    kinds = {k.name: k for k in catalogue()}
    issue = {k.name for k in kinds.values() if k.from_issue}
    assert {
        "deep_nesting_100000",
        "integer_5000_digits",
        "lone_surrogate_in_text",
        "lone_surrogate_in_title",
        "oversized_5mb_article",
        "non_json_900kb",
    } <= issue
    assert len(kinds["oversized_5mb_article"].value or b"") == 5_000_000
    assert 850_000 < len(kinds["non_json_900kb"].value or b"") <= 900_000
    assert "[" * 100_000 in (kinds["deep_nesting_100000"].value or b"").decode()


def test_boundaries_sit_on_both_sides_of_each_limit():
    limit = 50_000
    kinds = {k.name: k for k in catalogue(limit)}
    assert len(kinds["exactly_max_bytes"].value or b"") == limit
    assert len(kinds["oversized_by_one_byte"].value or b"") == limit + 1
    assert len(kinds["key_exactly_4096_bytes"].key or b"") == MAX_KEY_BYTES
    assert len(kinds["key_over_4096_bytes"].key or b"") > MAX_KEY_BYTES
    assert kinds["id_256_chars"].expect == CLASSIFIED
    assert kinds["id_257_chars"].expect == "invalid_article"


def test_the_catalogue_states_the_services_limits_and_error_classes():
    # The catalogue restates them on purpose (its expectations are not derived from the code
    # under test); this catches the day the two part.
    from consumer import limits, schemas

    assert (MAX_ID_CHARS, MAX_KEY_BYTES) == (limits.MAX_ID_CHARS, limits.MAX_KEY_BYTES)
    assert set(ERRORS) == set(schemas.ERRORS)


# What decoding alone decides (the other two need the model or the broker).
DECODE_LEVEL = set(ERRORS) - {"processing_failed", "output_rejected"}


def test_each_kind_decodes_as_the_catalogue_expects():
    """Without a broker: the decoding stage alone reaches each decode-level expectation (the
    broker tests check the same kinds end to end)."""
    from consumer.schemas import Decoded, Rejection, decode_article

    limit = 1_000_000  # what the broker tests run the catalogue with
    checked = 0
    for k in catalogue(limit):
        if k.expect not in DECODE_LEVEL | {CLASSIFIED} or k.tansu is not None:
            continue
        got = decode_article(k.value, limit, k.key)
        outcome = got.error if isinstance(got, Rejection) else CLASSIFIED
        assert isinstance(got, Decoded | Rejection)
        assert outcome == k.expect, (k.name, got)
        checked += 1
    assert checked >= 40

"""Dead-letter redrive, the pure half: what becomes of each dead letter the service writes.
The dead letters are made by the service's own functions; the broker tests are in
test_redrive_kafka.py."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pytest

from consumer.redrive import RedriveReport, Selection, apply, plan
from consumer.redrive.cli import main, parse_time
from consumer.redrive.run import default_group
from consumer.schemas import (
    REDRIVE_COUNT,
    Rejection,
    dead_letter_headers,
    dead_letter_value,
    redrive_count,
)

ORIGINAL = json.dumps({"id": "a1", "text": "word " * 400}).encode()


@dataclass
class DeadLetter:
    value: bytes | None
    topic: str = "news.dlq"
    partition: int = 0
    offset: int = 7
    timestamp: int = 1_700_000_000_000
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def letter(
    error: str = "too_large",
    original: bytes | None = ORIGINAL,
    key: bytes | None = b"a1",
    input_headers: list[tuple[str, bytes]] | None = None,
    embed: int = 1 << 20,
    **where,
) -> DeadLetter:
    """A dead letter exactly as the service writes it for the input at news.articles/3/41."""
    rejection = Rejection(error, "value is 2009 bytes, over NEWSCLF_MAX_MESSAGE_BYTES=1000")
    value = dead_letter_value(
        original=original,
        key=key,
        rejection=rejection,
        topic="news.articles",
        partition=3,
        offset=41,
        timestamp_ms=1_700_000_000_000,
        failed_at="2026-12-06T10:00:00+00:00",
        max_value_bytes=embed,
    )
    headers = dead_letter_headers(rejection, "news.articles", 3, 41, input_headers)
    return DeadLetter(value, headers=headers, **where)


def no_fetch(topic, partition, offset):
    raise AssertionError("nothing should be fetched")


def test_a_dead_letter_goes_back_to_its_source_with_provenance():
    p = plan(letter(), Selection())
    assert p.skip is None
    assert (p.topic, p.key, p.value) == ("news.articles", b"a1", ORIGINAL)
    headers = dict(p.headers)
    assert headers[REDRIVE_COUNT] == b"1"
    assert headers["redrive-dlq-topic"] == b"news.dlq"
    assert (headers["redrive-dlq-partition"], headers["redrive-dlq-offset"]) == (b"0", b"7")
    assert headers["redrive-error"] == b"too_large"
    assert plan(letter(), Selection(), to_topic="news.retry").topic == "news.retry"


def test_an_input_without_a_key_is_redriven_without_one():
    p = plan(letter(key=None), Selection())
    assert p.skip is None and p.key is None


def test_the_selection_picks_by_error_time_partition_and_offset():
    dl = letter(error="too_large", partition=1, offset=10, timestamp=5_000)
    assert plan(dl, Selection(errors=frozenset({"too_large"}))).skip is None
    assert plan(dl, Selection(errors=frozenset({"bad_json"}))).skip == "not_selected"
    assert plan(dl, Selection(since_ms=5_000, until_ms=5_001)).skip is None
    assert plan(dl, Selection(since_ms=5_001)).skip == "not_selected"
    assert plan(dl, Selection(until_ms=5_000)).skip == "not_selected"
    assert plan(dl, Selection(partition=0)).skip == "not_selected"
    assert plan(dl, Selection(from_offset=10, to_offset=10)).skip is None
    assert plan(dl, Selection(from_offset=11)).skip == "not_selected"
    assert plan(dl, Selection(to_offset=9)).skip == "not_selected"


def test_the_service_keeps_a_redriven_articles_provenance_on_its_next_dead_letter():
    first = plan(letter(), Selection())
    again = letter(input_headers=[*first.headers, ("traceparent", b"00-abc")])
    assert redrive_count(again.headers) == 1
    assert "traceparent" not in dict(again.headers)  # only the redrive's own headers travel
    assert plan(again, Selection()).skip == "max_redrives"
    second = plan(again, Selection(), max_redrives=2)
    assert second.skip is None and dict(second.headers)[REDRIVE_COUNT] == b"2"


def test_an_unreadable_redrive_count_counts_as_none():
    assert redrive_count([(REDRIVE_COUNT, b"many")]) == 0
    assert redrive_count(None) == 0


def test_an_original_too_large_to_embed_is_read_back_from_its_source_and_checked():
    dl = letter(embed=100)
    assert json.loads(dl.value)["value_truncated"] is True
    p = plan(dl, Selection())
    assert p.value is None and p.fetch == (
        "news.articles",
        3,
        41,
        hashlib.sha256(ORIGINAL).hexdigest(),
    )
    asked = []

    def fetch(topic, partition, offset):
        asked.append((topic, partition, offset))
        return ORIGINAL

    report = RedriveReport("g")
    (done,) = apply([p], report, None, fetch)
    assert asked == [("news.articles", 3, 41)]
    assert done.value == ORIGINAL and report.sent == 1
    for gone in (None, ORIGINAL + b" "):  # retention removed it, or the offset holds another
        report = RedriveReport("g")
        (done,) = apply([p], report, None, lambda *_, v=gone: v)
        assert done.skip == "original_gone" and report.skipped == {"original_gone": 1}


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[1, 2]", b'{"error": "too_large"}', None, b'{"error": 1, "topic": "t"}'],
)
def test_something_that_is_not_a_dead_letter_is_skipped_as_unreadable(value):
    assert plan(DeadLetter(value), Selection()).skip == "unreadable"


def test_a_dead_letter_with_no_original_value_is_skipped():
    assert plan(letter(error="bad_json", original=None), Selection()).skip == "no_value"


def test_apply_sends_what_is_selected_and_counts_the_rest():
    plans = [
        plan(letter(offset=0), Selection(errors=frozenset({"too_large"}))),
        plan(letter(error="bad_json", offset=1), Selection(errors=frozenset({"too_large"}))),
        plan(DeadLetter(b"junk", offset=2), Selection()),
    ]
    sent = []
    report = RedriveReport("g")
    apply(plans, report, sent.append, no_fetch)
    assert [p.dlq_offset for p in sent] == [0]
    assert (report.read, report.sent) == (3, 1)
    assert report.skipped == {"not_selected": 1, "unreadable": 1}
    assert report.by_error == {"too_large": 1}
    assert "sent 1 (too_large 1), skipped 2 (not_selected 1, unreadable 1)" in report.summary()
    dry = RedriveReport("g")
    apply(plans, dry, None, no_fetch)
    assert dry.sent == 1 and len(sent) == 1  # a dry run counts but sends nothing


def test_the_group_is_named_after_the_selection():
    base = default_group("clf", Selection(errors=frozenset({"too_large"})), 1, None)
    assert base == "clf-redrive-too_large"
    assert default_group("clf", Selection(), 1, None) == "clf-redrive-all"
    assert default_group("clf", Selection(errors=frozenset({"too_large"})), 2, "t") == (
        "clf-redrive-too_large-max2-to-t"
    )
    ranged = default_group("clf", Selection(since_ms=1), 1, None)
    assert ranged.startswith("clf-redrive-all-") and ranged != default_group(
        "clf", Selection(since_ms=2), 1, None
    )


def test_an_empty_or_unknown_selection_is_refused():
    with pytest.raises(ValueError, match="unknown error class"):
        Selection(errors=frozenset({"too_big"}))
    with pytest.raises(ValueError, match="time range is empty"):
        Selection(since_ms=2, until_ms=1)
    with pytest.raises(ValueError, match="offset range is empty"):
        Selection(from_offset=2, to_offset=1)


def test_times_are_iso_8601_in_utc_unless_zoned_or_epoch_ms():
    assert parse_time("2026-12-06T10:00:00Z") == 1_796_551_200_000
    assert parse_time("2026-12-06T10:00:00") == 1_796_551_200_000
    assert parse_time("2026-12-06T11:00:00+01:00") == 1_796_551_200_000
    assert parse_time("1796551200000") == 1_796_551_200_000


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--error", "too_big"], "invalid choice: 'too_big'"),
        (["--since", "yesterday"], "is not a time"),
        (["--max-redrives", "0"], "must be at least 1"),
        (["--from-offset", "-3"], "is negative"),
        (["--from-offset", "5", "--to-offset", "2"], "offset range is empty"),
    ],
)
def test_bad_arguments_get_one_readable_line(argv, says, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert says in err and "Traceback" not in err

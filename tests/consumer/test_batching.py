from hypothesis import given
from hypothesis import strategies as st

from consumer.batching import BatchWindow, padded_tokens, plan_batches


@given(
    lengths=st.lists(st.integers(1, 600), max_size=200),
    max_rows=st.integers(1, 64),
    max_tokens=st.integers(1, 20_000),
)
def test_plan_covers_every_row_once_within_limits(lengths, max_rows, max_tokens):
    calls = plan_batches(lengths, max_rows, max_tokens)
    flat = sorted(i for c in calls for i in c)
    assert flat == list(range(len(lengths)))
    for call in calls:
        assert 1 <= len(call) <= max_rows
        if len(call) > 1:
            assert len(call) * max(lengths[i] for i in call) <= max_tokens


def test_plan_sorts_by_length_to_cut_padding():
    lengths = [500, 10, 480, 12, 11, 490]
    calls = plan_batches(lengths, max_rows=3, max_tokens=10_000)
    assert [sorted(lengths[i] for i in c) for c in calls] == [[10, 11, 12], [480, 490, 500]]
    arrival_order = [[0, 1, 2], [3, 4, 5]]
    assert padded_tokens(lengths, calls) < padded_tokens(lengths, arrival_order)


def test_token_budget_splits_long_rows_and_isolates_an_oversized_one():
    lengths = [100, 100, 100, 100, 5000]
    calls = plan_batches(lengths, max_rows=32, max_tokens=256)
    assert calls == [[0, 1], [2, 3], [4]]


def test_window_closes_on_size():
    w = BatchWindow(max_size=3, max_wait_s=10)
    w.add(2, now=0.0)
    assert not w.is_full(0.1)
    assert w.room() == 1
    w.add(1, now=0.2)
    assert w.is_full(0.2)


def test_window_closes_on_wait_counted_from_first_record():
    w = BatchWindow(max_size=100, max_wait_s=0.05)
    assert not w.is_full(5.0)  # empty never closes
    assert w.time_left(5.0) == 0.05
    w.add(1, now=1.0)
    w.add(1, now=1.04)
    assert w.time_left(1.04) == 0.05 - 0.04 or abs(w.time_left(1.04) - 0.01) < 1e-9
    assert not w.is_full(1.049)
    assert w.is_full(1.05)
    w.reset()
    assert w.count == 0 and not w.is_full(2.0)


def test_zero_wait_closes_immediately():
    w = BatchWindow(max_size=100, max_wait_s=0)
    w.add(1, now=3.0)
    assert w.is_full(3.0)

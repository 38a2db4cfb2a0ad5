from hypothesis import given
from hypothesis import strategies as st

from consumer.batching import padded_tokens, plan_batches


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

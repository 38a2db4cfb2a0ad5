import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsclf.feeds import KNOWN_INPUTS, build_feeds


@given(
    st.lists(st.lists(st.integers(0, 30_000), min_size=1, max_size=40), min_size=1, max_size=12),
    st.integers(0, 5),
)
def test_feeds_are_the_rows_right_padded_with_a_mask(rows, pad):
    feeds = build_feeds(rows, pad, KNOWN_INPUTS)
    longest = max(map(len, rows))
    assert feeds["input_ids"].shape == feeds["attention_mask"].shape == (len(rows), longest)
    for i, row in enumerate(rows):
        assert feeds["input_ids"][i].tolist() == row + [pad] * (longest - len(row))
        assert feeds["attention_mask"][i].tolist() == [1] * len(row) + [0] * (longest - len(row))
    assert not feeds["token_type_ids"].any()
    assert all(a.dtype == np.int64 for a in feeds.values())


def test_only_the_graphs_inputs_are_fed_and_empty_is_refused():
    assert set(build_feeds([[1, 2]], 0, ["input_ids", "attention_mask"])) == {
        "input_ids",
        "attention_mask",
    }
    with pytest.raises(ValueError):
        build_feeds([], 0, KNOWN_INPUTS)

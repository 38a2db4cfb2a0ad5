import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsclf.textprep import Preprocessing, compose, head_tail, normalize_text


def test_normalize_collapses_whitespace_and_controls():
    assert normalize_text("  a\r\n\tb\x00c  ") == "a b c"
    assert normalize_text("cafe\u0301") == "caf\u00e9"  # NFC


def test_compose():
    assert compose("Title", "Body  text") == "Title Body text"
    assert compose(None, "Body") == "Body"
    assert compose("", None) == ""


@given(st.lists(st.integers(0, 1000), max_size=300), st.integers(2, 128), st.data())
def test_head_tail(ids, max_length, data):
    head = data.draw(st.integers(1, max_length))
    out = head_tail(ids, max_length, head)
    if len(ids) <= max_length:
        assert out == ids
    else:
        assert len(out) == max_length
        assert out[:head] == ids[:head]
        tail = max_length - head
        assert out[head:] == (ids[-tail:] if tail else [])


def test_preprocessing_roundtrip_and_validation(tmp_path):
    prep = Preprocessing(max_length=64, head_tokens=48, pad_token_id=0)
    prep.save(tmp_path)
    assert Preprocessing.load(tmp_path) == prep
    with pytest.raises(ValueError):
        Preprocessing(max_length=64, head_tokens=65)
    (tmp_path / "preprocessing.json").write_text("{broken")
    with pytest.raises(ValueError, match="not a valid"):
        Preprocessing.load(tmp_path)

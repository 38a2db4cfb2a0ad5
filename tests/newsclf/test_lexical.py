"""The served TF-IDF branch (newsclf.lexical) against scikit-learn, its files, and the fusion."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from newsclf.calibration import log_softmax
from newsclf.lexical import (
    LEXICAL_JSON,
    LEXICAL_NPZ,
    TOKEN_PATTERN,
    Lexical,
    LexicalError,
)
from training.baseline import build_baseline
from training.hybrid import fit_branch

TEXTS = [
    "Shares in the bank rose sharply as profits beat forecasts",
    "The striker scored twice in the cup final at Wembley",
    "MPs voted on the new bill after the election campaign",
    "The film won three awards at the festival in Cannes",
    "A new mobile phone chip doubles broadband speed",
] * 6
LABELS = [0, 1, 2, 3, 4] * 6
NAMES = ["business", "sport", "politics", "entertainment", "tech"]
ODD = [
    "",  # nothing at all
    "the of and",  # stop words only
    "zzqx qqqv",  # no known term
    "Ünïcödé Café café ÉLECTION élection naïve_words a_b x9 9x",
    "profits PROFITS profits, profits! forecasts-beat",
    "İstanbul ǅemal straße ΣΊΣΥΦΟΣ",  # lower() that changes lengths
    "tabs\tand\nnewlines\u00a0and\u2003spaces  bank",
]


@pytest.fixture(scope="module")
def branch() -> Lexical:
    return fit_branch(TEXTS, LABELS, NAMES, seed=0)


def test_the_branch_gives_scikit_learns_probabilities(branch):
    pipeline = build_baseline(0).fit(TEXTS, LABELS)
    texts = TEXTS[:5] + ODD
    np.testing.assert_allclose(
        branch.log_proba(texts), np.log(pipeline.predict_proba(texts)), atol=1e-9
    )


def test_the_faster_word_pattern_finds_scikit_learns_words():
    slow = re.compile(TOKEN_PATTERN)
    for text in ODD + TEXTS[:5] + ["a-b-c", "__init__", "x", "ab", "a1b2 ‐dash‐ 1,000,000"]:
        assert re.findall(r"\w\w+", text.lower()) == slow.findall(text.lower())


def test_saved_and_loaded_without_pickle_it_is_the_same_branch(branch, tmp_path):
    branch.save(tmp_path)
    again = Lexical.load(tmp_path)
    np.testing.assert_array_equal(again.log_proba(ODD + TEXTS), branch.log_proba(ODD + TEXTS))
    assert again.weights == branch.weights and again.labels == tuple(NAMES)
    assert again.parity_error() < 1e-9
    with np.load(tmp_path / LEXICAL_NPZ, allow_pickle=False) as arrays:
        assert arrays["vocabulary"].dtype.kind == "U"  # plain strings, no object array


def test_a_changed_coefficient_is_caught_by_the_parity_reference(branch, tmp_path):
    branch.save(tmp_path)
    with np.load(tmp_path / LEXICAL_NPZ) as arrays:
        parts = dict(arrays)
    parts["coef"] = parts["coef"] * 1.01
    np.savez(tmp_path / LEXICAL_NPZ, **parts)
    assert Lexical.load(tmp_path).parity_error() > 1e-4


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(weights=[0.5, 1.5, 0.5]), "must lie in"),
        (lambda m: m.update(weights=[0.5]), "weights for"),
        (lambda m: m.update(buckets=[80, 20]), "must rise"),
        (lambda m: m.update(labels=["a", "b"]), "for 2 labels"),
        (lambda m: m.update(token_pattern=r"\S+"), "not a branch this version serves"),
        (lambda m: m.pop("stop_words"), "stop_words"),
    ],
)
def test_a_malformed_branch_file_is_refused_with_the_reason(branch, tmp_path, change, message):
    branch.save(tmp_path)
    meta = json.loads((tmp_path / LEXICAL_JSON).read_text())
    change(meta)
    (tmp_path / LEXICAL_JSON).write_text(json.dumps(meta))
    with pytest.raises(LexicalError, match=message):
        Lexical.load(tmp_path)


def test_a_missing_or_truncated_array_file_is_refused(branch, tmp_path):
    branch.save(tmp_path)
    data = (tmp_path / LEXICAL_NPZ).read_bytes()
    (tmp_path / LEXICAL_NPZ).write_bytes(data[: len(data) // 2])
    with pytest.raises(LexicalError, match="cannot read"):
        Lexical.load(tmp_path)
    (tmp_path / LEXICAL_NPZ).unlink()
    with pytest.raises(LexicalError, match="cannot read"):
        Lexical.load(tmp_path)


def test_the_weight_follows_the_inputs_length(branch):
    from dataclasses import replace

    fused = replace(branch, buckets=(3, 10), weights=(0.0, 0.5, 1.0))
    assert [fused.bucket_of(t) for t in ["", "one two three", "one two three four", "w " * 11]] == [
        0,
        0,
        1,
        2,
    ]
    # a transformer that is sure of "tech" for every input
    logits = np.tile(np.array([0.0, 0.0, 0.0, 0.0, 9.0]), (3, 1))
    texts = ["shares bank profits", "shares in the bank rose sharply", "w " * 11]
    scores = fused.fuse(logits, texts)
    assert scores.dtype == np.float32 and scores.shape == (3, 5)
    np.testing.assert_allclose(scores[0], branch.log_proba(texts[:1])[0], atol=1e-6)  # w = 0
    np.testing.assert_allclose(scores[2], log_softmax(logits[2:])[0], atol=1e-6)  # w = 1
    assert scores[0].argmax() == 0  # the branch's business, not the transformer's tech
    half = 0.5 * log_softmax(logits[1:2])[0] + 0.5 * branch.log_proba(texts[1:2])[0]
    np.testing.assert_allclose(scores[1], half, atol=1e-6)
    with pytest.raises(LexicalError, match="rows of logits"):
        fused.fuse(logits, texts[:2])


def test_a_whole_article_branch_reads_the_last_bucket_and_travels_in_the_same_files(
    branch, tmp_path
):
    from dataclasses import replace

    shifted = [(y + 1) % 5 for y in LABELS]  # a branch that answers differently, to tell them apart
    long = fit_branch(TEXTS, shifted, NAMES, seed=0)
    fused = replace(branch, buckets=(3, 8), weights=(0.0, 0.0, 0.25), long=long)
    texts = ["shares bank profits", "shares in the bank rose sharply", TEXTS[0], TEXTS[1]]
    logits = np.tile(np.array([0.0, 0.0, 0.0, 0.0, 9.0]), (4, 1))
    scores = fused.fuse(logits, texts)
    np.testing.assert_allclose(scores[:2], branch.log_proba(texts[:2]), atol=1e-6)  # short: main
    whole = 0.25 * log_softmax(logits[2:]) + 0.75 * long.log_proba(texts[2:])
    np.testing.assert_allclose(scores[2:], whole, atol=1e-6)  # whole articles: the long branch
    assert scores[2].argmax() == 1 and branch.log_proba(texts[2:3])[0].argmax() == 0
    fused.save(tmp_path)
    again = Lexical.load(tmp_path)
    assert again.long is not None and again.weights == fused.weights
    np.testing.assert_array_equal(again.fuse(logits, texts), scores)
    assert again.parity_error() < 1e-9
    with np.load(tmp_path / LEXICAL_NPZ) as arrays:  # the parity check covers the long branch
        parts = dict(arrays)
    np.savez(tmp_path / LEXICAL_NPZ, **{**parts, "long_coef": parts["long_coef"] * 1.01})
    assert Lexical.load(tmp_path).parity_error() > 1e-4
    np.savez(tmp_path / LEXICAL_NPZ, **{k: v for k, v in parts.items() if k != "long_idf"})
    with pytest.raises(LexicalError, match="no array 'long_idf'"):
        Lexical.load(tmp_path)
    with pytest.raises(LexicalError, match="other labels"):
        replace(fused, long=replace(long, labels=tuple("abcde")))

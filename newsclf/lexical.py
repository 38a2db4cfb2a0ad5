"""The served TF-IDF branch of a hybrid model, and its fusion with the transformer.

A hybrid model classifies an article twice: the fine-tuned transformer reads its head and tail
windows, a TF-IDF + logistic-regression branch reads every word of it. The two are fused
log-linearly, with a weight that depends on how long the input is (a headline, a headline and a
sentence, a whole article), chosen at training on the validation split::

    score = w(len) * log_softmax(transformer_logits) + (1 - w(len)) * log p_tfidf

A branch may carry a second one, ``long``, fitted on whole training articles only, which then
reads the inputs of the last bucket (whole articles) in its place: the first branch is fitted on
every view of the training articles (headlines too), which suits short inputs and blurs long
ones (``training.hybrid``).

The served probabilities are ``softmax(score / T)`` (``T``: the calibration's temperature,
fitted on the validation split's fused scores). ``w = 1`` is the transformer alone.

Why numpy here and not a converted ONNX graph: the branch is a sparse dot product over the
article's words; its tokenizer is scikit-learn's (lowercase, ``(?u)\\b\\w\\w+\\b``, English stop
words), which this module reproduces exactly (training checks it against scikit-learn on
held-out articles and export refuses a branch that disagrees), with no scikit-learn, no string
operators in the graph and ~0.1 ms per article on one core.

Files in a checkpoint and a model directory: ``lexical.json`` (tokenizer settings, labels, the
length buckets and their weights, a reference for the parity check) and ``lexical.npz``
(vocabulary, idf, coefficients, intercepts, and the ``long`` branch's under ``long_``; loaded
without pickle). Numpy and the standard
library only: the serving image imports this module.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from newsclf.calibration import log_softmax

LEXICAL_JSON = "lexical.json"
LEXICAL_NPZ = "lexical.npz"
FILES = (LEXICAL_JSON, LEXICAL_NPZ)
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default
_WORDS = re.compile(r"\w\w+")  # the same matches (see Lexical.counts)
# Upper bounds (inclusive, in words) of the length buckets: a headline, a headline and a
# sentence or two, a whole article. Each bucket has its own fusion weight.
DEFAULT_BUCKETS = (20, 80)
PARITY_ATOL = 1e-6  # log-probability, against scikit-learn at training


class LexicalError(ValueError):
    """The lexical branch's files are missing, malformed or disagree with each other."""


def word_count(text: str) -> int:
    return len(text.split())


def mix(logits: np.ndarray, branch_log_proba: np.ndarray, w: float | np.ndarray) -> np.ndarray:
    """The fusion: ``w * log_softmax(logits) + (1 - w) * branch_log_proba`` (float64)."""
    return w * log_softmax(logits) + (1 - w) * branch_log_proba


@dataclass(frozen=True)
class Lexical:
    """A TF-IDF + logistic-regression branch and its fusion weights per length bucket."""

    labels: tuple[str, ...]
    vocabulary: dict[str, int]
    idf: np.ndarray  # (terms,)
    coef: np.ndarray  # (labels, terms)
    intercept: np.ndarray  # (labels,)
    stop_words: frozenset[str]
    sublinear_tf: bool = True
    lowercase: bool = True
    buckets: tuple[int, ...] = DEFAULT_BUCKETS
    weights: tuple[float, ...] = (1.0, 1.0, 1.0)  # transformer's weight per bucket
    reference: dict[str, Any] = field(default_factory=dict)  # {"texts", "log_proba"}
    # the branch that reads the last bucket's inputs (whole articles) instead; None: this one
    long: Lexical | None = None

    def __post_init__(self) -> None:
        if self.long is not None and (
            self.long.labels != self.labels or self.long.long is not None
        ):
            raise LexicalError("lexical branch: the whole-article branch has other labels")
        terms = len(self.vocabulary)
        if self.idf.shape != (terms,) or self.coef.shape != (len(self.labels), terms):
            raise LexicalError(
                f"lexical branch: {terms} terms, idf {self.idf.shape}, coefficients "
                f"{self.coef.shape} for {len(self.labels)} labels"
            )
        if self.intercept.shape != (len(self.labels),):
            raise LexicalError(f"lexical branch: intercept shape {self.intercept.shape}")
        if len(self.weights) != len(self.buckets) + 1:
            raise LexicalError(
                f"lexical branch: {len(self.weights)} weights for {len(self.buckets)} buckets"
            )
        if list(self.buckets) != sorted(set(self.buckets)) or any(b < 1 for b in self.buckets):
            raise LexicalError(f"lexical branch: buckets {list(self.buckets)} must rise from 1")
        if not all(isinstance(w, float) and 0.0 <= w <= 1.0 for w in self.weights):
            raise LexicalError(f"lexical branch: weights {list(self.weights)} must lie in [0, 1]")
        if not (np.isfinite(self.coef).all() and np.isfinite(self.idf).all()):
            raise LexicalError("lexical branch: non-finite coefficients or idf")

    # -- the branch --------------------------------------------------------------------------
    def counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary indices ``text`` holds and how often. Stop words are never in the
        vocabulary (scikit-learn removes them before building it), so they need no filter here;
        ``\\w\\w+`` finds the same words as ``\\b\\w\\w+\\b`` (a maximal run of word characters
        of length 2 or more) at half the cost."""
        seen = Counter(_WORDS.findall(text.lower() if self.lowercase else text))
        vocabulary = self.vocabulary
        known = [w for w in seen if w in vocabulary]
        return (
            np.fromiter((vocabulary[w] for w in known), dtype=np.int64, count=len(known)),
            np.fromiter((seen[w] for w in known), dtype=np.float64, count=len(known)),
        )

    def log_proba(self, texts: Sequence[str]) -> np.ndarray:
        """log p(label | text) of the branch, (texts, labels), float64: one vectorised pass
        over every text's terms."""
        pairs = [self.counts(t) for t in texts]
        lengths = np.array([len(idx) for idx, _ in pairs], dtype=np.int64)
        z = np.tile(self.intercept, (len(texts), 1))
        if not lengths.sum():
            return log_softmax(z)
        idx = np.concatenate([i for i, _ in pairs])
        tf = np.concatenate([c for _, c in pairs])
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        v = tf * self.idf[idx]
        rows = np.flatnonzero(lengths)  # texts with at least one known term
        starts = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
        norms = np.sqrt(np.add.reduceat(v * v, starts))
        v = v / np.repeat(norms, lengths[rows])
        z[rows] += np.add.reduceat(self.coef[:, idx] * v, starts, axis=1).T
        return log_softmax(z)

    # -- fusion -----------------------------------------------------------------------------
    def bucket_of(self, text: str) -> int:
        n = word_count(text)
        for k, bound in enumerate(self.buckets):
            if n <= bound:
                return k
        return len(self.buckets)

    def branch_log_proba(
        self, texts: Sequence[str], buckets: np.ndarray | None = None
    ) -> np.ndarray:
        """log p of the branch that reads each text: ``long`` for the last bucket's, when there
        is one, this branch for the rest (``buckets``: the texts' buckets, when known)."""
        if self.long is None:
            return self.log_proba(texts)
        if buckets is None:
            buckets = np.array([self.bucket_of(t) for t in texts], dtype=np.int64)
        last = buckets == len(self.buckets)
        out = np.empty((len(texts), len(self.labels)), dtype=np.float64)
        for rows, branch in ((~last, self), (last, self.long)):
            if rows.any():
                out[rows] = branch.log_proba([t for t, r in zip(texts, rows, strict=True) if r])
        return out

    def fuse(self, logits: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Fused scores (texts, labels), float32: serve ``softmax(scores / T)``."""
        if len(texts) != logits.shape[0]:
            raise LexicalError(f"{logits.shape[0]} rows of logits for {len(texts)} texts")
        buckets = np.array([self.bucket_of(t) for t in texts], dtype=np.int64)
        w = np.asarray(self.weights, dtype=np.float64)[buckets][:, None]
        if not (w < 1).any():  # the transformer alone: no need to read the words
            return log_softmax(logits).astype(np.float32)
        return mix(logits, self.branch_log_proba(texts, buckets), w).astype(np.float32)

    # -- parity -----------------------------------------------------------------------------
    def parity_error(self) -> float:
        """Largest |log p| difference from the reference training wrote (scikit-learn's own
        figures on held-out articles), of this branch and its whole-article one; raises when
        there is no reference."""
        own = self._own_parity_error()
        return own if self.long is None else max(own, self.long._own_parity_error())

    def _own_parity_error(self) -> float:
        texts, expected = self.reference.get("texts"), self.reference.get("log_proba")
        if not texts or expected is None:
            raise LexicalError("lexical branch has no parity reference")
        expected = np.asarray(expected, dtype=np.float64)
        got = self.log_proba(texts)
        if got.shape != expected.shape:
            raise LexicalError(f"parity reference shape {expected.shape}, branch {got.shape}")
        return float(np.abs(got - expected).max())

    # -- files ------------------------------------------------------------------------------
    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        arrays = {
            "vocabulary": np.array(terms, dtype=str),
            "idf": self.idf,
            "coef": self.coef,
            "intercept": self.intercept,
        }
        return {prefix + k: v for k, v in arrays.items()}

    def _tokenizer_meta(self) -> dict[str, Any]:
        return {
            "lowercase": self.lowercase,
            "sublinear_tf": self.sublinear_tf,
            "stop_words": sorted(self.stop_words),
            "reference": self.reference,
        }

    def save(self, directory: str | Path) -> list[Path]:
        directory = Path(directory)
        arrays = self._arrays() | (self.long._arrays("long_") if self.long is not None else {})
        npz = directory / LEXICAL_NPZ
        with npz.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        meta = {
            "kind": "tfidf+logistic_regression",
            "labels": list(self.labels),
            "token_pattern": TOKEN_PATTERN,
            "fusion": "w * log_softmax(logits) + (1 - w) * log p_tfidf, w per bucket",
            "buckets": list(self.buckets),
            "weights": list(self.weights),
            **self._tokenizer_meta(),
        }
        if self.long is not None:
            meta["long"] = {"reads": "the last bucket", **self.long._tokenizer_meta()}
        path = directory / LEXICAL_JSON
        path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        return [path, npz]

    @classmethod
    def load(cls, directory: str | Path) -> Lexical:
        directory = Path(directory)
        try:
            meta = json.loads((directory / LEXICAL_JSON).read_text(encoding="utf-8"))
            with np.load(directory / LEXICAL_NPZ, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise LexicalError(f"cannot read the lexical branch in {directory}: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("token_pattern") != TOKEN_PATTERN:
            raise LexicalError(f"{directory / LEXICAL_JSON}: not a branch this version serves")
        try:
            labels = tuple(str(x) for x in meta["labels"])
            buckets = tuple(int(b) for b in meta["buckets"])
            long = None
            if meta.get("long") is not None:
                long = cls._from(directory, arrays, "long_", meta["long"], labels, buckets)
            return replace(
                cls._from(directory, arrays, "", meta, labels, buckets),
                weights=tuple(float(w) for w in meta["weights"]),
                long=long,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, LexicalError):
                raise
            raise LexicalError(f"{directory / LEXICAL_JSON}: {exc!r}") from exc

    @classmethod
    def _from(
        cls,
        directory: Path,
        arrays: dict[str, np.ndarray],
        prefix: str,
        meta: dict[str, Any],
        labels: tuple[str, ...],
        buckets: tuple[int, ...],
    ) -> Lexical:
        try:
            terms = [str(t) for t in arrays[prefix + "vocabulary"]]
            idf, coef, intercept = (
                np.asarray(arrays[prefix + k], dtype=np.float64)
                for k in ("idf", "coef", "intercept")
            )
        except KeyError as exc:
            raise LexicalError(f"{directory / LEXICAL_NPZ}: no array {exc}") from exc
        if len(set(terms)) != len(terms):
            raise LexicalError(f"{directory / LEXICAL_NPZ}: repeated vocabulary terms")
        return cls(
            labels=labels,
            vocabulary={t: j for j, t in enumerate(terms)},
            idf=idf,
            coef=coef,
            intercept=intercept,
            stop_words=frozenset(str(w) for w in meta["stop_words"]),
            sublinear_tf=bool(meta["sublinear_tf"]),
            lowercase=bool(meta["lowercase"]),
            buckets=buckets,
            weights=(1.0,) * (len(buckets) + 1),
            reference=dict(meta.get("reference") or {}),
        )


def present(directory: str | Path) -> bool:
    """Whether ``directory`` holds a lexical branch (either of its files)."""
    return any((Path(directory) / name).exists() for name in FILES)

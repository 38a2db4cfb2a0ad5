"""Fit the served TF-IDF branch and choose its fusion weights (:mod:`newsclf.lexical`).

The branch is the baseline's recipe (:func:`training.baseline.build_baseline`) fitted on every
view of the training articles: whole, headline alone, headline + first sentence (the transformer
meets all three in a stream). Per length bucket, the transformer's weight is the one of
``WEIGHT_GRID`` with the lowest log-loss of the fused probabilities on the validation articles
(all three views) in that bucket; a bucket without validation texts keeps the transformer alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from newsclf.calibration import negative_log_likelihood
from newsclf.lexical import DEFAULT_BUCKETS, PARITY_ATOL, Lexical, LexicalError, mix
from training.baseline import build_baseline
from training.errors import TrainingError

log = logging.getLogger(__name__)

WEIGHT_GRID = tuple(round(0.05 * k, 2) for k in range(21))
REFERENCE_TEXTS = 16


def fit_branch(
    texts: Sequence[str], labels: Sequence[int], label_names: Sequence[str], seed: int
) -> Lexical:
    """The baseline recipe fitted on ``texts`` as a servable :class:`Lexical` (transformer
    weight 1 everywhere until :func:`choose_weights`)."""
    started = time.perf_counter()
    pipeline = build_baseline(seed).fit(list(texts), list(labels))
    vectorizer, clf = pipeline.named_steps["tfidf"], pipeline.named_steps["clf"]
    if list(clf.classes_) != list(range(len(label_names))):
        raise TrainingError("the lexical branch needs every label in its training texts")
    stop = vectorizer.get_stop_words() or frozenset()
    branch = Lexical(
        labels=tuple(label_names),
        vocabulary={str(t): int(j) for t, j in vectorizer.vocabulary_.items()},
        idf=np.asarray(vectorizer.idf_, dtype=np.float64),
        coef=np.asarray(clf.coef_, dtype=np.float64),
        intercept=np.asarray(clf.intercept_, dtype=np.float64),
        stop_words=frozenset(stop),
        sublinear_tf=bool(vectorizer.sublinear_tf),
        lowercase=bool(vectorizer.lowercase),
        buckets=DEFAULT_BUCKETS,
        weights=(1.0,) * (len(DEFAULT_BUCKETS) + 1),
    )
    sample = list(texts[:: max(1, len(texts) // REFERENCE_TEXTS)][:REFERENCE_TEXTS])
    reference = {
        "texts": sample,
        "log_proba": np.log(pipeline.predict_proba(sample)).round(10).tolist(),
    }
    branch = _replace(branch, reference=reference)
    error = branch.parity_error()
    if error > PARITY_ATOL:
        raise TrainingError(
            f"the lexical branch disagrees with scikit-learn by {error:.2e} (> {PARITY_ATOL})"
        )
    log.info(
        "hybrid.branch terms=%d texts=%d parity=%.1e seconds=%.1f",
        len(branch.vocabulary),
        len(texts),
        error,
        time.perf_counter() - started,
    )
    return branch


def _replace(branch: Lexical, **changes: object) -> Lexical:
    try:
        return replace(branch, **changes)  # type: ignore[arg-type]
    except LexicalError as exc:
        raise TrainingError(str(exc)) from exc


def choose_weights(
    branch: Lexical,
    logits: Mapping[str, np.ndarray],
    texts: Mapping[str, Sequence[str]],
    labels: Sequence[int],
) -> Lexical:
    """``branch`` with one transformer weight per length bucket, chosen on validation:
    ``logits[view]`` are the transformer's on ``texts[view]`` (every view of the same
    validation articles, labelled ``labels``)."""
    all_texts = [t for view in texts for t in texts[view]]
    all_logits = np.concatenate([logits[view] for view in texts])
    all_labels = np.array([y for view in texts for y in labels])
    lp = branch.log_proba(all_texts)
    buckets = np.array([branch.bucket_of(t) for t in all_texts])
    weights = bucket_weights(all_logits, lp, all_labels, buckets, len(branch.buckets) + 1)
    return _replace(branch, weights=weights)


def with_long_branch(branch: Lexical, long: Lexical, weight: float) -> Lexical:
    """``branch`` whose last bucket (whole articles) is read by ``long`` at the constant
    transformer ``weight`` (``TrainConfig.long_branch_weight``); shorter buckets keep theirs."""
    weights = (*branch.weights[:-1], float(weight))
    log.info("hybrid.long_branch terms=%d transformer_weight=%.2f", len(long.vocabulary), weight)
    return _replace(branch, weights=weights, long=long)


def bucket_weights(
    logits: np.ndarray,
    branch_log_proba: np.ndarray,
    labels: np.ndarray,
    buckets: np.ndarray,
    n_buckets: int,
) -> tuple[float, ...]:
    """Per bucket ``0 … n_buckets-1``, the ``WEIGHT_GRID`` transformer weight whose fusion of
    ``logits`` with ``branch_log_proba`` has the lowest log-loss on the rows of that bucket
    (``buckets[i]``: row i's bucket); 1.0 for a bucket without rows."""
    weights = []
    for k in range(n_buckets):
        rows = buckets == k
        if not rows.any():
            weights.append(1.0)
            continue
        nll = {
            w: negative_log_likelihood(mix(logits[rows], branch_log_proba[rows], w), labels[rows])
            for w in WEIGHT_GRID
        }
        best = min(WEIGHT_GRID, key=lambda w: (nll[w], -w))  # a tie keeps more transformer
        weights.append(float(best))
        log.info(
            "hybrid.weight bucket=%d texts=%d transformer_weight=%.2f nll=%.4f "
            "transformer_nll=%.4f branch_nll=%.4f",
            k,
            int(rows.sum()),
            best,
            nll[best],
            nll[1.0],
            nll[0.0],
        )
    return tuple(weights)

"""Temperature scaling, calibration error, the review threshold and calibration.json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from newsclf.calibration import (
    CALIBRATION_FILE,
    SPLIT_KEYS,
    Calibration,
    calibrate,
    choose_threshold,
    choose_threshold_expected,
    coverage_accuracy,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability_bins,
    review_share_cap,
    select_threshold,
    softmax,
)


def _sample(temperature: float, n: int = 4000, k: int = 5, seed: int = 0):
    """Logits z and labels drawn from softmax(z / temperature): T = temperature is the truth."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, size=(n, k))
    p = softmax(z, temperature)
    labels = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    return z, labels


def test_softmax_rows_sum_to_one_and_survive_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0], [-5e5, -5e5 + 1, -5e5]])
    p = softmax(z, 0.5)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)
    np.testing.assert_allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
    with pytest.raises(ValueError, match="temperature"):
        softmax(z, 0.0)


@pytest.mark.parametrize("truth", [0.5, 1.0, 2.5])
def test_fit_temperature_recovers_a_known_temperature(truth):
    z, labels = _sample(truth)
    assert fit_temperature(z, labels) == pytest.approx(truth, rel=0.06)


def test_fitted_temperature_minimises_the_nll():
    z, labels = _sample(2.0, n=800, seed=3)
    t = fit_temperature(z, labels)
    best = negative_log_likelihood(z, labels, t)
    for other in (0.8 * t, 0.95 * t, 1.05 * t, 1.25 * t):
        assert negative_log_likelihood(z, labels, other) >= best - 1e-12


@pytest.mark.parametrize(
    ("logits", "labels"),
    [
        (np.zeros((0, 5)), []),  # no articles
        (np.ones((4, 1)), [0, 0, 0, 0]),  # one class
        (np.zeros((6, 3)), [0, 1, 2, 0, 1, 2]),  # flat likelihood
        (np.eye(3) * 4, [0, 1, 2]),  # no error: no finite minimiser
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), [0, 1]),  # not finite
    ],
)
def test_fit_temperature_is_one_for_degenerate_input(logits, labels):
    assert fit_temperature(logits, labels) == 1.0


def test_fit_temperature_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(np.zeros((3, 2)), [0, 1])
    with pytest.raises(ValueError, match="labels must be in"):
        fit_temperature(np.zeros((2, 2)), [0, 2])


def test_ece_small_when_calibrated_large_when_overconfident_and_fitting_repairs_it():
    z, labels = _sample(1.0, n=6000, seed=1)
    assert expected_calibration_error(softmax(z), labels) < 0.02
    z, labels = _sample(3.0, n=6000, seed=2)  # the model's logits are 3x too sharp
    before = expected_calibration_error(softmax(z), labels)
    after = expected_calibration_error(softmax(z, fit_temperature(z, labels)), labels)
    assert before > 0.2
    assert after < 0.03


def test_ece_and_bins_by_hand():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.6, 0.4], [0.3, 0.7]])
    labels = [0, 1, 0, 0]
    # bin (0.9, 1]: confidence 0.95, accuracy 0.5; bin (0.6, 0.7]: 0.7 vs 0; [0.5, 0.6]: 0.6 vs 1
    bins = reliability_bins(probs, labels, n_bins=10)
    assert len(bins) == 10 and sum(b["count"] for b in bins) == 4
    assert bins[9] == {"lo": 0.9, "hi": 1.0, "count": 2, "confidence": 0.95, "accuracy": 0.5}
    assert bins[0]["confidence"] is None and bins[0]["accuracy"] is None
    expected = 0.5 * 0.45 + 0.25 * 0.7 + 0.25 * 0.4
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(expected)
    assert expected_calibration_error(np.zeros((0, 2)), []) == 0.0


def test_coverage_never_rises_with_the_threshold():
    z, labels = _sample(2.0, n=500, seed=4)
    probs = softmax(z)
    rows = coverage_accuracy(probs, labels, thresholds=[0.9, 0.0, 0.5, 0.99, 1.0])
    assert [r["threshold"] for r in rows] == [0.0, 0.5, 0.9, 0.99, 1.0]
    coverage = [r["coverage"] for r in rows]
    assert coverage[0] == 1.0 and coverage == sorted(coverage, reverse=True)
    assert rows[0]["accuracy"] == pytest.approx(np.mean(probs.argmax(1) == labels))
    default = coverage_accuracy(probs, labels)
    assert len(default) >= 5
    nothing = coverage_accuracy(np.array([[0.6, 0.4]]), [0], [0.7])[0]
    assert nothing == {"threshold": 0.7, "coverage": 0.0, "accuracy": None}


def _probs(confidences: list[float]) -> np.ndarray:
    return np.array([[c, 1 - c] for c in confidences])


def test_choose_threshold_keeps_everything_when_the_target_is_already_met():
    probs = _probs([0.9, 0.8, 0.7, 0.6])
    assert choose_threshold(probs, [0, 0, 0, 0], 1.0) == 0.0
    assert choose_threshold(probs, [0, 0, 0, 1], 0.75) == 0.0


def test_choose_threshold_drops_the_least_confident_errors():
    probs = _probs([0.95, 0.9, 0.8, 0.7, 0.6, 0.55])
    labels = [0, 0, 0, 1, 0, 1]  # wrong at 0.7 and 0.55
    assert choose_threshold(probs, labels, 1.0) == 0.8
    assert choose_threshold(probs, labels, 0.8) == 0.6  # 4 of 5 kept right
    # kept at t includes every article tied with t
    tied = _probs([0.9, 0.8, 0.8, 0.6])
    assert choose_threshold(tied, [0, 0, 1, 1], 0.66) == 0.8


def test_choose_threshold_when_no_threshold_reaches_the_target():
    probs = _probs([0.99, 0.9, 0.7])
    assert choose_threshold(probs, [1, 0, 0], 1.0) == 0.99  # the most confident is wrong


def test_choose_threshold_rejects_bad_input():
    with pytest.raises(ValueError, match="target_accuracy"):
        choose_threshold(_probs([0.9]), [0], 0.0)
    with pytest.raises(ValueError, match="no articles"):
        choose_threshold(np.zeros((0, 2)), [], 0.9)


def test_calibrate_and_round_trip(tmp_path):
    z_val, y_val = _sample(2.0, n=400, seed=5)
    z_test, y_test = _sample(2.0, n=400, seed=6)
    cal = calibrate(z_val, y_val, z_test, y_test, 0.9, max_review_share=None)
    assert cal.method == "temperature" and cal.temperature == pytest.approx(2.0, rel=0.25)
    for figures in (cal.validation, cal.test):
        assert set(figures) == set(SPLIT_KEYS) and figures["n"] == 400
        assert figures["ece_after"] < figures["ece_before"]
        assert figures["nll_after"] < figures["nll_before"]
    assert cal.validation["accuracy_at_threshold"] >= 0.9
    np.testing.assert_allclose(cal.probabilities(z_val), softmax(z_val, cal.temperature))

    path = cal.save(tmp_path)
    assert path.name == CALIBRATION_FILE
    raw = json.loads(path.read_text())
    assert {"method", "temperature", "threshold", "target_accuracy"} <= set(raw)
    assert Calibration.load(tmp_path) == cal
    assert Calibration.from_dict({**raw, "added_later": 1}) == cal  # unknown keys ignored
    assert Calibration.load(tmp_path / "elsewhere") is None
    capped = calibrate(z_val, y_val, z_test, y_test, 0.9)  # the default cap: 20 % to review
    assert capped.validation["coverage_at_threshold"] >= 0.8


def _valid() -> dict:
    figures = dict.fromkeys(SPLIT_KEYS, 0.5) | {"n": 10, "accuracy_at_threshold": None}
    return {
        "method": "temperature",
        "temperature": 1.5,
        "target_accuracy": 0.99,
        "threshold": 0.9,
        "validation": figures,
        "test": dict(figures),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"temperature": 0}, "temperature must be a positive number"),
        ({"temperature": "1.5"}, "temperature must be a positive number"),
        ({"temperature": float("nan")}, "temperature must be a positive number"),
        ({"threshold": 1.5}, "threshold must be in"),
        ({"target_accuracy": 0}, "target_accuracy must be in"),
        ({"method": "isotonic"}, "method must be one of"),
        ({"test": []}, "test must be a JSON object"),
        ({"validation": {"n": 3}}, "validation lacks key"),
    ],
)
def test_bad_calibrations_are_value_errors(change, message):
    assert Calibration.from_dict(_valid()).threshold == 0.9
    with pytest.raises(ValueError, match=message):
        Calibration.from_dict({**_valid(), **change})


def test_missing_keys_and_bad_files(tmp_path):
    raw = _valid()
    del raw["threshold"]
    with pytest.raises(ValueError, match="lacks key"):
        Calibration.from_dict(raw)
    with pytest.raises(ValueError, match="JSON object"):
        Calibration.from_dict([1, 2])  # type: ignore[arg-type]
    (tmp_path / CALIBRATION_FILE).write_text("{ nope")
    with pytest.raises(ValueError, match="not valid JSON"):
        Calibration.load(tmp_path)
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps({**_valid(), "threshold": -1}))
    with pytest.raises(ValueError, match=r"calibration\.json: threshold"):
        Calibration.load(tmp_path)


def test_expected_rule_keeps_the_confident_articles_without_labels():
    # mean confidence of the kept: 0.99, 0.985, 0.97, 0.9525 -> target 0.98 keeps two
    probs = _probs([0.99, 0.98, 0.94, 0.9])
    assert choose_threshold_expected(probs, 0.98) == 0.98
    assert choose_threshold_expected(probs, 0.9) == 0.0  # the mean of all already reaches it
    assert choose_threshold_expected(probs, 0.995) == 0.99  # not even the top one: strictest
    with pytest.raises(ValueError):
        choose_threshold_expected(probs, 1.5)


def test_expected_rule_varies_less_than_the_empirical_one_across_samples():
    """Calibrated synthetic validation sets of 212 articles, 97 % right: the threshold the
    expected-accuracy rule picks moves far less from sample to sample."""
    rng = np.random.default_rng(5)
    expected, empirical = [], []
    for _ in range(40):
        conf = np.clip(rng.beta(30, 1, 212), 0.21, 0.9999)
        right = rng.random(212) < conf  # calibrated: right with probability conf
        probs = np.stack([conf, 1 - conf], axis=1)
        labels = np.where(right, 0, 1)
        expected.append(select_threshold(probs, labels, 0.99, "expected"))
        empirical.append(select_threshold(probs, labels, 0.99, "empirical"))
    assert np.std(expected) < np.std(empirical) / 2
    with pytest.raises(ValueError, match="unknown threshold rule"):
        select_threshold(probs, labels, 0.99, "median")


def test_review_share_cap_bounds_what_goes_to_review():
    probs = _probs([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99])
    cap = review_share_cap(probs, 0.2)
    assert cap == 0.7  # 0.5 and 0.6 fall below: 2 of 10
    assert (probs.max(axis=1) < cap).mean() <= 0.2
    assert review_share_cap(probs, 0.0) == 0.5  # nothing below
    assert review_share_cap(probs, 1.0) == 1.0


def test_calibrate_caps_a_threshold_a_few_errors_pushed_up():
    """Errors among the most confident articles push the empirical threshold to the top; the
    cap keeps at least 80 % of validation articles labelled."""
    rng = np.random.default_rng(11)
    logits = rng.normal(0, 1, (200, 3))
    labels = logits.argmax(axis=1).copy()
    top = np.argsort(-logits.max(axis=1))[:3]
    labels[top] = (labels[top] + 1) % 3  # the three most confident are wrong
    capped = calibrate(logits, labels, logits, labels, 0.99, "empirical", 0.2)
    assert capped.rule_threshold is not None and capped.threshold <= capped.rule_threshold
    assert capped.validation["coverage_at_threshold"] >= 0.8
    assert Calibration.from_dict(capped.to_dict()) == capped
    free = calibrate(logits, labels, logits, labels, 0.99, "empirical", None)
    assert free.validation["coverage_at_threshold"] < 0.8


def test_the_floor_reviews_unsure_articles_of_a_model_that_meets_its_target():
    """A model that is 100 % right on validation needs no threshold for any target, yet an
    article it is 60 % sure of still goes to review: the floor."""
    confident = _probs([0.99] * 90 + [0.6] * 10)
    labels = [0] * 100
    logits = np.log(confident)
    floored = calibrate(logits, labels, logits, labels, 0.98, "empirical", 0.2, 0.9)
    assert floored.rule_threshold == 0.0
    assert floored.threshold == pytest.approx(0.9)  # the cap allows it (10 % below)
    assert floored.validation["coverage_at_threshold"] == pytest.approx(0.9)
    capped = calibrate(logits, labels, logits, labels, 0.98, "empirical", 0.05, 0.9)
    assert capped.threshold == pytest.approx(0.6)  # the cap (5 %) wins over the floor
    assert capped.validation["coverage_at_threshold"] == 1.0
    with pytest.raises(ValueError, match="min_confidence"):
        calibrate(logits, labels, logits, labels, 0.98, "empirical", 0.2, 1.5)

"""Metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from training.metrics import classification_metrics, confusion_matrix

LABELS = ["a", "b", "c"]
# true a a a b b c / predicted a a b b c c
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_confusion_matrix_rows_are_true_columns_predicted():
    assert confusion_matrix(Y_TRUE, Y_PRED, 3).tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_metrics_match_hand_computed_values():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # precision a=2/2, b=1/2, c=1/2; recall a=2/3, b=1/2, c=1/1
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3}
    )
    assert m["per_class"]["b"] == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    )
    assert m["per_class"]["c"] == pytest.approx(
        {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1}
    )
    assert m["macro_precision"] == pytest.approx(2 / 3)
    assert m["macro_recall"] == pytest.approx(13 / 18)
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert m["labels"] == LABELS
    assert m["n"] == 6


def test_a_class_never_predicted_has_zero_precision_and_f1():
    m = classification_metrics([0, 1, 1], [1, 1, 1], ["x", "y"])
    assert m["per_class"]["x"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_class"]["y"]["precision"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0 + 0.8) / 2)


def test_perfect_predictions():
    m = classification_metrics([0, 1, 2, 2], [0, 1, 2, 2], LABELS)
    assert m["accuracy"] == m["macro_f1"] == m["macro_precision"] == m["macro_recall"] == 1.0


def test_agrees_with_sklearn():
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    y_true = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 0]
    y_pred = [0, 2, 2, 1, 1, 0, 1, 2, 1, 0, 0]
    m = classification_metrics(y_true, y_pred, LABELS)
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    assert (m["macro_precision"], m["macro_recall"], m["macro_f1"]) == pytest.approx((p, r, f))
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0], ["a", "b"])

"""Group fairness metrics checked against fairlearn's MetricFrame and hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equalized_odds_difference
from sklearn.metrics import accuracy_score, recall_score

from tai_project.trust.fairness import group_balanced_weights, group_fairness

# Toy case: 3 classes, 2 groups. Group A: 6 images, 5 right; group B: 4 images, 2 right.
Y_TRUE = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
Y_PRED = np.array([0, 1, 2, 0, 1, 0, 0, 2, 1, 0])
GROUPS = np.array(["A", "A", "A", "A", "A", "A", "B", "B", "B", "B"])


def _toy(**overrides):
    kwargs = {"sensitive_features": GROUPS, "labels": [0, 1, 2], "n_boot": 100,
              "confidence_level": 0.9, "random_state": 0} | overrides
    return group_fairness(Y_TRUE, Y_PRED, **kwargs)


def test_group_metrics_equal_metricframe_and_hand_values():
    result = _toy()
    frame = MetricFrame(metrics=accuracy_score, y_true=Y_TRUE, y_pred=Y_PRED,
                        sensitive_features=GROUPS)
    assert result.by_group == pytest.approx(frame.by_group.to_dict())
    assert result.by_group == pytest.approx({"A": 5 / 6, "B": 2 / 4})
    assert result.group_sizes == {"A": 6, "B": 4}
    assert result.accuracy_gap == pytest.approx(frame.difference(method="between_groups"))
    assert result.accuracy_gap == pytest.approx(5 / 6 - 1 / 2)
    assert result.accuracy_ratio == pytest.approx((1 / 2) / (5 / 6))
    for group in ("A", "B"):
        rows = GROUPS == group
        expected = recall_score(Y_TRUE[rows], Y_PRED[rows], labels=[0, 1, 2], average=None)
        assert list(result.recall_by_group[group].values()) == pytest.approx(expected)


def test_worst_group_accuracy_is_the_minimum_per_group_value():
    result = _toy()
    assert result.worst_group_accuracy == min(result.by_group.values()) == pytest.approx(0.5)


def test_intervals_contain_the_point_estimates():
    result = _toy()
    for value, interval in [
        (result.worst_group_accuracy, result.worst_group_accuracy_interval),
        (result.accuracy_gap, result.accuracy_gap_interval),
        *[(result.by_group[g], result.by_group_interval[g]) for g in result.by_group],
    ]:
        assert interval.low <= value <= interval.high


def test_intervals_narrow_with_more_data():
    """Ten copies of the data: same point estimates, tighter bootstrap interval."""
    small = _toy()
    large = group_fairness(np.tile(Y_TRUE, 10), np.tile(Y_PRED, 10),
                           sensitive_features=np.tile(GROUPS, 10), labels=[0, 1, 2],
                           n_boot=100, confidence_level=0.9, random_state=0)
    assert large.accuracy_gap == pytest.approx(small.accuracy_gap)
    width = lambda i: i.high - i.low  # noqa: E731
    assert width(large.accuracy_gap_interval) < width(small.accuracy_gap_interval)


def test_equalized_odds_is_the_worst_one_vs_rest_class():
    """Class 1: TPR A = 1, B = 0 -> difference 1 (the worst class)."""
    result = _toy()
    per_class = [equalized_odds_difference(Y_TRUE == c, Y_PRED == c, sensitive_features=GROUPS)
                 for c in (0, 1, 2)]
    assert result.equalized_odds_difference == pytest.approx(max(per_class)) == pytest.approx(1.0)


def test_several_sensitive_features_give_intersectional_groups():
    second = np.array(["x", "y"] * 5)
    result = _toy(sensitive_features=pd.DataFrame({"site": GROUPS, "sex": second}))
    frame = MetricFrame(metrics=accuracy_score, y_true=Y_TRUE, y_pred=Y_PRED,
                        sensitive_features=pd.DataFrame({"site": GROUPS, "sex": second}))
    expected = {f"{s}|{x}": v for (s, x), v in frame.by_group.items()}
    assert result.by_group == pytest.approx(expected)


def test_group_balanced_weights_give_each_group_the_same_total():
    weights = group_balanced_weights(GROUPS)
    assert weights[GROUPS == "A"] == pytest.approx(np.full(6, 10 / (2 * 6)))
    assert weights[GROUPS == "B"] == pytest.approx(np.full(4, 10 / (2 * 4)))
    assert weights[GROUPS == "A"].sum() == pytest.approx(weights[GROUPS == "B"].sum())
    assert weights.mean() == pytest.approx(1.0)

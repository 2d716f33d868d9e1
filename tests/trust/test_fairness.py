import numpy as np
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score

from tai_project.trust.fairness import group_accuracy


def test_hand_computed_toy_case():
    y_true = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 0, 0, 1, 1, 0])
    groups = np.array(["A", "A", "A", "A", "B", "B", "B", "B"])
    result = group_accuracy(y_true, y_pred, sensitive_features=groups)
    assert result.by_group == {"A": 1.0, "B": 0.25}
    assert result.group_sizes == {"A": 4, "B": 4}
    assert result.worst_group_accuracy == 0.25
    assert result.accuracy_gap == pytest.approx(0.75)


def test_matches_metricframe_on_random_data():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    groups = rng.choice(["x", "y", "z"], 200)
    frame = MetricFrame(metrics=accuracy_score, y_true=y_true, y_pred=y_pred,
                        sensitive_features=groups)
    result = group_accuracy(y_true, y_pred, sensitive_features=groups)
    assert result.worst_group_accuracy == pytest.approx(frame.group_min())
    assert result.worst_group_accuracy == min(result.by_group.values())
    assert result.accuracy_gap == pytest.approx(frame.difference())

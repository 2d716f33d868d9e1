"""Group fairness metrics, computed with fairlearn's ``MetricFrame``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fairlearn.metrics import MetricFrame
from sklearn.metrics import accuracy_score


@dataclass(frozen=True)
class GroupAccuracy:
    """Accuracy per group and the summaries a fairness requirement is written against."""

    by_group: dict[str, float]
    group_sizes: dict[str, int]
    worst_group_accuracy: float
    accuracy_gap: float


def group_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, *, sensitive_features: np.ndarray
) -> GroupAccuracy:
    """Return per-group accuracy, the worst-group accuracy and the accuracy gap.

    Worst-group accuracy is the minimum of the per-group accuracies (Sagawa et al. 2020);
    the gap is ``MetricFrame.difference(method="between_groups")``, the largest minus the
    smallest per-group accuracy (fairlearn's definition).
    """
    frame = MetricFrame(
        metrics=accuracy_score,
        y_true=np.asarray(y_true),
        y_pred=np.asarray(y_pred),
        sensitive_features=np.asarray(sensitive_features),
    )
    by_group = {str(group): float(value) for group, value in frame.by_group.items()}
    sizes = MetricFrame(
        metrics=lambda y_t, y_p: len(y_t),
        y_true=np.asarray(y_true),
        y_pred=np.asarray(y_pred),
        sensitive_features=np.asarray(sensitive_features),
    ).by_group
    return GroupAccuracy(
        by_group=by_group,
        group_sizes={str(group): int(size) for group, size in sizes.items()},
        worst_group_accuracy=float(frame.group_min()),
        accuracy_gap=float(frame.difference(method="between_groups")),
    )

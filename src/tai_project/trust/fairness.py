"""Group fairness metrics, computed with fairlearn's ``MetricFrame``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count, equalized_odds_difference
from sklearn.metrics import recall_score
from sklearn.utils.class_weight import compute_sample_weight


@dataclass(frozen=True)
class Interval:
    """A two-sided bootstrap percentile interval."""

    low: float
    high: float


@dataclass(frozen=True)
class GroupFairness:
    """Group fairness of a multiclass classifier, with bootstrap intervals.

    Group keys are the sensitive-feature values as text; with several sensitive features a
    group is their intersection, written ``"A|female"``.
    """

    by_group: dict[str, float]
    """Accuracy per group."""
    by_group_interval: dict[str, Interval]
    group_sizes: dict[str, int]
    recall_by_group: dict[str, dict[str, float]]
    """Recall per group, then per class (NaN where a group has no example of the class)."""
    worst_group_accuracy: float
    worst_group_accuracy_interval: Interval
    accuracy_gap: float
    accuracy_gap_interval: Interval
    accuracy_ratio: float
    equalized_odds_difference: float
    n_boot: int
    confidence_level: float


def group_fairness(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    sensitive_features: np.ndarray | pd.DataFrame,
    labels: Sequence[int],
    n_boot: int,
    confidence_level: float,
    random_state: int,
) -> GroupFairness:
    """Return per-group accuracy, per-group class recall, the group summaries and their
    bootstrap confidence intervals.

    Definitions (all from fairlearn's ``MetricFrame``): worst-group accuracy is
    ``group_min()``; the accuracy gap is ``difference(method="between_groups")`` (largest
    minus smallest group accuracy); the accuracy ratio is ``ratio(method="between_groups")``
    (smallest over largest). Intervals are fairlearn's bootstrap (``n_boot`` resamples of
    the rows with replacement, ``random_state``), the percentiles ``(1 - level) / 2`` and
    ``(1 + level) / 2`` of the resampled statistic (Efron & Tibshirani 1993, percentile
    interval). The equalized-odds difference is reduced from multiclass to binary one class
    at a time (one-vs-rest, ``y == c``) with ``fairlearn.metrics.equalized_odds_difference``
    (the larger of the between-group TPR and FPR differences), then the maximum over the
    classes: the worst class decides. ``labels`` are the class indices to report.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    sensitive = _as_frame(sensitive_features)
    tail = (1.0 - confidence_level) / 2.0
    accuracy = MetricFrame(
        metrics=_accuracy, y_true=y_true, y_pred=y_pred, sensitive_features=sensitive,
        n_boot=n_boot, ci_quantiles=[tail, 1.0 - tail], random_state=random_state,
    )
    details = MetricFrame(
        metrics={"n": count} | {str(c): partial(_class_recall, label=c) for c in labels},
        y_true=y_true, y_pred=y_pred, sensitive_features=sensitive,
    ).by_group
    low, high = accuracy.by_group_ci
    worst_low, worst_high = accuracy.group_min_ci()
    gap_low, gap_high = accuracy.difference_ci(method="between_groups")
    equalized_odds = max(
        equalized_odds_difference(y_true == c, y_pred == c, sensitive_features=sensitive)
        for c in labels
    )
    return GroupFairness(
        by_group={_key(g): float(v) for g, v in accuracy.by_group.items()},
        by_group_interval={_key(g): Interval(float(low[g]), float(high[g])) for g in low.index},
        group_sizes={_key(g): int(row["n"]) for g, row in details.iterrows()},
        recall_by_group={
            _key(g): {str(c): float(row[str(c)]) for c in labels} for g, row in details.iterrows()
        },
        worst_group_accuracy=float(accuracy.group_min()),
        worst_group_accuracy_interval=Interval(float(worst_low), float(worst_high)),
        accuracy_gap=float(accuracy.difference(method="between_groups")),
        accuracy_gap_interval=Interval(float(gap_low), float(gap_high)),
        accuracy_ratio=float(accuracy.ratio(method="between_groups")),
        equalized_odds_difference=float(equalized_odds),
        n_boot=n_boot,
        confidence_level=confidence_level,
    )


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """sklearn's ``accuracy_score`` without its input validation, which dominated the
    bootstrap's run time; the tests check the two agree."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _class_recall(y_true: np.ndarray, y_pred: np.ndarray, *, label: int) -> float:
    return float(
        recall_score(y_true, y_pred, labels=[label], average="macro", zero_division=np.nan)
    )


def _as_frame(sensitive_features: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    if isinstance(sensitive_features, pd.DataFrame):
        return sensitive_features.astype(str)
    return pd.DataFrame({"group": np.asarray(sensitive_features).astype(str)})


def _key(group: object) -> str:
    return "|".join(str(part) for part in group) if isinstance(group, tuple) else str(group)


def group_balanced_weights(groups: np.ndarray) -> np.ndarray:
    """Return per-sample loss weights that give every group the same total weight.

    ``n_samples / (n_groups * n_in_group)``: scikit-learn's ``compute_sample_weight
    ("balanced")`` applied to the group labels (the reweighting of Kamiran & Calders 2012,
    by group only). The weights average 1, so the loss keeps its scale.
    """
    return compute_sample_weight("balanced", np.asarray(groups).astype(str))

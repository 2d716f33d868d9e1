"""Autonomy & control: selective prediction, where the model refers low-confidence cases to a
human. The confidence is the top-1 softmax probability (softmax response, Geifman &
El-Yaniv 2017, "Selective Classification for Deep Neural Networks")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def choose_confidence_threshold(
    confidence: np.ndarray, correct: np.ndarray, *, target_accuracy: float
) -> float:
    """Return the lowest confidence threshold ``t`` whose accepted set ``{confidence >= t}``
    reaches ``target_accuracy`` on the given (calibration) data, so the most cases stay
    automatic. When no threshold reaches it, return a value above every confidence: refer all.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    order = np.argsort(-confidence, kind="stable")
    sorted_confidence = confidence[order]
    running_accuracy = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    # a cut is only possible after the last of a run of equal confidences
    cut = np.append(sorted_confidence[1:] < sorted_confidence[:-1], True)
    reachable = np.flatnonzero(cut & (running_accuracy >= target_accuracy))
    if len(reachable) == 0:
        return float(np.nextafter(max(1.0, float(confidence.max(initial=0.0))), np.inf))
    return float(sorted_confidence[reachable[-1]])


@dataclass(frozen=True)
class SelectiveResult:
    """Outcome of applying a confidence threshold: share referred to a human, accuracy on the
    cases the model decided, and the share it decided (coverage)."""

    threshold: float
    abstention_rate: float
    coverage: float
    selective_accuracy: float


def apply_threshold(
    confidence: np.ndarray, correct: np.ndarray, *, threshold: float
) -> SelectiveResult:
    """Return abstention rate, coverage and selective accuracy for ``confidence >= threshold``.

    Selective accuracy is NaN when every case is referred (nothing was decided).
    """
    accepted = np.asarray(confidence) >= threshold
    correct = np.asarray(correct, dtype=np.float64)
    return SelectiveResult(
        threshold=float(threshold),
        abstention_rate=float(1.0 - accepted.mean()),
        coverage=float(accepted.mean()),
        selective_accuracy=float(correct[accepted].mean()) if accepted.any() else float("nan"),
    )


@dataclass(frozen=True)
class RiskCoverage:
    """The risk-coverage curve (coverage ``k/n``, error rate of the ``k`` most confident) and
    the area under it."""

    coverage: np.ndarray
    risk: np.ndarray
    aurc: float


def risk_coverage_curve(confidence: np.ndarray, correct: np.ndarray) -> RiskCoverage:
    """Return the risk-coverage curve and AURC = the mean selective risk over ``k = 1..n``
    (Geifman et al. 2019, "Bias-Reduced Uncertainty Estimation for Deep Neural Classifiers").
    Lower AURC means confidence ranks errors last."""
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    errors = 1.0 - np.asarray(correct, dtype=np.float64)[order]
    k = np.arange(1, len(order) + 1)
    risk = np.cumsum(errors) / k
    return RiskCoverage(coverage=k / len(order), risk=risk, aurc=float(risk.mean()))

"""Calibration of predicted probabilities: ECE, MCE, Brier score, reliability diagram data,
and temperature scaling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


@dataclass(frozen=True)
class ReliabilityBins:
    """Equal-width confidence bins: edges, and per bin the count, mean confidence and accuracy.

    Empty bins have ``count`` 0 and NaN confidence and accuracy.
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, *, n_bins: int
) -> ReliabilityBins:
    """Return the reliability-diagram data of top-1 confidence against top-1 accuracy.

    Bin ``m`` holds the samples whose confidence lies in ``((m-1)/M, m/M]`` (Guo et al. 2017,
    "On Calibration of Modern Neural Networks", section 2); a confidence of 0 goes to bin 1.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, weights=confidence, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(edges=edges, count=count, confidence=mean_confidence, accuracy=accuracy)


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, *, n_bins: int
) -> float:
    """Return the ECE: ``sum_m |B_m|/n * |acc(B_m) - conf(B_m)|`` over equal-width bins
    (Guo et al. 2017, eq. 3; torchmetrics' ``MulticlassCalibrationError(norm="l1")``)."""
    bins = reliability_bins(probabilities, labels, n_bins=n_bins)
    filled = bins.count > 0
    gaps = np.abs(bins.accuracy[filled] - bins.confidence[filled])
    return float(np.sum(bins.count[filled] / bins.count.sum() * gaps))


def maximum_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, *, n_bins: int
) -> float:
    """Return the MCE: the largest ``|acc(B_m) - conf(B_m)|`` over non-empty bins
    (Guo et al. 2017, eq. 5)."""
    bins = reliability_bins(probabilities, labels, n_bins=n_bins)
    filled = bins.count > 0
    return float(np.max(np.abs(bins.accuracy[filled] - bins.confidence[filled])))


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Return the multi-class Brier score: the mean over samples of
    ``sum_k (p_k - 1[y = k])^2`` (Brier 1950), in [0, 2]; lower is better."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    one_hot = np.eye(probabilities.shape[1])[np.asarray(labels)]
    return float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, *, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """Return the temperature ``T`` that minimises the negative log-likelihood of
    ``softmax(logits / T)`` on held-out data (temperature scaling, Guo et al. 2017, sec. 4.2).

    One scalar is searched in ``log T`` within ``bounds`` (scipy's bounded Brent method);
    dividing by ``T`` keeps every prediction and only changes the confidence.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)

    def nll(log_t: float) -> float:
        log_p = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-np.mean(log_p[np.arange(len(labels)), labels]))

    result = minimize_scalar(nll, bounds=tuple(np.log(bounds)), method="bounded")
    return float(np.exp(result.x))


def scale_logits(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Return ``softmax(logits / temperature)``: temperature-scaled class probabilities."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)

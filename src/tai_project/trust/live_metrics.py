"""Trust metrics of a production batch: with labels, accuracy, worst-group accuracy and ECE;
always, the abstention (referral) rate and the confidence distribution. Each rate carries
an interval, so a decision rule can ask for evidence rather than a point estimate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest


@dataclass(frozen=True)
class Estimate:
    """A measured value with a two-sided confidence interval ``[low, high]``."""

    value: float
    low: float
    high: float
    n: int


def proportion_estimate(successes: int, n: int, *, confidence_level: float) -> Estimate:
    """Return ``successes / n`` with its exact Clopper-Pearson interval
    (``scipy.stats.binomtest(...).proportion_ci(method="exact")``)."""
    interval = binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=confidence_level, method="exact"
    )
    return Estimate(value=successes / n, low=float(interval.low), high=float(interval.high), n=n)


def top_label_ece(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int) -> float:
    """Return the ECE ``sum_m |B_m|/n * |acc(B_m) - conf(B_m)|`` from the top-1 confidence and
    correctness alone, with the bins of ``trust.calibration.reliability_bins`` (Guo et al.
    2017, eq. 3): the deployed model returns confidences, not the full probability vector."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    gap = np.abs(np.bincount(index, weights=correct - confidence, minlength=n_bins))
    return float(gap.sum() / count.sum())


def ece_estimate(
    confidence: np.ndarray, correct: np.ndarray, *, n_bins: int, confidence_level: float,
    n_boot: int, seed: int,
) -> Estimate:
    """Return ``top_label_ece`` with a percentile bootstrap interval (``n_boot`` resamples of
    the cases, seeded)."""
    confidence, correct = np.asarray(confidence), np.asarray(correct)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(confidence), size=(n_boot, len(confidence)))
    boot = [top_label_ece(confidence[d], correct[d], n_bins=n_bins) for d in draws]
    tail = (1 - confidence_level) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail])
    return Estimate(value=top_label_ece(confidence, correct, n_bins=n_bins), low=float(low),
                    high=float(high), n=len(confidence))


@dataclass(frozen=True)
class LiveMetrics:
    """Trust metrics of one batch; the labelled ones are ``None`` without labels."""

    n_images: int
    abstention_rate: Estimate
    confidence_quantiles: dict[str, float]
    accuracy: Estimate | None = None
    group_accuracy: dict[str, Estimate] | None = None
    worst_group: str | None = None
    ece: Estimate | None = None

    @property
    def worst_group_accuracy(self) -> Estimate | None:
        return None if self.worst_group is None else self.group_accuracy[self.worst_group]


def live_metrics(  # noqa: PLR0913 - optional labels and groups, and the interval knobs
    *,
    confidence: np.ndarray,
    referred: np.ndarray,
    correct: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    n_bins: int,
    confidence_level: float,
    n_boot: int,
    seed: int,
) -> LiveMetrics:
    """Return the batch's live trust metrics. ``correct`` (prediction == label) switches on
    accuracy, ECE and, with ``groups``, per-group accuracy and the worst group (lowest
    accuracy, as fairlearn's ``MetricFrame.group_min``)."""
    confidence, referred = np.asarray(confidence, float), np.asarray(referred, bool)
    n = len(confidence)
    quantiles = np.quantile(confidence, [0.1, 0.25, 0.5, 0.75, 0.9])
    base = {
        "n_images": n,
        "abstention_rate": proportion_estimate(int(referred.sum()), n,
                                               confidence_level=confidence_level),
        "confidence_quantiles": {f"q{int(q * 100):02d}": float(v)
                                 for q, v in zip([0.1, 0.25, 0.5, 0.75, 0.9], quantiles)},
    }
    if correct is None:
        return LiveMetrics(**base)
    correct = np.asarray(correct, bool)
    group_accuracy, worst = None, None
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        group_accuracy = {
            g: proportion_estimate(int(correct[groups == g].sum()), int(np.sum(groups == g)),
                                   confidence_level=confidence_level)
            for g in np.unique(groups)
        }
        worst = min(group_accuracy, key=lambda g: group_accuracy[g].value)
    return LiveMetrics(
        **base,
        accuracy=proportion_estimate(int(correct.sum()), n, confidence_level=confidence_level),
        group_accuracy=group_accuracy,
        worst_group=worst,
        ece=ece_estimate(confidence, correct, n_bins=n_bins, confidence_level=confidence_level,
                         n_boot=n_boot, seed=seed),
    )

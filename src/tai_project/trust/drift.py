"""Data drift between a reference set of images and a new batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import ks_2samp

IMAGE_STATISTICS = ("mean", "std", "min", "max", "p10", "p90")


def image_statistics(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-image summary statistics of an ``(n, height, width)`` pixel array.

    Keys are ``IMAGE_STATISTICS``; each value has one entry per image.
    """
    flat = np.asarray(pixels, dtype=np.float64).reshape(len(pixels), -1)
    p10, p90 = np.percentile(flat, [10, 90], axis=1)
    return {
        "mean": flat.mean(axis=1),
        "std": flat.std(axis=1),
        "min": flat.min(axis=1),
        "max": flat.max(axis=1),
        "p10": p10,
        "p90": p90,
    }


@dataclass(frozen=True)
class FeatureDrift:
    """Two-sample Kolmogorov-Smirnov test of one image statistic."""

    feature: str
    ks_statistic: float
    p_value: float
    drifted: bool


def ks_feature_drift(
    reference: dict[str, np.ndarray], batch: dict[str, np.ndarray], *, alpha: float
) -> list[FeatureDrift]:
    """Return a KS test per feature; a feature drifts when its p-value < alpha / n_features.

    The Bonferroni correction keeps the family-wise false-alarm rate at most ``alpha``
    (scipy.stats.ks_2samp gives the two-sided exact or asymptotic p-value).
    """
    corrected_alpha = alpha / len(reference)
    results = []
    for feature, values in reference.items():
        test = ks_2samp(values, batch[feature])
        results.append(
            FeatureDrift(
                feature=feature,
                ks_statistic=float(test.statistic),
                p_value=float(test.pvalue),
                drifted=bool(test.pvalue < corrected_alpha),
            )
        )
    return results

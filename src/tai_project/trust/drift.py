"""Data drift between a reference set of images and a new batch: per-image statistics
(KS), embeddings (kernel MMD with a permutation test) and predicted classes (chi-square)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp

IMAGE_STATISTICS = ("mean", "std", "min", "max", "p10", "p90")


def image_statistics(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Return per-image summary statistics of an ``(n, height, width)`` or channels-last
    ``(n, height, width, channels)`` pixel array.

    Keys are ``IMAGE_STATISTICS`` (over every value of the image); with more than one
    channel also ``mean_channel<c>`` and ``std_channel<c>`` per channel (a colour cast moves
    one channel's mean). Each value has one entry per image.
    """
    array = np.asarray(pixels, dtype=np.float64)
    flat = array.reshape(len(array), -1)
    p10, p90 = np.percentile(flat, [10, 90], axis=1)
    statistics = {
        "mean": flat.mean(axis=1),
        "std": flat.std(axis=1),
        "min": flat.min(axis=1),
        "max": flat.max(axis=1),
        "p10": p10,
        "p90": p90,
    }
    if array.ndim == 4 and array.shape[-1] > 1:  # noqa: PLR2004 - channels-last colour
        planes = array.reshape(len(array), -1, array.shape[-1])
        for channel in range(array.shape[-1]):
            statistics[f"mean_channel{channel}"] = planes[..., channel].mean(axis=1)
            statistics[f"std_channel{channel}"] = planes[..., channel].std(axis=1)
    return statistics


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


@dataclass(frozen=True)
class MmdDrift:
    """Kernel two-sample test (maximum mean discrepancy) with a permutation p-value."""

    mmd2: float
    p_value: float
    bandwidth: float
    n_permutations: int
    drifted: bool


def mmd_permutation_test(
    reference: np.ndarray,
    batch: np.ndarray,
    *,
    alpha: float,
    n_permutations: int,
    seed: int,
    bandwidth: float | None = None,
) -> MmdDrift:
    """Return the squared MMD (biased V-statistic) between two samples of vectors with a
    Gaussian kernel, and its permutation p-value ``(1 + #{perm >= observed}) / (1 + P)``.

    Gretton et al. 2012, "A Kernel Two-Sample Test" (JMLR 13), the test alibi-detect's
    ``MMDDrift`` and torchdrift's ``KernelMMDDriftDetector`` run. ``bandwidth`` ``None``: the
    median heuristic (median pairwise distance of the pooled sample). Drift: ``p < alpha``.
    """
    pooled = np.concatenate([np.asarray(reference, float), np.asarray(batch, float)])
    pooled = pooled.reshape(len(pooled), -1)
    squared = np.sum(pooled**2, axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * pooled @ pooled.T, 0.0)
    if bandwidth is None:
        upper = distances[np.triu_indices(len(pooled), k=1)]
        bandwidth = float(np.sqrt(np.median(upper))) or 1.0
    kernel = np.exp(-distances / (2 * bandwidth**2))
    n_ref = len(reference)
    rng = np.random.default_rng(seed)
    membership = np.zeros((len(pooled), n_permutations + 1), dtype=bool)
    membership[n_ref:, 0] = True  # column 0: the observed split, then the permutations
    for column in range(1, n_permutations + 1):
        membership[rng.permutation(len(pooled))[n_ref:], column] = True
    weights = np.where(membership, 1.0 / len(batch), -1.0 / n_ref)
    statistics = np.einsum("ip,ip->p", kernel @ weights, weights)
    observed = float(statistics[0])
    p_value = float((1 + np.sum(statistics[1:] >= observed)) / (1 + n_permutations))
    return MmdDrift(mmd2=observed, p_value=p_value, bandwidth=float(bandwidth),
                    n_permutations=n_permutations, drifted=p_value < alpha)


@dataclass(frozen=True)
class PredictionDrift:
    """Chi-square test of homogeneity of the predicted-class counts of two samples."""

    chi2: float
    p_value: float
    dof: int
    reference_share: dict[str, float]
    batch_share: dict[str, float]
    drifted: bool


def prediction_drift(
    reference_predictions: np.ndarray, batch_predictions: np.ndarray, *, alpha: float
) -> PredictionDrift:
    """Return the chi-square test of the 2 x K table of predicted-class counts (reference,
    batch), classes predicted by neither sample dropped (``scipy.stats.chi2_contingency``,
    Pearson's test of homogeneity). Drift: ``p < alpha``.
    """
    reference_predictions = np.asarray(reference_predictions).astype(str)
    batch_predictions = np.asarray(batch_predictions).astype(str)
    classes = np.union1d(reference_predictions, batch_predictions)
    table = np.array([[np.sum(sample == c) for c in classes]
                      for sample in (reference_predictions, batch_predictions)])
    if len(classes) < 2:  # noqa: PLR2004 - one class predicted by both: nothing to compare
        chi2, p_value, dof = 0.0, 1.0, 0
    else:
        test = chi2_contingency(table, correction=False)
        chi2, p_value, dof = float(test.statistic), float(test.pvalue), int(test.dof)
    return PredictionDrift(
        chi2=chi2, p_value=p_value, dof=dof,
        reference_share={c: float(n) for c, n in zip(classes, table[0] / table[0].sum())},
        batch_share={c: float(n) for c, n in zip(classes, table[1] / table[1].sum())},
        drifted=p_value < alpha,
    )


@dataclass(frozen=True)
class BatchDrift:
    """The three drift tests of one batch; the batch drifts when any test does."""

    features: list[FeatureDrift]
    embedding: MmdDrift
    predictions: PredictionDrift
    alpha: float
    test_alpha: float

    @property
    def drifted(self) -> bool:
        return self.drifted_tests != []

    @property
    def drifted_tests(self) -> list[str]:
        names = []
        if any(f.drifted for f in self.features):
            names.append("image_statistics")
        if self.embedding.drifted:
            names.append("embedding")
        if self.predictions.drifted:
            names.append("predictions")
        return names


def detect_batch_drift(  # noqa: PLR0913 - three samples per side, each test's knobs
    *,
    reference_pixels: np.ndarray,
    reference_embeddings: np.ndarray,
    reference_predictions: np.ndarray,
    batch_pixels: np.ndarray,
    batch_embeddings: np.ndarray,
    batch_predictions: np.ndarray,
    alpha: float,
    n_permutations: int,
    seed: int,
) -> BatchDrift:
    """Return the per-image-statistic KS tests, the embedding MMD test and the prediction
    chi-square test of a batch against the reference, each at ``alpha / 3`` (Bonferroni
    over the three tests; the KS tests split theirs again over the features), so the
    chance that an unshifted batch is flagged by any test is at most ``alpha``.
    """
    test_alpha = alpha / 3
    return BatchDrift(
        features=ks_feature_drift(image_statistics(reference_pixels),
                                  image_statistics(batch_pixels), alpha=test_alpha),
        embedding=mmd_permutation_test(reference_embeddings, batch_embeddings,
                                       alpha=test_alpha, n_permutations=n_permutations, seed=seed),
        predictions=prediction_drift(reference_predictions, batch_predictions, alpha=test_alpha),
        alpha=alpha,
        test_alpha=test_alpha,
    )

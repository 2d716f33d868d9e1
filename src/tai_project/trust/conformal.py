"""Split-conformal prediction sets for a classifier (LAC and APS scores)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["lac", "aps"]


def conformity_scores(
    probabilities: np.ndarray, *, method: Method, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Return the non-conformity score of every (sample, class), shape ``(n, n_classes)``.

    ``lac``: ``1 - p_k`` (least ambiguous set-valued classifier, Sadinle et al. 2019).
    ``aps``: the probability mass of the classes ranked above ``k`` plus ``u * p_k``, with
    one ``u ~ U(0, 1)`` per sample drawn from ``rng`` (adaptive prediction sets, Romano et
    al. 2020, eq. 5); without ``rng``, ``u = 1`` (deterministic, conservative: larger sets).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if method == "lac":
        return 1.0 - probabilities
    if method == "aps":
        order = np.argsort(-probabilities, axis=1, kind="stable")
        cumulative = np.cumsum(np.take_along_axis(probabilities, order, axis=1), axis=1)
        scores = np.empty_like(probabilities)
        np.put_along_axis(scores, order, cumulative, axis=1)
        if rng is not None:
            u = rng.random((len(probabilities), 1))
            scores = scores - (1.0 - u) * probabilities
        return scores
    raise ValueError(f"conformal method must be 'lac' or 'aps', got {method!r}")


def conformal_quantile(
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    alpha: float,
    method: Method,
    rng: np.random.Generator | None = None,
) -> float:
    """Return the split-conformal threshold: the ``ceil((n+1)(1-alpha))/n`` empirical quantile
    of the true-class scores on the calibration split (Angelopoulos & Bates 2021, sec. 1).

    With exchangeable data, sets ``{k: score_k <= threshold}`` then cover the true class with
    probability at least ``1 - alpha``. Returns ``inf`` (every class) when n is too small.
    """
    labels = np.asarray(labels)
    scores = conformity_scores(probabilities, method=method, rng=rng)
    scores = scores[np.arange(len(labels)), labels]
    n = len(scores)
    rank = int(np.ceil((n + 1) * (1 - alpha)))
    return float("inf") if rank > n else float(np.sort(scores)[rank - 1])


def prediction_sets(
    probabilities: np.ndarray,
    *,
    threshold: float,
    method: Method,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Return a boolean ``(n, n_classes)`` mask: class ``k`` is in the set of sample ``i``."""
    return conformity_scores(probabilities, method=method, rng=rng) <= threshold


@dataclass(frozen=True)
class ConformalResult:
    """Calibrated threshold, and the empirical coverage and mean set size on evaluation data."""

    method: str
    alpha: float
    threshold: float
    coverage: float
    mean_set_size: float


def evaluate_conformal(
    calibration: tuple[np.ndarray, np.ndarray],
    evaluation: tuple[np.ndarray, np.ndarray],
    *,
    alpha: float,
    method: Method,
    seed: int | None = None,
) -> ConformalResult:
    """Calibrate on ``calibration = (probabilities, labels)``; return the coverage (share of
    sets holding the true class) and mean set size on ``evaluation``. A ``seed`` makes APS
    randomised (its exact form); LAC ignores it."""
    rng = None if seed is None else np.random.default_rng(seed)
    threshold = conformal_quantile(*calibration, alpha=alpha, method=method, rng=rng)
    probabilities, labels = evaluation
    sets = prediction_sets(probabilities, threshold=threshold, method=method, rng=rng)
    covered = sets[np.arange(len(labels)), np.asarray(labels)]
    return ConformalResult(
        method=method,
        alpha=float(alpha),
        threshold=threshold,
        coverage=float(covered.mean()),
        mean_set_size=float(sets.sum(axis=1).mean()),
    )

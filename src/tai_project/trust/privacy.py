"""Membership-inference attacks: does the model give away who was in its training set?

Threshold attacks on one score per example; a higher score means "member":

- loss attack (Yeom et al. 2018, "Privacy Risk in Machine Learning"): score = minus the
  cross-entropy loss of the true label;
- confidence attack (Salem et al. 2019, "ML-Leaks"): score = the largest softmax probability.

An attack is judged over every threshold at once: ROC AUC, the membership advantage
max(TPR - FPR) (Yeom et al. 2018), and the TPR at a low FPR (1 %, 0.1 %), which Carlini
et al. 2022 ("Membership Inference Attacks From First Principles") recommend over AUC.
ROC and AUC are scikit-learn's ``roc_curve`` / ``roc_auc_score``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from tai_project.errors import ParameterError

_EPS = 1e-12


def loss_scores(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return minus the cross-entropy of the true class per example (Yeom et al. 2018)."""
    picked = np.asarray(probabilities)[np.arange(len(labels)), np.asarray(labels)]
    return np.log(np.clip(picked, _EPS, 1.0))


def confidence_scores(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:  # noqa: ARG001
    """Return the largest class probability per example (Salem et al. 2019)."""
    return np.asarray(probabilities).max(axis=1)


ATTACKS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "loss": loss_scores,
    "confidence": confidence_scores,
}


@dataclass(frozen=True)
class AttackResult:
    """One attack's figures and its ROC curve (``fpr``, ``tpr``: sklearn's ``roc_curve``)."""

    name: str
    auc: float
    advantage: float
    tpr_at_fpr: dict[float, float]
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)
    n_members: int
    n_nonmembers: int


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, level: float) -> float:
    """Return the highest TPR of any threshold whose FPR is at most ``level`` (Carlini et
    al. 2022, the ROC read at a fixed low FPR; no interpolation, so it never overstates)."""
    allowed = np.asarray(fpr) <= level + _EPS
    return float(np.asarray(tpr)[allowed].max()) if allowed.any() else 0.0


def evaluate_attack(
    member_scores: np.ndarray,
    nonmember_scores: np.ndarray,
    *,
    name: str,
    fpr_levels: Sequence[float] = (0.01, 0.001),
) -> AttackResult:
    """Return AUC, advantage max(TPR - FPR) and TPR at each of ``fpr_levels`` for an attack
    that calls an example a member when its score is above a threshold."""
    truth = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    scores = np.r_[np.asarray(member_scores, float), np.asarray(nonmember_scores, float)]
    fpr, tpr, _ = roc_curve(truth, scores)
    return AttackResult(
        name=name,
        auc=float(roc_auc_score(truth, scores)),
        advantage=float(np.max(tpr - fpr)),
        tpr_at_fpr={level: tpr_at_fpr(fpr, tpr, level) for level in fpr_levels},
        fpr=fpr,
        tpr=tpr,
        n_members=len(member_scores),
        n_nonmembers=len(nonmember_scores),
    )


@dataclass(frozen=True)
class MembershipSplit:
    """Row indices of the attack's members (into the training set) and non-members (into
    the held-out set): disjoint by construction, equal in size."""

    members: np.ndarray
    nonmembers: np.ndarray


def balanced_membership_split(
    n_train: int, n_holdout: int, *, seed: int, max_per_side: int | None = None
) -> MembershipSplit:
    """Return equal-size random subsets of the training rows and the held-out rows: the
    balanced member / non-member evaluation set of Carlini et al. 2022 (prior 0.5)."""
    size = min(n_train, n_holdout, max_per_side or n_train)
    rng = np.random.default_rng(seed)
    return MembershipSplit(
        members=np.sort(rng.choice(n_train, size=size, replace=False)),
        nonmembers=np.sort(rng.choice(n_holdout, size=size, replace=False)),
    )


def membership_inference(
    member_probabilities: np.ndarray,
    member_labels: np.ndarray,
    nonmember_probabilities: np.ndarray,
    nonmember_labels: np.ndarray,
    *,
    attacks: Sequence[str] = ("loss", "confidence"),
    fpr_levels: Sequence[float] = (0.01, 0.001),
) -> dict[str, AttackResult]:
    """Return each named threshold attack (``loss``, ``confidence``) evaluated on the
    model's softmax outputs for members and non-members."""
    unknown = sorted(set(attacks) - set(ATTACKS))
    if unknown:
        raise ParameterError(
            f"model_evaluation.membership_inference.attacks names unknown attack(s) {unknown}; "
            f"known attacks are {sorted(ATTACKS)}. Fix it in "
            "conf/base/parameters/model_evaluation.yml."
        )
    return {
        name: evaluate_attack(
            ATTACKS[name](member_probabilities, member_labels),
            ATTACKS[name](nonmember_probabilities, nonmember_labels),
            name=name,
            fpr_levels=fpr_levels,
        )
        for name in attacks
    }

"""Membership-inference attack figures, checked by hand and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from tai_project.errors import ParameterError
from tai_project.trust.privacy import (
    balanced_membership_split,
    confidence_scores,
    evaluate_attack,
    loss_scores,
    membership_inference,
    tpr_at_fpr,
)


def test_hand_computed_attack() -> None:
    # sorted: 3 (member), 2.5 (non), 2 (member), 1 (non)
    # AUC: member > non-member in 3 of 4 pairs; thresholds >=3 and >=2 give TPR-FPR = 0.5
    result = evaluate_attack(np.array([3.0, 2.0]), np.array([1.0, 2.5]), name="x")
    assert result.auc == pytest.approx(0.75)
    assert result.advantage == pytest.approx(0.5)
    assert result.tpr_at_fpr[0.01] == pytest.approx(0.5)
    assert (result.n_members, result.n_nonmembers) == (2, 2)


def test_auc_matches_sklearn_on_the_same_scores() -> None:
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(0.3, 1, 500), rng.normal(0, 1, 500)
    result = evaluate_attack(members, nonmembers, name="x")
    expected = roc_auc_score(np.r_[np.ones(500), np.zeros(500)], np.r_[members, nonmembers])
    assert result.auc == pytest.approx(expected, abs=1e-12)
    assert result.advantage == pytest.approx(np.max(result.tpr - result.fpr))


def test_tpr_at_fpr_never_interpolates_past_the_level() -> None:
    fpr, tpr = np.array([0.0, 0.005, 0.02, 1.0]), np.array([0.0, 0.2, 0.6, 1.0])
    assert tpr_at_fpr(fpr, tpr, 0.01) == 0.2
    assert tpr_at_fpr(fpr, tpr, 0.001) == 0.0
    assert tpr_at_fpr(fpr, tpr, 0.02) == 0.6


def test_scores_are_the_per_example_loss_and_the_top_probability() -> None:
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    labels = np.array([0, 1])
    for row, label, score in zip(probabilities, labels, loss_scores(probabilities, labels)):
        assert -score == pytest.approx(log_loss([label], [row], labels=[0, 1, 2]))
    np.testing.assert_allclose(confidence_scores(probabilities, labels), [0.7, 0.6])


def test_balanced_split_is_equal_in_size_and_inside_each_pool() -> None:
    split = balanced_membership_split(1078, 719, seed=3)
    assert len(split.members) == len(split.nonmembers) == 719
    assert len(set(split.members)) == 719 and split.members.max() < 1078
    assert len(set(split.nonmembers)) == 719 and split.nonmembers.max() < 719
    capped = balanced_membership_split(1078, 719, seed=3, max_per_side=100)
    assert len(capped.members) == len(capped.nonmembers) == 100


def test_unknown_attack_is_named() -> None:
    probabilities = np.full((2, 2), 0.5)
    with pytest.raises(ParameterError, match="shadow"):
        membership_inference(probabilities, [0, 1], probabilities, [0, 1], attacks=["shadow"])

"""The fairness gate catches a model that never saw site B; group reweighting helps a model
that saw too little of it. Runs the real nodes on the digits with a stronger site-B shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.model_selection import train_test_split

from tai_project.datasets.default_data import render_digits
from tai_project.pipelines.model_engineering.nodes import train_classifier
from tai_project.pipelines.model_evaluation.nodes import compute_fairness_metrics, predict_test_split
from tai_project.trust.requirements import check_requirements, parse_requirements
from tests.conftest import TINY_SCHEMA

SCHEMA = TINY_SCHEMA
TRAINING = {"device": "cpu", "network": {"channels": [16, 32], "groups": 4},
            "training": {"max_epochs": 15, "batch_size": 64, "learning_rate": 0.003,
                         "weight_decay": 0.0001, "early_stopping_patience": 4}}
FAIRNESS = {"sensitive_features": ["site"], "n_boot": 10, "confidence_level": 0.9}
REQUIREMENTS = yaml.safe_load(
    (Path(__file__).parents[2] / "conf/base/parameters/trust_requirements.yml").read_text()
)["trust_requirements"]


@pytest.fixture(scope="module")
def shifted_digits():
    """All 1,797 digits, a quarter from site B with contrast 0.4 and noise 20; a split
    stratified by class x site; the training rows of each site."""
    pixels, labels, sites = render_digits(seed=20240501, site_b_fraction=0.25, contrast=0.4,
                                          noise_std=20.0, max_images=None)
    strata = np.char.add(labels.astype(str), sites)
    train, test = train_test_split(np.arange(len(labels)), test_size=0.3, stratify=strata,
                                   random_state=0)
    train, validation = train_test_split(train, test_size=0.2, stratify=strata[train],
                                         random_state=0)
    return pixels, labels, sites, train, validation, test


def _evaluate(data, train_rows, mitigation):
    pixels, labels, sites, _, validation, test = data
    model_input = {"pixel_mean": np.array(pixels[train_rows].mean()),
                   "pixel_std": np.array(pixels[train_rows].std())}
    for split, rows in (("train", train_rows), ("validation", validation), ("test", test)):
        model_input |= {f"{split}_pixels": pixels[rows], f"{split}_labels": labels[rows],
                        f"{split}_groups": sites[rows]}
    network, _history, _budget = train_classifier(
        model_input, TRAINING | {"fairness_mitigation": mitigation}, SCHEMA, 0
    )
    predictions = predict_test_split(network, model_input, {"batch_size": 1024, "device": "cpu"})
    _, metrics = compute_fairness_metrics(predictions, model_input, FAIRNESS, SCHEMA, 0)
    return metrics


@pytest.mark.slow
def test_site_b_left_out_fails_the_gate_and_reweighting_helps_an_underrepresented_site(
    shifted_digits,
):
    _, _, sites, train, _, _ = shifted_digits
    site_a = train[sites[train] == "A"]
    left_out = _evaluate(shifted_digits, site_a, "none")
    gate = check_requirements(parse_requirements(REQUIREMENTS), left_out).to_dict()
    failed = {c["requirement"] for c in gate["checks"] if c["status"] == "fail"}
    assert "min_worst_group_accuracy" in failed
    assert left_out["accuracy_site_B"] < left_out["accuracy_site_A"]

    # site B under-represented (90 of ~1,000 training images): reweighting raises its accuracy
    few_b = np.random.default_rng(0).choice(train[sites[train] == "B"], 90, replace=False)
    rows = np.concatenate([site_a, few_b])
    plain, reweighted = _evaluate(shifted_digits, rows, "none"), _evaluate(
        shifted_digits, rows, "reweight_groups"
    )
    assert reweighted["worst_group_accuracy"] > plain["worst_group_accuracy"]
    assert plain["worst_group_accuracy"] > left_out["worst_group_accuracy"]

"""End to end: the default run trains with DP, attacks the model and gates on both."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from tai_project.errors import DataValidationError, TrustGateError
from tests.conftest import run_kedro


def _latest(project: Path, name: str) -> dict:
    versions = sorted((project / "data/08_reporting" / name).iterdir())
    return json.loads((versions[-1] / name).read_text())


@pytest.mark.slow
def test_default_run_is_private_and_gated_on_privacy(project: Path) -> None:
    run_kedro(project)
    budget = _latest(project, "privacy_budget.json")
    assert budget["enabled"] and budget["epsilon"] <= 8.0
    attack = _latest(project, "membership_attack.json")
    assert attack["n_members"] == attack["n_nonmembers"] > 150  # about 40 % of 400 held out
    assert set(attack["attacks"]) == {"loss", "confidence"}
    gate = {c["requirement"]: c for c in _latest(project, "gate_report.json")["checks"]}
    assert gate["max_epsilon"]["measured"] == pytest.approx(budget["epsilon"])
    assert gate["max_mia_auc"]["measured"] == max(a["auc"] for a in attack["attacks"].values())
    assert {gate[k]["status"] for k in ("max_epsilon", "max_mia_auc",
                                        "max_mia_tpr_at_1pct_fpr")} == {"pass"}
    assert len(list((project / "data/08_reporting/membership_roc.png").iterdir())) == 1


@pytest.mark.slow
def test_without_dp_epsilon_is_infinite_and_max_epsilon_fails(project: Path) -> None:
    params = {"model_engineering": {"training_setup": {"privacy": {"enabled": False}}}}
    with pytest.raises(TrustGateError, match="privacy.max_epsilon"):
        run_kedro(project, params=params)
    assert math.isinf(_latest(project, "privacy_budget.json")["epsilon"])


def test_a_forbidden_column_stops_the_run(project: Path) -> None:
    metadata_csv = project / "data/01_raw/metadata.csv"
    metadata = pd.read_csv(metadata_csv)
    metadata.assign(patient_name="Jane Doe").to_csv(metadata_csv, index=False)
    with pytest.raises(DataValidationError, match="patient_name"):
        run_kedro(project, pipeline_names=["data_understanding", "data_engineering"])
    assert not (project / "data/05_model_input/model_input.npz").exists()

"""Evidence bound to the model (issue 16, finding 1): the gate report carries the SHA-256 of
the network, model input and requirements it measured, and nothing else reaches the
registry or ``champion`` under its verdict, whatever the path."""

from __future__ import annotations

import json
import tempfile

import mlflow
import numpy as np
import pytest
from kedro.io import DatasetError

from tai_project import registry
from tai_project.datasets.model_registry import ModelRegistryDataset, ModelRelease
from tai_project.errors import EvidenceError, TrustGateError
from tai_project.evidence import decide_promotion, measure_evidence
from tai_project.integrity import network_sha256
from tai_project.models.network import SmallCNN, load_checkpoint, save_checkpoint
from tests.conftest import TINY_MODEL, run_kedro
from tests.test_registry import client, decisions, register, release, store  # noqa: F401

MEASURED = {"network_sha256": "a" * 64, "data_sha256": "b" * 64, "requirements_sha256": "c" * 64}
PASSED = {"passed": True, "checks": [], "evidence": MEASURED}


# --- the pure decision ---------------------------------------------------------------------

def test_decision_promotes_only_what_the_gate_measured():
    assert decide_promotion(PASSED, MEASURED, human_approval_required=False).action == "promote"
    waiting = decide_promotion(PASSED, MEASURED, human_approval_required=True)
    assert waiting.action == "await_approval"
    assert decide_promotion(PASSED, MEASURED, human_approval_required=True,
                            approved_by="Ada").action == "promote"
    failed = {**PASSED, "passed": False, "checks": [
        {"principle": "reliability", "requirement": "min_accuracy", "status": "fail"}]}
    assert decide_promotion(failed, MEASURED, human_approval_required=False).reasons == (
        "reliability.min_accuracy",)


@pytest.mark.parametrize("key", sorted(MEASURED))
def test_any_other_hash_is_refused_naming_it_and_the_rerun(key):
    found = {**MEASURED, key: "f" * 64}
    decision = decide_promotion(PASSED, found, human_approval_required=False)
    assert decision.action == "refuse"
    assert decision.reasons[0].startswith(f"{key}: the ")
    assert f"has SHA-256 {'f' * 64}, the gate report measured {MEASURED[key]}" in decision.reasons[0]
    assert "kedro run --pipeline model_evaluation" in decision.reasons[-1]
    # a failed gate with a foreign network is refused too, not registered as "rejected"
    assert decide_promotion({**PASSED, "passed": False}, found,
                            human_approval_required=False).action == "refuse"


def test_a_report_without_evidence_or_nothing_to_compare_is_refused():
    old = {"passed": True, "checks": []}
    refused = decide_promotion(old, MEASURED, human_approval_required=False)
    assert refused.action == "refuse" and "records no hash of the network" in refused.reasons[0]
    nothing = dict.fromkeys(MEASURED)
    assert decide_promotion(PASSED, nothing, human_approval_required=False).action == "refuse"


def test_measured_evidence_follows_the_weights_data_and_requirements():
    network = SmallCNN(num_classes=3, channels=(4,), groups=2)
    data = {"test_pixels": np.zeros((2, 8, 8), np.uint8), "test_ids": np.array(["a", "b"])}
    requirements = {"data": {"min_group_share": 0.1}, "reliability": dict.fromkeys(
        ["min_accuracy", "max_ece", "min_conformal_coverage", "min_mean_corruption_accuracy",
         "min_adversarial_accuracy"]), "fairness": dict.fromkeys(
        ["min_worst_group_accuracy", "max_accuracy_gap", "max_equalized_odds_difference"]),
        "privacy": dict.fromkeys(["max_epsilon", "max_mia_auc", "max_mia_tpr_at_1pct_fpr"]),
        "autonomy": dict.fromkeys(["max_abstention_rate", "min_selective_accuracy"]),
        "transparency": {"min_deletion_faithfulness_ratio": None}}
    first = measure_evidence(network, data, requirements)
    with tempfile.TemporaryDirectory() as tmp:   # the checkpoint round trip keeps the hash
        save_checkpoint(network, f"{tmp}/n.pt")
        assert network_sha256(load_checkpoint(f"{tmp}/n.pt")) == first["network_sha256"]
    with __import__("torch").no_grad():
        next(network.parameters())[0].flatten()[0] += 1e-6
    tighter = {**requirements, "data": {"min_group_share": 0.2}}
    changed = measure_evidence(network, {**data, "test_ids": np.array(["a", "c"])}, tighter)
    assert all(changed[key] != first[key] for key in first)


# --- every path to champion, with a network the gate did not measure -------------------------

def _foreign_release(**kwargs) -> ModelRelease:
    """A release whose gate report measured another network than the one it carries."""
    measured = release(**kwargs)
    other = SmallCNN(num_classes=3, channels=(4,), groups=2)   # new random weights
    return ModelRelease(**{**measured.__dict__, "network": other})


def _smuggle(client, data: ModelRelease, *, approval: str) -> str:  # noqa: F811
    """Register ``data`` as a signed version while skipping the save-time check (what code
    calling the registry's parts directly could do); return its version."""
    dataset = ModelRegistryDataset(registered_model_name=NAME(), pip_requirements=["torch"])
    with mlflow.start_run():
        info = dataset._log_model(data)   # noqa: SLF001 - the attacker reuses the parts
        files = dataset._manifest(info)   # noqa: SLF001
        champion = registry.alias_version(client, NAME(), "champion") or "none"
        tags = {"trust_gate": "passed", "approval": approval, "compared_with_champion": champion,
                registry.STATE_TAG: "complete"}
        version = str(mlflow.register_model(info.model_uri, NAME(), tags=tags).version)
    registry.sign_version(client, NAME(), version, files,
                          evidence=data.gate_report["evidence"], actor="insider")
    return version


def NAME() -> str:  # noqa: N802 - test_registry's per-test model name, read when called
    from tests import test_registry  # noqa: PLC0415

    return test_registry.NAME


def test_every_path_refuses_a_network_the_gate_did_not_measure(client):  # noqa: F811
    register(release())
    # deployment (kedro run, retrain): refused before registering (Kedro wraps it on save)
    with pytest.raises(DatasetError, match="network_sha256: the network here has SHA-256"):
        register(_foreign_release(accuracy=0.99))
    assert [str(v.version) for v in client.search_model_versions(f"name='{NAME()}'")] == ["1"]

    pending = _smuggle(client, _foreign_release(approval=True), approval="pending")
    with pytest.raises(EvidenceError, match="not what its trust gate measured"):
        registry.approve(client, NAME(), pending, approver="Ada", reason="looks fine")
    with pytest.raises(EvidenceError, match="network_sha256"):
        registry.rollback(client, NAME(), pending, actor="Bo", reason="back")
    with pytest.raises(EvidenceError, match="kedro run --pipeline model_evaluation"):
        registry.promote(client, NAME(), pending, event="promoted", actor="x", reason="y")
    assert registry.alias_version(client, NAME(), "champion") == "1"
    assert [e["event"] for e in decisions(client, NAME())] == ["promoted"]
    assert registry.verify(client, NAME()) == []   # nothing moved, nothing left open


def test_approval_under_changed_requirements_is_refused(client):  # noqa: F811
    import yaml  # noqa: PLC0415

    from tests.conftest import PROJECT_ROOT  # noqa: PLC0415

    shipped = yaml.safe_load((PROJECT_ROOT / "conf/base/parameters/trust_requirements.yml")
                             .read_text())["trust_requirements"]
    register(release(approval=True))
    tighter = {**shipped, "reliability": {**shipped["reliability"], "min_accuracy": 0.99}}
    with pytest.raises(EvidenceError, match="requirements_sha256: the trust requirements here"):
        registry.approve(client, NAME(), "1", approver="Ada", reason="ok", requirements=tighter)
    assert registry.alias_version(client, NAME(), "champion") is None
    registry.approve(client, NAME(), "1", approver="Ada", reason="ok", requirements=shipped)
    assert registry.alias_version(client, NAME(), "champion") == "1"


# --- finding 1 end to end: a stage run alone cannot promote an unevaluated network ----------

BAD_TRAINING = {"model_engineering": {"training_setup": {
    "training": {"max_epochs": 1, "learning_rate": 1e-7},
    "privacy": {"epochs": 1, "learning_rate": 1e-7}}}}


@pytest.mark.slow
def test_a_network_trained_after_the_gate_is_not_deployed(project):
    run_kedro(project)
    uri = f"sqlite:///{project}/mlflow.db"
    registry_client = mlflow.MlflowClient(uri, uri)
    assert registry.alias_version(registry_client, TINY_MODEL, "champion") == "1"

    run_kedro(project, params=BAD_TRAINING, pipeline_names=["model_engineering"])
    with pytest.raises(EvidenceError) as error:
        run_kedro(project, pipeline_names=["deployment"])
    message = str(error.value)
    assert "network_sha256: the network here has SHA-256" in message
    assert "kedro run --pipeline model_evaluation" in message and "'champion' is unchanged" in message
    assert registry.alias_version(registry_client, TINY_MODEL, "champion") == "1"
    assert len(registry_client.search_model_versions(f"name='{TINY_MODEL}'")) == 1

    # the documented way: evaluate the new network, then deploy: the gate now decides
    run_kedro(project, pipeline_names=["model_evaluation"])
    with pytest.raises(TrustGateError, match="min_accuracy"):
        run_kedro(project, pipeline_names=["deployment"])
    assert registry.alias_version(registry_client, TINY_MODEL, "champion") == "1"
    rejected = registry_client.get_model_version(TINY_MODEL, "2").tags
    assert rejected["trust_gate"] == "failed"
    report = json.loads(sorted((project / "data/08_reporting/gate_report.json").glob(
        "*/gate_report.json"))[-1].read_text())
    assert set(report["evidence"]) == {"network_sha256", "data_sha256", "requirements_sha256"}


def test_champion_moves_in_one_place_only():
    """``registry.promote`` (after ``check_promotion``) is the only code that moves an alias
    other than ``challenger``: every path to champion goes through it."""
    import ast  # noqa: PLC0415

    from tests.conftest import PROJECT_ROOT  # noqa: PLC0415

    moves = []
    for path in sorted((PROJECT_ROOT / "src").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in [n for n in ast.walk(function) if isinstance(n, ast.Call)]:
                if getattr(call.func, "attr", None) == "set_registered_model_alias":
                    alias = ast.unparse(call.args[1])
                    if "challenger" not in alias.lower():
                        moves.append((path.name, function.name, alias))
    assert moves == [("registry.py", "promote", "CHAMPION")]
    source = ast.unparse(next(n for n in ast.walk(ast.parse(
        (PROJECT_ROOT / "src/tai_project/registry.py").read_text()))
        if isinstance(n, ast.FunctionDef) and n.name == "promote"))
    assert source.index("check_promotion(") < source.index("set_registered_model_alias(")

"""The registry on a real MLflow SQLite store in tmp_path: promotion only through the gate,
human approval, rollback, audit log, SHA-256 verification and a real kill mid-registration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from kedro.io import DatasetError

from tai_project import registry
from tai_project.datasets.model_registry import (
    ChampionMetricsDataset,
    ModelRegistryDataset,
    ModelRelease,
    VerifiedModelDataset,
)
from tai_project.errors import IntegrityError, RegistryError
from tai_project.integrity import network_sha256
from tai_project.models.network import SmallCNN
from tests.conftest import PROJECT_ROOT, TINY_MODEL, write_test_configuration

NAME = "tiny"
SHIPPED = registry.requirements_sha256(yaml.safe_load(
    (PROJECT_ROOT / "conf/base/parameters/trust_requirements.yml").read_text())["trust_requirements"])
"""The hash of the shipped requirements, which ``make approve`` compares with the report's."""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One SQLite store for the module (creating its schema takes seconds); each test
    registers under its own model name."""
    return tmp_path_factory.mktemp("registry")


@pytest.fixture
def client(store, monkeypatch, request):
    monkeypatch.chdir(store)
    monkeypatch.setattr(sys.modules[__name__], "NAME", request.node.name[:60])
    uri = f"sqlite:///{store / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment("registry")   # not an experiment id left over from an earlier test
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def release(*, passed: bool = True, approval: bool = False, accuracy: float = 0.9,
            champion: str | None = None) -> ModelRelease:
    """A tiny untrained model as the deployment stage would hand it to the registry."""
    torch_seed = 0
    import torch  # noqa: PLC0415

    torch.manual_seed(torch_seed)
    checks = [{"principle": "reliability", "requirement": "min_accuracy", "metric": "accuracy",
               "measured": accuracy, "threshold": 0.5, "status": "pass" if passed else "fail"}]
    network = SmallCNN(num_classes=3, channels=(4,), groups=2)
    seen = {"data_sha256": "d" * 64, "requirements_sha256": SHIPPED}   # what deployment saw
    evidence = {"network_sha256": network_sha256(network), **seen}     # what the gate measured
    return ModelRelease(
        network=network,
        labels=[0, 1, 2],
        input_example=np.zeros((2, 8, 8), np.float32),
        gate_passed=passed,
        tags={"accuracy": f"{accuracy:.4f}"},
        gate_report={"passed": passed, "checks": checks, "measured": {"accuracy": accuracy},
                     "champion_version": champion, "evidence": evidence},
        failures=[] if passed else [f"reliability.min_accuracy: measured {accuracy}, required >= 0.5"],
        human_approval_required=approval,
        input_limits={"image_shape": [8, 8], "pixel_range": [0, 255], "max_batch_size": 16},
        evidence=seen,
    )


def decisions(client, name: str | None = None) -> list[dict]:
    """The audit events that decide something (not the ``registered`` manifests and the
    write-ahead ``promotion_intent`` rows)."""
    return [e for e in registry.audit_log(client, name or NAME)
            if e["event"] not in {"registered", "promotion_intent"}]


def register(data: ModelRelease, name: str | None = None) -> dict:
    dataset = ModelRegistryDataset(registered_model_name=name or NAME, pip_requirements=["torch"])
    with mlflow.start_run():
        dataset.save(data)
        return dataset.load()


def test_failed_gate_leaves_the_champion_and_records_the_reasons(client):
    register(release())
    state = register(release(passed=False, accuracy=0.3))
    assert (state["champion"], state["challenger"], state["trust_gate"]) == ("1", "2", "failed")
    tags = client.get_model_version(NAME, "2").tags
    assert tags["rejection_reasons"] == "reliability.min_accuracy: measured 0.3, required >= 0.5"
    assert tags[registry.STATE_TAG] == "complete" and tags["approval"] == "n/a"
    assert len(tags[registry.SHA_TAG]) == 64
    events = decisions(client)
    assert [(e["event"], e["version"]) for e in events] == [("promoted", "1"), ("rejected", "2")]
    assert events[1]["reason"].startswith("reliability.min_accuracy")
    # the champion's own metrics feed the next gate's non-regression check
    assert ChampionMetricsDataset(registered_model_name=NAME).load() == {
        "champion.version": 1, "champion.accuracy": 0.9}


def test_approval_flow_records_who_when_and_why(client):
    register(release())
    stale = register(release(approval=True, accuracy=0.95))   # compared with no champion
    state = register(release(approval=True, accuracy=0.95, champion="1"))
    assert (stale["approval"], state["champion"], state["approval"]) == ("pending", "1", "pending")
    with pytest.raises(RegistryError, match="against champion none, but the champion is now 1"):
        registry.approve(client, NAME, "2", approver="Ada", reason="ok")
    with pytest.raises(RegistryError, match="needs the approver's name and a reason"):
        registry.approve(client, NAME, "2", approver=" ", reason="ok")
    with pytest.raises(RegistryError, match="not waiting for approval"):
        registry.approve(client, NAME, "1", approver="Ada", reason="ok")
    event = registry.approve(client, NAME, "3", approver="Ada Reviewer", reason="card reviewed")
    assert registry.alias_version(client, NAME, "champion") == "3"
    tags = client.get_model_version(NAME, "3").tags
    assert (tags["approval"], tags["approved_by"], tags["approval_reason"]) == (
        "approved", "Ada Reviewer", "card reviewed")
    assert tags["approved_at"].startswith(time.strftime("%Y", time.gmtime()))
    assert (event["event"], event["actor"], event["previous_champion"]) == ("approved", "Ada Reviewer", "1")
    with pytest.raises(RegistryError, match="not waiting for approval"):
        registry.approve(client, NAME, "3", approver="Ada", reason="again")
    assert [e["event"] for e in decisions(client)] == [
        "promoted", "awaiting_approval", "awaiting_approval", "approved"]


def test_failed_version_cannot_be_approved_or_rolled_back_to(client):
    register(release())
    register(release(passed=False, approval=True))
    with pytest.raises(RegistryError, match="did not pass the trust gate"):
        registry.approve(client, NAME, "2", approver="Ada", reason="please")
    with pytest.raises(RegistryError, match="did not pass the trust gate"):
        registry.rollback(client, NAME, "2", actor="Ada", reason="please")
    with pytest.raises(RegistryError, match=r"has no version 9; it has \[1, 2\]"):
        registry.rollback(client, NAME, "9", actor="Ada", reason="typo")


def test_rollback_moves_champion_back_and_is_recorded(client):
    register(release())
    register(release(accuracy=0.95))
    assert registry.alias_version(client, NAME, "champion") == "2"
    event = registry.rollback(client, NAME, "1", actor="Bo", reason="complaints about v2")
    assert registry.alias_version(client, NAME, "champion") == "1"
    assert client.get_model_version(NAME, "1").tags["rolled_back_by"] == "Bo"
    assert (event["event"], event["previous_champion"], event["reason"]) == (
        "rollback", "2", "complaints about v2")
    assert [e["event"] for e in decisions(client)] == ["promoted", "promoted", "rollback"]
    with pytest.raises(RegistryError, match="already the champion"):
        registry.rollback(client, NAME, "1", actor="Bo", reason="again")


def _artifact(client: mlflow.MlflowClient, version: str, name: str) -> Path:
    source = client.get_model_version_download_uri(NAME, version)
    return Path(source.removeprefix("file://")) / "artifacts" / name


def test_tampered_artifact_is_refused_naming_the_file(client):
    register(release())
    model = VerifiedModelDataset(model_name=NAME).load()
    assert len(model.predict(np.zeros((1, 8, 8), np.float32))) == 1
    weights = _artifact(client, "1", "network.pt")
    weights.write_bytes(weights.read_bytes() + b"\x00")
    with pytest.raises(DatasetError, match=r"artifacts/network\.pt: SHA-256 [0-9a-f]{64} differs"):
        VerifiedModelDataset(model_name=NAME).load()
    with pytest.raises(IntegrityError, match=f"Refusing to load version 1 of model '{NAME}'"):
        registry.load_verified_model(NAME, client=client)
    register(release(accuracy=0.95))   # a rollback to the tampered version is refused too
    with pytest.raises(IntegrityError, match="network.pt"):
        registry.rollback(client, NAME, "1", actor="Bo", reason="back")


def test_registered_model_is_code_not_a_pickle_and_its_code_is_hashed(client):
    register(release())
    folder = _artifact(client, "1", "network.pt").parent.parent   # the model's root
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in (folder / "MLmodel").read_text()
    assert not [path.name for path in folder.rglob("*.pkl")]
    code = folder / "pyfunc_code.py"
    code.write_text(code.read_text() + "\nprint('injected')\n")
    with pytest.raises(IntegrityError, match=r"pyfunc_code\.py: SHA-256"):
        registry.load_verified_model(NAME, client=client)


_KILLED_CHILD = """
import sys, time, pathlib, mlflow
sys.path[:0] = [{src!r}, {root!r}]
from tests.test_registry import register, release
mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})
marker, original = pathlib.Path({marker!r}), mlflow.MlflowClient.set_registered_model_alias
def paused(self, name, alias, version):
    marker.write_text(str(version))   # registered, no alias moved yet: the kill lands here
    time.sleep(600)
mlflow.MlflowClient.set_registered_model_alias = paused
register(release(accuracy=0.97), {name!r})
"""


@pytest.mark.slow
def test_kill_between_register_and_alias_keeps_the_champion_and_a_rerun_completes(client, tmp_path):
    register(release())
    marker = tmp_path / "registered"
    code = _KILLED_CHILD.format(src=str(PROJECT_ROOT / "src"), root=str(PROJECT_ROOT),
                                uri=mlflow.get_tracking_uri(), marker=str(marker), name=NAME)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, start_new_session=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), f"the child never reached the alias step (exit {child.poll()})"
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL

    assert registry.alias_version(client, NAME, "champion") == "1"
    assert registry.alias_version(client, NAME, "challenger") == "1"
    assert client.get_model_version(NAME, "2").tags[registry.STATE_TAG] == "registered"

    state = register(release(accuracy=0.97))   # the rerun
    assert (state["champion"], state["challenger"], state["registered_version"]) == ("3", "3", "3")
    assert client.get_model_version(NAME, "2").tags[registry.STATE_TAG] == "interrupted"
    assert [(e["event"], e["version"]) for e in decisions(client)] == [
        ("promoted", "1"), ("interrupted", "2"), ("promoted", "3")]


def test_command_line_approves_and_lists_the_audit_log(client, store, capsys):
    import shutil  # noqa: PLC0415

    project = store / "cli"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", project / "conf" / "base")
    write_test_configuration(project)
    (project / "conf" / "local").mkdir()
    (project / "conf" / "local" / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: {mlflow.get_tracking_uri()}\n")
    os.chdir(project)
    name = TINY_MODEL   # the catalog's registered_model_name
    register(release(approval=True), name)
    assert registry.main(["approve", "--version", "1", "--approver", "Ada", "--reason", ""]) == 1
    assert "needs the approver's name and a reason" in capsys.readouterr().err
    assert registry.main(["approve", "--version", "1", "--approver", "Ada", "--reason", "ok"]) == 0
    capsys.readouterr()
    assert registry.main(["audit"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["event"], e["actor"]) for e in events][-3:] == [
        ("awaiting_approval", events[-3]["actor"]), ("promotion_intent", "Ada"), ("approved", "Ada")]
    assert registry.main(["verify"]) == 0
    assert json.loads(capsys.readouterr().out)["audit_events"] == len(events)

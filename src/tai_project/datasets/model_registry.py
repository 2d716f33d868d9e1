"""Kedro datasets on the MLflow Model Registry: register and promote, read the champion.

``ModelRegistryDataset``: saving a ``ModelRelease`` first decides
(``tai_project.evidence.decide_promotion``): a network, model input or requirements other
than the ones the gate report measured are refused before anything is registered. Then it
logs the inference model to the active MLflow run, registers it as a new version born with
its tags (verdict, failed requirements, key metrics, SHA-256, data version, git commit,
``promotion_state=registered``), signs its manifest into the audit log, points
``challenger`` at it and, only when the decision is ``promote``, moves ``champion`` through
``tai_project.registry.promote`` (which checks again, from the stored files). A process
killed on the way is reconciled by the next save (``registry.reconcile``). Loading returns
the registry state (the versions the aliases point to, the version this run registered).

``ChampionMetricsDataset``: the metrics the current champion was accepted with, named
``champion.<metric>``, for the gate's non-regression check (``{}`` without a champion).

``VerifiedModelDataset``: ``models:/<name>@<alias>`` as a pyfunc model, loaded only after
its signed manifest, files and inference code check out.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from kedro.io import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from tai_project import registry
from tai_project.errors import EvidenceError
from tai_project.evidence import Decision, decide_promotion
from tai_project.integrity import file_manifest, manifest_digest, network_sha256
from tai_project.models.inference import ImageClassifierModel
from tai_project.models.network import SmallCNN, save_checkpoint
from tai_project.trust.requirements import CHAMPION_PREFIX

MODEL_CODE = str(Path(__file__).resolve().parents[1] / "models" / "pyfunc_code.py")
"""The model-from-code file logged with every version (read as source, never imported here)."""


@dataclass(frozen=True)
class ModelRelease:
    """Everything the registry needs to record one evaluated model."""

    network: SmallCNN
    labels: list[Any]
    input_example: np.ndarray
    gate_passed: bool
    tags: dict[str, str] = field(default_factory=dict)
    # autonomy & control: below this confidence the model refers the case to a human
    confidence_threshold: float | None = None
    temperature: float = 1.0
    # the gate report the verdict rests on (stored inside the model, covered by its SHA-256)
    gate_report: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)   # one line per failed requirement
    human_approval_required: bool = False
    # what the serving model accepts (bad payloads are refused with a 4xx)
    input_limits: dict[str, Any] = field(default_factory=dict)
    # the SHA-256 of the model input and requirements deployment saw (data_sha256,
    # requirements_sha256), compared with the gate report's evidence before registering
    evidence: dict[str, str] = field(default_factory=dict)

    def decision(self) -> Decision:
        """Return what happens to this release (``decide_promotion``), hashing the network
        it carries now rather than trusting any recorded hash."""
        found = {**self.evidence, "network_sha256": network_sha256(self.network)}
        return decide_promotion(self.gate_report, found,
                                human_approval_required=self.human_approval_required)


class ModelRegistryDataset(AbstractDataset[ModelRelease, dict[str, Any]]):
    """The MLflow Model Registry entry of one model name, seen through its aliases."""

    def __init__(
        self,
        *,
        registered_model_name: str,
        challenger_alias: str = registry.CHALLENGER,
        champion_alias: str = registry.CHAMPION,
        pip_requirements: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = registered_model_name
        self._challenger = challenger_alias
        self._champion = champion_alias
        self._pip_requirements = pip_requirements
        self._registered: str | None = None
        self.metadata = metadata

    def save(self, data: ModelRelease) -> None:
        client = mlflow.MlflowClient()
        registry.reconcile(client, self._name)
        decision = data.decision()
        if decision.action == "refuse":
            raise EvidenceError(
                f"Refusing to register this model as '{self._name}': it is not what the trust "
                "gate measured:\n" + "\n".join(f"  - {reason}" for reason in decision.reasons)
                + f"\n'champion' is unchanged (version "
                f"{registry.alias_version(client, self._name, self._champion)}).")
        champion_before = registry.alias_version(client, self._name, self._champion)
        info = self._log_model(data)
        manifest = self._manifest(info)
        if not data.gate_passed:
            approval = "n/a"
        else:
            approval = "pending" if data.human_approval_required else "not_required"
        tags = {
            **data.tags,
            "trust_gate": "passed" if data.gate_passed else "failed",
            "rejection_reasons": "; ".join(data.failures)[:4900] or "none",
            "compared_with_champion": str(data.gate_report.get("champion_version") or "none"),
            "champion_at_registration": champion_before or "none",
            "approval": approval,
            registry.SHA_TAG: manifest_digest(manifest),
            registry.STATE_TAG: "registered",
            "registered_by": registry.current_actor(),
        }
        version = str(mlflow.register_model(info.model_uri, self._name, tags=tags).version)
        self._registered = version
        run = mlflow.active_run()
        actor = f"{registry.current_actor()} (run {run.info.run_id if run else 'none'})"
        registry.sign_version(client, self._name, version, manifest,
                              evidence=data.gate_report.get("evidence", {}), actor=actor)
        # from here on a kill leaves `champion` where it was (reconciled on the next save)
        client.set_registered_model_alias(self._name, self._challenger, version)
        self._decide(client, data, decision, version, actor)
        client.set_model_version_tag(self._name, version, registry.STATE_TAG, "complete")

    def _log_model(self, data: ModelRelease) -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            files = {"network": "network.pt", "labels": "labels.json", "policy": "policy.json",
                     "gate_report": "gate_report.json"}
            artifacts = {key: str(Path(tmp) / name) for key, name in files.items()}
            save_checkpoint(data.network, artifacts["network"])
            policy = {"temperature": data.temperature,
                      "confidence_threshold": data.confidence_threshold, **data.input_limits}
            for key, content in (("labels", data.labels), ("policy", policy),
                                 ("gate_report", data.gate_report)):
                Path(artifacts[key]).write_text(json.dumps(content, indent=1), encoding="utf-8")
            example = np.asarray(data.input_example, dtype=np.float32)
            probe = ImageClassifierModel()  # only to infer the output schema; not logged
            probe.load_context(_Context(artifacts))
            signature = infer_signature(example, probe.predict(None, example))
            return mlflow.pyfunc.log_model(
                name="model",
                python_model=MODEL_CODE,  # models from code: no pickled python_model.pkl
                artifacts=artifacts,
                signature=signature,
                input_example=example,
                pip_requirements=self._pip_requirements,
            )

    @staticmethod
    def _manifest(info: Any) -> dict[str, str]:
        location = mlflow.get_logged_model(info.model_id).artifact_location
        with tempfile.TemporaryDirectory() as tmp:
            return file_manifest(mlflow.artifacts.download_artifacts(location, dst_path=tmp))

    def _decide(self, client: mlflow.MlflowClient, data: ModelRelease, decision: Decision,
                version: str, actor: str) -> None:
        if decision.action == "reject":
            registry.record_event(client, self._name, event="rejected", version=version,
                                  actor=actor, reason="; ".join(data.failures or decision.reasons))
        elif decision.action == "await_approval":
            registry.record_event(
                client, self._name, event="awaiting_approval", version=version, actor=actor,
                reason="passed the trust gate; human_approval_required is true")
        else:
            registry.promote(client, self._name, version, event="promoted", actor=actor,
                             reason="passed every trust requirement and the non-regression check",
                             requirements_sha256=data.evidence.get("requirements_sha256"))

    def load(self) -> dict[str, Any]:
        client = mlflow.MlflowClient()
        state: dict[str, Any] = {"registered_model_name": self._name}
        for role, alias in (("challenger", self._challenger), ("champion", self._champion)):
            state[role] = registry.alias_version(client, self._name, alias)
        version = self._registered or state["challenger"]
        state["registered_version"] = version
        if version is not None:
            model_version = client.get_model_version(self._name, version)
            tags = model_version.tags
            state |= {"run_id": model_version.run_id, "source": model_version.source,
                      **{k: tags.get(k) for k in ("trust_gate", "approval", registry.SHA_TAG,
                                                  "compared_with_champion")}}
        return state

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name, "champion_alias": self._champion}


class ChampionMetricsDataset(AbstractDataset[None, dict[str, float]]):
    """Read-only: the measured metrics of the current champion (from the gate report stored
    inside its model), as ``champion.<metric>`` plus ``champion.version``."""

    def __init__(self, *, registered_model_name: str, alias: str = registry.CHAMPION,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name, self._alias, self.metadata = registered_model_name, alias, metadata

    def load(self) -> dict[str, float]:
        client = mlflow.MlflowClient()
        version = registry.alias_version(client, self._name, self._alias)
        if version is None:
            return {}
        source = client.get_model_version_download_uri(self._name, version)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = mlflow.artifacts.download_artifacts(
                    f"{source.rstrip('/')}/artifacts/gate_report.json", dst_path=tmp)
            except (MlflowException, OSError):
                return {f"{CHAMPION_PREFIX}version": int(version)}  # registered before gate reports
            report = json.loads(Path(path).read_text(encoding="utf-8"))
        measured = report.get("measured") or {
            check["metric"]: check["measured"] for check in report.get("checks", [])
            if check.get("measured") is not None and "vs champion" not in check["requirement"]
        }
        return {f"{CHAMPION_PREFIX}version": int(version),
                **{f"{CHAMPION_PREFIX}{k}": v for k, v in measured.items()}}

    def save(self, data: None) -> None:
        raise DatasetError("ChampionMetricsDataset is read-only: the registry changes only "
                           "through the deployment stage, approve and rollback.")

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name, "alias": self._alias}


class VerifiedModelDataset(AbstractDataset[None, Any]):
    """Read-only: ``models:/<model_name>@<alias>`` as a pyfunc model, loaded only after its
    files match the SHA-256 manifest recorded at registration (``IntegrityError`` otherwise)."""

    def __init__(self, *, model_name: str, alias: str = registry.CHAMPION,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name, self._alias, self.metadata = model_name, alias, metadata

    def load(self) -> Any:
        return registry.load_verified_model(self._name, self._alias)

    def save(self, data: None) -> None:
        raise DatasetError("VerifiedModelDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._name, "alias": self._alias}


@dataclass(frozen=True)
class _Context:
    artifacts: dict[str, str]

"""``ModelRegistryDataset``: register a model version in MLflow and move the aliases.

Saving a ``ModelRelease`` logs the inference model to the active MLflow run, registers it
as a new version, points alias ``challenger`` at it and, only when the trust gate passed,
points alias ``champion`` at it too. Loading returns the registry state (which version
each alias points to), which is cheap and needs no model download.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from kedro.io import AbstractDataset
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from tai_project.models.inference import ImageClassifierModel
from tai_project.models.network import SmallCNN, save_checkpoint


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


class ModelRegistryDataset(AbstractDataset[ModelRelease, dict[str, Any]]):
    """The MLflow Model Registry entry of one model name, seen through its aliases."""

    def __init__(
        self,
        *,
        registered_model_name: str,
        challenger_alias: str = "challenger",
        champion_alias: str = "champion",
        pip_requirements: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = registered_model_name
        self._challenger = challenger_alias
        self._champion = champion_alias
        self._pip_requirements = pip_requirements
        self.metadata = metadata

    def save(self, data: ModelRelease) -> None:
        client = mlflow.MlflowClient()
        with tempfile.TemporaryDirectory() as tmp:
            network_path, labels_path = Path(tmp) / "network.pt", Path(tmp) / "labels.json"
            save_checkpoint(data.network, str(network_path))
            labels_path.write_text(json.dumps(data.labels), encoding="utf-8")
            policy_path = Path(tmp) / "policy.json"
            policy_path.write_text(json.dumps(
                {"temperature": data.temperature, "confidence_threshold": data.confidence_threshold}
            ), encoding="utf-8")
            artifacts = {"network": str(network_path), "labels": str(labels_path),
                         "policy": str(policy_path)}
            example = np.asarray(data.input_example, dtype=np.float32)
            probe = ImageClassifierModel()  # only to infer the output schema; not logged
            probe.load_context(_Context(artifacts))
            signature = infer_signature(example, probe.predict(None, example))
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ImageClassifierModel(),
                artifacts=artifacts,
                signature=signature,
                registered_model_name=self._name,
                pip_requirements=self._pip_requirements,
            )
        version = str(info.registered_model_version)
        verdict = "passed" if data.gate_passed else "failed"
        for key, value in {**data.tags, "trust_gate": verdict}.items():
            client.set_model_version_tag(self._name, version, key, value)
        client.set_registered_model_alias(self._name, self._challenger, version)
        if data.gate_passed:
            client.set_registered_model_alias(self._name, self._champion, version)

    def load(self) -> dict[str, Any]:
        client = mlflow.MlflowClient()
        state: dict[str, Any] = {"registered_model_name": self._name}
        for role, alias in (("challenger", self._challenger), ("champion", self._champion)):
            try:
                state[role] = client.get_model_version_by_alias(self._name, alias).version
            except MlflowException:
                state[role] = None
        return state

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name, "champion_alias": self._champion}


@dataclass(frozen=True)
class _Context:
    artifacts: dict[str, str]

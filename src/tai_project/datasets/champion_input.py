"""What the current champion takes: the input schema recorded when it was registered."""

from __future__ import annotations

import json
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from tai_project import registry

INPUT_SCHEMA_TAG = "input_schema"
"""Model-version tag: JSON of ``data_description.input_schema`` (image size, mode, classes)."""


class ChampionInputSchemaDataset(AbstractDataset[None, dict[str, Any]]):
    """Read-only: ``{"version": <n>, "input_schema": {...} | None}`` of ``<name>@<alias>``
    (``None``: registered before the tag existed), ``{}`` without a champion."""

    def __init__(self, *, registered_model_name: str, alias: str = registry.CHAMPION,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name, self._alias, self.metadata = registered_model_name, alias, metadata

    def load(self) -> dict[str, Any]:
        client = mlflow.MlflowClient()
        version = registry.alias_version(client, self._name, self._alias)
        if version is None:
            return {}
        tag = client.get_model_version(self._name, version).tags.get(INPUT_SCHEMA_TAG)
        return {"version": version, "input_schema": json.loads(tag) if tag else None}

    def save(self, data: None) -> None:
        raise DatasetError("ChampionInputSchemaDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name, "alias": self._alias}

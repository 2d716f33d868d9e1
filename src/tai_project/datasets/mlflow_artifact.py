"""``VersionedMlflowArtifactDataset``: keep Kedro's version history *and* log to MLflow."""

from __future__ import annotations

from typing import Any

from kedro.io.core import Version
from kedro_mlflow.io.artifacts import MlflowArtifactDataset


class VersionedMlflowArtifactDataset(MlflowArtifactDataset):
    """kedro-mlflow's ``MlflowArtifactDataset`` that takes the catalog's save version.

    With kedro 1.7 and kedro-mlflow 2.0.3, wrapping a ``versioned: true`` dataset fails at
    save with ``VersionAlreadyExistsError``: the wrapper builds its inner dataset with a
    fresh timestamp instead of the catalog's save version. Declaring ``versioned = True``
    makes the catalog hand its ``Version(load, save)`` to this class, which passes it on.
    The inner dataset must say ``versioned: true`` too.
    """

    versioned = True

    def __new__(
        cls,
        dataset: str | dict,
        run_id: str | None = None,
        artifact_path: str | None = None,
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        version: Version | None = None,
    ):
        instance = super().__new__(
            cls,
            dataset=dataset,
            run_id=run_id,
            artifact_path=artifact_path,
            credentials=credentials,
            metadata=metadata,
        )
        if version is not None and hasattr(instance, "_version"):
            instance._version = version  # noqa: SLF001 - the one attribute the fix needs
        return instance

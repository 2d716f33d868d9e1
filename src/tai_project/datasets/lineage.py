"""Read-only Kedro datasets that describe a run for its model card: lineage and images."""

from __future__ import annotations

import base64
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from tai_project.data_version import data_version_tags, untracked_reason, untracked_tags

_PACKAGES = ("tai_project", "torch", "numpy", "pandas", "scikit-learn", "kedro", "kedro-datasets",
             "kedro-mlflow", "mlflow", "opacus", "captum", "fairlearn", "great-expectations",
             "dvc", "torchmetrics", "scipy")


class RunLineageDataset(AbstractDataset[None, dict[str, Any]]):
    """Load: where this run comes from: git commit and dirty flag, the DVC version of
    ``data_paths`` (the dataset description's images and metadata), MLflow run id, the OS
    user and the versions of the packages that shape the model."""

    def __init__(self, *, data_paths: list[str], project_path: str = ".",
                 packages: list[str] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._path, self._packages, self.metadata = Path(project_path), packages, metadata
        self._data_paths = list(data_paths)

    def load(self) -> dict[str, Any]:
        from tai_project.registry import current_actor  # noqa: PLC0415 - avoids an import cycle

        run = mlflow.active_run()
        # DataVersionHook tagged the run with the raw data version when it started: reuse it
        # (one DVC status per run, and the card says what the run recorded)
        recorded = {key: value for key, value in
                    (mlflow.get_run(run.info.run_id).data.tags.items() if run else ())
                    if key.startswith("data_")}
        return {
            **_git(self._path),
            **(recorded or (untracked_tags() if untracked_reason(self._path)
                            else data_version_tags(self._path, self._data_paths))),
            "mlflow_run_id": run.info.run_id if run else None,
            "user": current_actor(),
            "packages": {name: _version(name) for name in self._packages or _PACKAGES},
        }

    def save(self, data: None) -> None:
        raise DatasetError("RunLineageDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"project_path": str(self._path), "data_paths": self._data_paths}


def _git(path: Path) -> dict[str, str]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True,
                                  timeout=20, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": "unknown (not a git work tree)", "git_dirty": "unknown"}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": "unknown" if status is None else str(bool(status)).lower()}


def _version(name: str) -> str:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return "not installed"


class ReportImagesDataset(AbstractDataset[None, dict[str, dict[str, str]]]):
    """Load: every PNG plot under ``folder``, the newest version of each Kedro-versioned
    plot (``<name>.png/<version>/<name>.png``), as ``{stem: {"version", "base64"}}``: the
    images a model card embeds (data URIs, so the card opens offline). ``exclude`` names
    plots written after the card (a later stage's), which would be a previous run's."""

    def __init__(self, *, folder: str, exclude: list[str] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._folder, self._exclude, self.metadata = Path(folder), set(exclude or []), metadata

    def load(self) -> dict[str, dict[str, str]]:
        images = {}
        for plot in sorted(self._folder.glob("*.png")):
            if plot.stem in self._exclude:
                continue
            if plot.is_dir():
                versions = sorted(p for p in plot.glob(f"*/{plot.name}") if p.is_file())
                if not versions:
                    continue
                path, version = versions[-1], versions[-1].parent.name
            else:
                path, version = plot, "unversioned"
            images[plot.stem] = {"version": version,
                                 "base64": base64.b64encode(path.read_bytes()).decode("ascii")}
        return images

    def save(self, data: None) -> None:
        raise DatasetError("ReportImagesDataset is read-only.")

    def _describe(self) -> dict[str, Any]:
        return {"folder": str(self._folder)}

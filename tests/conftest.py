"""Shared fixtures: a tiny exported data set, a throw-away copy of the project, MLflow isolation."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest

from tai_project.datasets.default_data import export_digits

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TINY_IMAGES = 400

# Small, fast settings for end-to-end runs; the requirements are loose enough for a
# 400-image, few-epoch model to pass, so tests that need a failing gate tighten them.
FAST_PARAMS: dict[str, Any] = {
    "model_engineering": {"training_setup": {"training": {"max_epochs": 4}}},
    "trust_requirements": {
        "reliability": {"min_accuracy": 0.3},
        "fairness": {"min_worst_group_accuracy": 0.2, "max_accuracy_gap": 0.6},
    },
    # 400 images: about 10 per class in site B, 1-2 per class x site in the small splits
    "data_understanding": {"data_quality": {"min_images_per_class_and_group": 2}},
    "data_engineering": {
        "split_checks": {"max_class_share_deviation": 0.2, "max_group_share_deviation": 0.2}
    },
}

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _isolated_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MLFLOW_* variable leaks in, no run leaks out (as kedro-mlflow's own tests do)."""
    for name in [n for n in os.environ if n.startswith("MLFLOW_")]:
        monkeypatch.delenv(name)
    yield
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture(scope="session")
def tiny_raw_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-image export of the default data (read-only: copy it before changing it)."""
    out = tmp_path_factory.mktemp("tiny") / "01_raw"
    export_digits(out, max_images=TINY_IMAGES)
    return out


@pytest.fixture
def project(tmp_path: Path, tiny_raw_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of this project's configuration with the tiny data, as the working directory.

    The package itself is the installed one; MLflow's SQLite store lands in ``tmp_path``.
    """
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(PROJECT_ROOT / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    (root / "src").mkdir()  # kedro requires it; the package itself is the installed one
    shutil.copytree(tiny_raw_data, root / "data" / "01_raw")
    monkeypatch.chdir(root)
    return root


def run_kedro(project: Path, *, params: dict[str, Any] | None = None, **run_args: Any) -> dict:
    """Run the project in a real ``KedroSession`` with ``FAST_PARAMS`` deep-merged with ``params``."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    with KedroSession.create(
        project_path=project, runtime_params=_merge(FAST_PARAMS, params or {})
    ) as session:
        return session.run(**run_args)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged

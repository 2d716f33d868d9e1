"""Shared fixtures: a tiny exported data set, a throw-away copy of the project, MLflow isolation.

Tests own their configuration: the ``project`` fixture writes its own dataset description
(``TINY_DATASET``, the tiny digits export) and model-card text (``tests/fixtures``) over the
copied ``conf/base``, so a user who described their own data keeps a green suite."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tai_project.datasets.default_data import export_digits, export_production_batches

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_IMAGES = 400

# The dataset description of the tiny digits export (conf/base/globals.yml `dataset:` block
# of every test project): the tests' own, whatever the project's conf/base describes.
TINY_DATASET: dict[str, Any] = {
    "name": "tiny_digits",
    "images": "data/01_raw/images",
    "metadata": "data/01_raw/metadata.csv",
    "production": "data/01_production",
    "production_batch": "iid",
    "production_holdout": 0.0,
    "classes": list(range(10)),
    "image_height": 8,
    "image_width": 8,
    "image_mode": "L",
    "pixel_range": [0, 255],
    "group_columns": ["site"],
    "groups": {"site": ["A", "B"]},
}
TINY_MODEL = f"tai_{TINY_DATASET['name']}"   # the registered model name the catalog derives
# data_schema as parameters.yml derives it from TINY_DATASET (for node-level tests)
TINY_SCHEMA: dict[str, Any] = {
    key: TINY_DATASET[key] for key in (
        "classes", "group_columns", "groups", "image_height", "image_width", "image_mode",
        "pixel_range", "images", "metadata", "production")
}

# Small, fast settings for end-to-end runs; the requirements are loose enough for a
# 400-image, few-epoch model to pass, so tests that need a failing gate tighten them.
FAST_PARAMS: dict[str, Any] = {
    "model_engineering": {
        "training_setup": {
            "training": {"max_epochs": 4},
            "privacy": {"epochs": 4, "batch_size": 32, "learning_rate": 0.01},
        }
    },
    "model_evaluation": {"fairness": {"n_boot": 20}, "transparency": {"n_test_images": 30}},
    "trust_requirements": {
        "reliability": {"min_accuracy": 0.3},
        "fairness": {"min_worst_group_accuracy": 0.2, "max_accuracy_gap": 0.6,
                     "max_equalized_odds_difference": 1.0},
        "privacy": {"max_epsilon": 8.0, "max_mia_auc": 0.9, "max_mia_tpr_at_1pct_fpr": 0.5},
        "transparency": {"min_deletion_faithfulness_ratio": 0.5},
    },
    # 400 images: about 10 per class in site B, 1-2 per class x site in the small splits
    "data_understanding": {"data_quality": {"min_images_per_class_and_group": 2}},
    "data_engineering": {
        "split_checks": {"max_class_share_deviation": 0.2, "max_group_share_deviation": 0.2}
    },
}
# reliability and autonomy & control (issue 5): loose enough for the tiny model
FAST_PARAMS.setdefault("model_evaluation", {})["selective"] = {"target_accuracy": 0.9}
FAST_PARAMS["trust_requirements"]["reliability"].update(
    max_ece=0.3, min_conformal_coverage=0.5, min_mean_corruption_accuracy=0.2,
    min_adversarial_accuracy=0.0,
)
FAST_PARAMS["trust_requirements"].setdefault("autonomy", {}).update({
    "max_abstention_rate": 1.0, "min_selective_accuracy": 0.0,
})

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


@pytest.fixture(scope="session")
def tiny_production_batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default production batches (monitoring), 200 images each (read-only)."""
    out = tmp_path_factory.mktemp("tiny") / "01_production"
    export_production_batches(out)
    return out


@pytest.fixture
def project(
    tmp_path: Path, tiny_raw_data: Path, tiny_production_batches: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A copy of this project's configuration with the tiny data and the tests' own dataset
    description and model-card text, as the working directory.

    The package itself is the installed one; MLflow's SQLite store lands in ``tmp_path``.
    """
    root = build_test_project(tmp_path / "project", PROJECT_ROOT, tiny_raw_data,
                              tiny_production_batches)
    monkeypatch.chdir(root)
    return root


def build_test_project(root: Path, source: Path, raw_data: Path, production_batches: Path) -> Path:
    """Return ``root``: the configuration of the project at ``source`` with the tiny data in
    data/01_raw and data/01_production and the tests' own description (``TINY_DATASET``)
    and model-card text, whatever ``source``'s conf/base describes."""
    root.mkdir()
    shutil.copytree(source / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir()
    # An absolute store URI: MLflow caches one SQLAlchemy store per URI string, so the
    # relative default (sqlite:///mlflow.db) would reach the first test's file in later tests.
    server = (source / "conf" / "base" / "mlflow.yml").read_text().split("tracking:")[0]
    (root / "conf" / "local" / "mlflow.yml").write_text(
        server.replace("sqlite:///mlflow.db", f"sqlite:///{root}/mlflow.db")
    )
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(source / name, root / name)
    (root / "src").mkdir()  # kedro requires it; the package itself is the installed one
    shutil.copytree(raw_data, root / "data" / "01_raw")
    shutil.copytree(production_batches, root / "data" / "01_production")
    write_test_configuration(root)
    return root


def write_test_configuration(root: Path, dataset: dict[str, Any] | None = None) -> None:
    """Write the tests' own dataset description (``dataset``, default ``TINY_DATASET``) and
    model-card text into ``root/conf/base``, replacing whatever the project ships there."""
    conf = root / "conf" / "base"
    (conf / "globals.yml").write_text(yaml.safe_dump({"dataset": dataset or TINY_DATASET}))
    shutil.copy(FIXTURES / "model_card.yml", conf / "model_card.yml")


def project_parameters(root: Path) -> dict[str, Any]:
    """Return the parameters of the project at ``root`` as ``kedro run`` resolves them
    (``conf/base`` with ``conf/local``, globals interpolated)."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415

    return OmegaConfigLoader(str(root / "conf"), base_env="base", default_run_env="local")[
        "parameters"]


def shipped_requirements(**overrides: float | None) -> dict[str, Any]:
    """The shipped ``trust_requirements`` with every requirement switched off (``null``)
    except ``overrides`` (``"section.key": threshold``); new sections need no test changes."""
    path = PROJECT_ROOT / "conf" / "base" / "parameters" / "trust_requirements.yml"
    shipped = yaml.safe_load(path.read_text())["trust_requirements"]
    requirements = {section: dict.fromkeys(keys) for section, keys in shipped.items()}
    for dotted, threshold in overrides.items():
        section, key = dotted.split(".")
        assert key in requirements[section], f"{dotted} is not a shipped requirement"
        requirements[section][key] = threshold
    return requirements


def run_kedro(project: Path, *, params: dict[str, Any] | None = None, **run_args: Any) -> dict:
    """Run the project in a real ``KedroSession`` with ``FAST_PARAMS`` deep-merged with ``params``."""
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

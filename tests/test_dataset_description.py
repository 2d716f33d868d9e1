"""One dataset description drives every stage (issue 15), and the tests own theirs.

A second, unlike dataset built here (12x12 grayscale, word labels, a ``scanner`` group with
three values, its own folders) runs by configuration only; the tests' configuration stays
the tests' when a user replaces the project's dataset description and model-card text.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.config import OmegaConfigLoader
from PIL import Image

from tai_project.data_description import input_schema
from tai_project.datasets.champion_input import INPUT_SCHEMA_TAG, ChampionInputSchemaDataset
from tai_project.datasets.model_registry import ChampionMetricsDataset
from tai_project.datasets.npz import NpzDataset
from tai_project.errors import DataValidationError
from tai_project.pipelines.model_evaluation.nodes import (
    NOT_COMPARED,
    check_trust_gate,
    select_comparable_champion,
)
from tai_project.pipelines.monitoring.nodes import load_production_batch, score_batch
from tests.conftest import (
    FIXTURES,
    PROJECT_ROOT,
    TINY_SCHEMA,
    build_test_project,
    project_parameters,
    run_kedro,
    shipped_requirements,
    write_test_configuration,
)

SCANS = {
    "name": "scans",
    "images": "data/scans/images",
    "metadata": "data/scans/metadata.csv",
    "production": "data/scans_production",
    "production_batch": "holdout",
    "production_holdout": 0.1,
    "classes": ["cat", "dog", "owl"],
    "image_height": 12,
    "image_width": 12,
    "image_mode": "L",
    "pixel_range": [0, 255],
    "group_columns": ["scanner"],
    "groups": {"scanner": ["x", "y", "z"]},
}
SCANS_SCHEMA = {key: SCANS[key] for key in TINY_SCHEMA}


def write_scans(folder: Path, per_stratum: int = 20, seed: int = 0) -> None:
    """A tiny unlike dataset: each class a bright bar at its own rows, scanner ``z`` at lower
    contrast; metadata.csv has an ``operator`` column the pipeline must drop."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, label in enumerate(SCANS["classes"]):
        for scanner in SCANS["groups"]["scanner"]:
            for number in range(per_stratum):
                pixels = rng.normal(40, 10, (12, 12))
                pixels[4 * index:4 * index + 3, :] += 160
                if scanner == "z":
                    pixels = 0.6 * pixels + 50
                path = f"{label}/{label}_{scanner}_{number:03d}.png"
                (folder / "images" / label).mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L").save(
                    folder / "images" / path)
                rows.append({"image_id": f"{label}_{scanner}_{number:03d}", "path": path,
                             "label": label, "scanner": scanner, "operator": f"op{number % 3}"})
    pd.DataFrame(rows).to_csv(folder / "metadata.csv", index=False)


def test_test_configuration_ignores_the_users_description_and_model_card(
    tmp_path: Path, tiny_raw_data: Path, tiny_production_batches: Path,
) -> None:
    """A user replaced the project's dataset description and model-card text: the user's
    project sees them, a test project built from it (as ``project``) keeps the tests' own."""
    user = tmp_path / "user"
    for name in ("conf/base", "pyproject.toml", ".telemetry"):
        copy = shutil.copytree if (PROJECT_ROOT / name).is_dir() else shutil.copy
        (user / name).parent.mkdir(parents=True, exist_ok=True)
        copy(PROJECT_ROOT / name, user / name)
    (user / "conf/local").mkdir()
    (user / "conf/base/globals.yml").write_text(yaml.safe_dump({"dataset": SCANS}))
    (user / "conf/base/model_card.yml").write_text(
        "title: Scanner triage model\nsummary: Cats, dogs and owls.\nprinciples: {}\n")
    assert project_parameters(user)["data_schema"] == SCANS_SCHEMA

    root = build_test_project(tmp_path / "test_project", user, tiny_raw_data,
                              tiny_production_batches)
    params = project_parameters(root)
    assert params["data_schema"] == TINY_SCHEMA
    assert params["model_evaluation"]["fairness"]["sensitive_features"] == ["site"]
    assert params["monitoring"]["batch"] == "iid"
    assert params["data_engineering"]["production_holdout"] == 0.0
    assert (yaml.safe_load((root / "conf/base/model_card.yml").read_text())
            == yaml.safe_load((FIXTURES / "model_card.yml").read_text()))


def test_everything_derives_from_the_description(tmp_path: Path) -> None:
    """Parameters and catalog paths of a described dataset: nothing left at the digits'."""
    shutil.copytree(PROJECT_ROOT / "conf/base", tmp_path / "conf/base")
    (tmp_path / "conf/local").mkdir()
    write_test_configuration(tmp_path, SCANS)
    loader = OmegaConfigLoader(str(tmp_path / "conf"), base_env="base", default_run_env="local")
    params, catalog = loader["parameters"], loader["catalog"]
    assert params["data_schema"] == SCANS_SCHEMA
    assert params["model_evaluation"]["fairness"]["sensitive_features"] == ["scanner"]
    assert params["data_understanding"]["data_quality"]["pixel_range"] == [0, 255]
    assert params["monitoring"]["batch"] == "holdout"
    assert params["data_engineering"]["production_holdout"] == 0.1
    assert catalog["raw_images"]["path"] == "data/scans/images"
    assert catalog["raw_metadata"]["filepath"] == "data/scans/metadata.csv"
    assert catalog["production_batch_images"]["path"] == "data/scans_production"
    assert catalog["deployment.run_lineage"]["data_paths"] == [SCANS["images"], SCANS["metadata"]]
    names = {entry["registered_model_name"] for name, entry in catalog.items()
             if "registered_model_name" in entry}
    assert names == {"tai_scans"}
    assert catalog["champion_model"]["model_name"] == "tai_scans"
    # a description without the optional production keys: monitor a 10 % held-out slice
    minimal = {k: v for k, v in SCANS.items() if not k.startswith("production_")}
    write_test_configuration(tmp_path, minimal)
    params = OmegaConfigLoader(str(tmp_path / "conf"), base_env="base")["parameters"]
    assert (params["monitoring"]["batch"], params["data_engineering"]["production_holdout"]) == (
        "holdout", 0.1)


def _git_dvc(root: Path, *paths: str) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "DVC_SITE_CACHE_DIR": str(root.parent / "dvc-site-cache")}
    dvc = str(Path(sys.executable).parent / "dvc")
    for command in (["git", "init", "-q"], [dvc, "init", "-q"], [dvc, "add", "-q", *paths]):
        subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)


def test_a_scanner_dataset_runs_by_configuration_only(
    tmp_path: Path, tiny_raw_data: Path, tiny_production_batches: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Data understanding and engineering on the scans in a real KedroSession: the group
    column is kept and everything else dropped, the split is stratified by label x scanner,
    a held-out slice is set aside for monitoring, and the run's data version is that of
    data/scans (tracked by DVC), not of the digits in data/01_raw."""
    root = build_test_project(tmp_path / "scans", PROJECT_ROOT, tiny_raw_data,
                              tiny_production_batches)
    write_scans(root / "data/scans")
    write_test_configuration(root, SCANS)
    _git_dvc(root, "data/01_raw", "data/scans")
    monkeypatch.chdir(root)
    run_kedro(root, pipeline_names=["data_understanding", "data_engineering"])

    minimal = pd.read_parquet(root / "data/03_primary/minimal_metadata.parquet")
    assert list(minimal.columns) == ["image_id", "label", "scanner"]
    splits = pd.read_csv(next((root / "data/05_model_input/split_table.csv").rglob("*.csv")))
    joined = splits.merge(minimal, on="image_id")
    assert set(splits["split"]) == {"train", "validation", "calibration", "test", "production"}
    assert joined.groupby("split")["scanner"].nunique().eq(3).all()
    assert splits["image_id"].is_unique and len(splits) == len(minimal) == 180
    assert (splits["split"] == "production").sum() == 18

    model_input = NpzDataset(filepath=str(root / "data/05_model_input/model_input.npz")).load()
    batch = load_production_batch({}, {}, "holdout", SCANS_SCHEMA, model_input)
    assert batch["pixels"].shape == (18, 12, 12, 1) and set(batch["groups"]) == {"x", "y", "z"}
    others = np.concatenate([model_input[f"{s}_ids"] for s in
                             ("train", "validation", "calibration", "test")])
    assert not set(batch["ids"]) & set(others)

    run = mlflow.MlflowClient(f"sqlite:///{root}/mlflow.db").search_runs(
        [mlflow.MlflowClient(f"sqlite:///{root}/mlflow.db").get_experiment_by_name(
            "tai_project").experiment_id])[0]
    scans_md5 = yaml.safe_load((root / "data/scans.dvc").read_text())["outs"][0]["md5"]
    assert run.data.tags["data_dvc_file"] == "data/scans.dvc"
    assert run.data.tags["data_version"] == scans_md5


@pytest.mark.slow
def test_the_whole_run_on_the_scans_registers_and_monitors_them(
    tmp_path: Path, tiny_raw_data: Path, tiny_production_batches: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """All six stages on the scans, configuration only: the model registers as tai_scans,
    its card files the per-scanner metrics under fairness, and monitoring scores the
    held-out slice by default (no production folder exists)."""
    root = build_test_project(tmp_path / "scans", PROJECT_ROOT, tiny_raw_data,
                              tiny_production_batches)
    write_scans(root / "data/scans")
    write_test_configuration(root, SCANS)
    monkeypatch.chdir(root)
    run_kedro(root)

    client = mlflow.MlflowClient(f"sqlite:///{root}/mlflow.db")
    champion = client.get_model_version_by_alias("tai_scans", "champion")
    assert json.loads(champion.tags[INPUT_SCHEMA_TAG])["classes"] == ["cat", "dog", "owl"]
    assert not client.search_registered_models("name = 'tai_tiny_digits'")
    card = json.loads(next((root / "data/08_reporting/model_card.json").rglob("*.json")).read_text())
    fairness = next(s for s in card["principles"] if s["key"] == "fairness")["metrics"]
    assert {"accuracy_scanner_x", "n_scanner_z"} <= set(fairness)
    report = json.loads(next(
        (root / "data/08_reporting/monitoring_report.json").rglob("*.json")).read_text())
    assert report["batch"] == "holdout" and report["n_images"] == 18


def test_holdout_batch_without_a_slice_says_how_to_set_one() -> None:
    with pytest.raises(DataValidationError, match=r"dataset.production_holdout .*conf/base/globals.yml"):
        load_production_batch({}, {}, "holdout", SCANS_SCHEMA, {"train_ids": np.array(["a"])})


# --- registry: a champion of another input schema


@pytest.fixture
def registry_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment("schema")
    return uri


def _register_digits_champion(name: str) -> None:
    from tests.test_registry import register, release  # noqa: PLC0415

    digits = {**TINY_SCHEMA, "classes": [0, 1, 2]}   # release() is an 8x8 3-class model
    register(dataclasses.replace(
        release(), tags={"accuracy": "0.9000",
                         INPUT_SCHEMA_TAG: json.dumps(input_schema(digits))}), name)


def test_champion_of_another_input_schema_is_not_a_non_regression_baseline(registry_uri):
    """The scans challenger is not compared with a digits champion: the non-regression rows
    say n/a, one row names both schemas, and the model is not tagged as compared."""
    _register_digits_champion("schema_mismatch")
    champion = ChampionMetricsDataset(registered_model_name="schema_mismatch").load()
    champion_input = ChampionInputSchemaDataset(registered_model_name="schema_mismatch").load()
    assert champion_input["version"] == "1" and champion_input["input_schema"]["image_height"] == 8

    requirements = shipped_requirements(**{
        "reliability.min_accuracy": 0.5,
        "non_regression.accuracy": {"greater_is_better": True, "max_absolute_worsening": 0.02,
                                    "max_relative_worsening": None}})
    measured = {"accuracy": 0.6}   # far below the champion's 0.9: a regression if compared
    comparable = select_comparable_champion(champion, champion_input, SCANS_SCHEMA)
    assert set(comparable) == {NOT_COMPARED}
    report = _gate(requirements, measured, comparable)
    rows = [c for c in report["checks"] if c["principle"] == "non_regression"]
    assert report["passed"] and report["champion_version"] is None
    assert [c["status"] for c in rows if c["metric"] in {"accuracy", "input_schema"}] == [
        "n/a", "n/a"]
    assert ("champion v1 not compared: it takes 8x8xL, 3 classes [0, 1, 2], this model "
            "12x12xL, 3 classes [cat, dog, owl]") in report["table"]

    # the same input schema: compared as before, and the regression is caught
    same = select_comparable_champion(champion, champion_input, {**TINY_SCHEMA, "classes": [0, 1, 2]})
    assert same == champion
    assert not _gate(requirements, measured, same)["passed"]
    # no champion, or a champion registered before the tag: compared as before
    assert select_comparable_champion({}, {}, SCANS_SCHEMA) == {}
    assert select_comparable_champion(champion, {**champion_input, "input_schema": None},
                                      SCANS_SCHEMA) == champion


def test_monitoring_refuses_a_batch_the_champion_cannot_take_in_one_line(registry_uri):
    """A 12x12 batch against an 8x8 champion: one line naming the batch, both shapes and the
    way out, before MLflow's schema enforcement would dump the array."""
    _register_digits_champion("schema_monitor")
    champion = mlflow.pyfunc.load_model("models:/schema_monitor@champion")
    record = {"champion": "1"}
    with pytest.raises(DataValidationError) as caught:
        score_batch(champion, record, {"pixels": np.zeros((3, 12, 12), np.uint8)}, "scans_week1")
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
    assert "'scans_week1'" in message and "12x12xL" in message and "8x8xL" in message
    assert "kedro run" in message
    scores = score_batch(champion, record, {"pixels": np.zeros((3, 8, 8), np.uint8)}, "iid")
    assert len(scores["label"]) == 3


@pytest.mark.parametrize(("group_columns", "groups"), [
    ([], {}), (["scanner"], {"site": ["A"]}),
])
def test_a_description_without_group_values_names_the_keys(group_columns, groups) -> None:
    from tai_project.data_description import group_columns as read_group_columns  # noqa: PLC0415
    from tai_project.errors import ParameterError  # noqa: PLC0415

    with pytest.raises(ParameterError, match=r"globals.yml\) has group_columns .* groups: \{scanner"):
        read_group_columns({"group_columns": group_columns, "groups": groups})


def _gate(requirements: dict, *metric_sets: dict) -> dict:
    """``check_trust_gate`` on a small network and model input, DP off (only the rows matter)."""
    from tai_project.models.network import SmallCNN  # noqa: PLC0415

    network = SmallCNN(num_classes=3, channels=(4,), groups=2)
    settings = {"training_setup": {"privacy": {"enabled": False}, "fairness_mitigation": "none"}}
    return check_trust_gate(network, {"x": np.zeros(3)}, requirements, settings,
                            {"temperature_scaling": True}, *metric_sets)

"""DVC with real git and dvc in tmp_path: `dvc repro` runs the six stages, a changed raw
image is reported and re-runs its stage, Kedro's versions survive, `dvc checkout` of the
earlier commit restores the earlier raw data byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.conftest import FAST_PARAMS, PROJECT_ROOT, _merge, write_test_configuration

STAGES = ["data_understanding", "data_engineering", "model_engineering", "model_evaluation",
          "deployment", "monitoring"]
COPIED = ["conf/base", "src", "dvc.yaml", ".dvcignore", ".dvc/config", ".dvc/.gitignore",
          ".gitignore", "data/.gitignore", "pyproject.toml", ".telemetry"]


def _fresh_repo(root: Path, raw: Path) -> dict[str, str]:
    """A git + DVC repository as a fresh clone has it, with the tiny data tracked by DVC."""
    for name in COPIED:
        source, target = PROJECT_ROOT / name, root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    shutil.copytree(raw, root / "data/01_raw")
    write_test_configuration(root)   # the tests' own dataset description, not the user's
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])  # the cmd runs .venv/bin/kedro
    (root / "conf/local").mkdir()
    base = {}
    for path in [root / "conf/base/parameters.yml", *(root / "conf/base/parameters").glob("*.yml")]:
        base.update(yaml.safe_load(path.read_text()))
    fast = {key: _merge(base[key], value) for key, value in FAST_PARAMS.items()}
    (root / "conf/local/parameters.yml").write_text(yaml.safe_dump(fast))  # local replaces keys
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "DVC_NO_ANALYTICS": "1",
           "KEDRO_DISABLE_TELEMETRY": "true", "MPLBACKEND": "Agg",
           "DVC_SITE_CACHE_DIR": str(root.parent / "dvc-site-cache")}
    _sh(root, env, "git", "init", "-q")
    _sh(root, env, "git", "config", "user.email", "test@example.com")
    _sh(root, env, "git", "config", "user.name", "test")
    _sh(root, env, "dvc", "add", "-q", "data/01_raw")
    _sh(root, env, "git", "add", "-A")
    _sh(root, env, "git", "commit", "-qm", "raw data v1")
    return env


def _sh(root: Path, env: dict[str, str], *command: str) -> str:
    if command[0] == "dvc":
        command = (str(Path(sys.executable).parent / "dvc"), *command[1:])
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _versions(root: Path, report: str) -> int:
    return len(list((root / "data/08_reporting" / report).iterdir()))


@pytest.mark.slow
def test_dvc_reproduces_tracks_and_restores(
    tmp_path: Path, tiny_raw_data: Path, tiny_production_batches: Path
) -> None:
    root = tmp_path / "clone"
    env = _fresh_repo(root, tiny_raw_data)
    shutil.copytree(tiny_production_batches, root / "data/01_production")  # monitoring reads it
    assert _sh(root, env, "dvc", "stage", "list", "--name-only").split() == STAGES
    dag = _sh(root, env, "dvc", "dag")
    assert all(stage in dag for stage in STAGES)

    log = _sh(root, env, "dvc", "repro")
    assert [s for s in STAGES if f"Running stage '{s}'" in log] == STAGES
    assert "up to date" in _sh(root, env, "dvc", "status")
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    # the description's images and metadata (dvc.yaml vars from conf/base/globals.yml)
    deps = {dep["path"]: dep["md5"] for dep in lock["stages"]["data_understanding"]["deps"]}
    assert deps["data/01_raw/images"].endswith(".dir") and deps["data/01_raw/metadata.csv"]
    _sh(root, env, "git", "add", "dvc.lock")
    _sh(root, env, "git", "commit", "-qm", "run on raw data v1")

    # a parameter of one stage re-runs that stage and what follows it, nothing upstream
    params = root / "conf/base/parameters/monitoring.yml"
    params.write_text(params.read_text().replace("alpha: 0.01", "alpha: 0.02"))
    log = _sh(root, env, "dvc", "repro")
    assert [s for s in STAGES if f"Running stage '{s}'" in log] == ["monitoring"]
    assert "Stage 'model_engineering' didn't change, skipping" in log
    assert _versions(root, "monitoring_report.json") == 2  # DVC kept Kedro's earlier version

    # one changed raw image: DVC reports it and re-runs its stage; history survives
    image = sorted((root / "data/01_raw/images").rglob("*.png"))[0]
    original = image.read_bytes()
    Image.fromarray(255 - np.asarray(Image.open(image))).save(image)
    status = _sh(root, env, "dvc", "status")
    assert "data_understanding:" in status and "modified:           data/01_raw" in status
    assert "model_engineering" not in status
    log = _sh(root, env, "dvc", "repro", "data_understanding")
    assert "Running stage 'data_understanding'" in log
    assert _versions(root, "data_profile.json") == 2
    assert _versions(root, "raw_data_docs.html") == 2
    assert "data_engineering:" in _sh(root, env, "dvc", "status")  # downstream is now stale

    # commit the new data, go back to the first commit: the old image returns byte for byte
    _sh(root, env, "dvc", "add", "-q", "data/01_raw")
    _sh(root, env, "git", "commit", "-qam", "raw data v2")
    assert image.read_bytes() != original
    _sh(root, env, "git", "checkout", "-q", "HEAD~2")
    _sh(root, env, "dvc", "checkout", "data/01_raw.dvc")
    assert image.read_bytes() == original
    assert _versions(root, "data_profile.json") == 2  # checkout never touches Kedro's history

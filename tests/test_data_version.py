"""The data version a run is tagged with: DVC's md5 of the folder the catalog reads (the dataset
description's images and metadata), and whether it is dirty."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import yaml

from tai_project.data_version import data_version_tags, tracking_dvc_file, untracked_reason
from tai_project.hooks import DataVersionHook


def _run(root: Path, *command: str) -> None:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "DVC_SITE_CACHE_DIR": str(root.parent / "dvc-site-cache")}
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)


def _tracked(tmp_path: Path, folder: str) -> tuple[Path, str]:
    """A git + DVC repository whose ``folder`` (one metadata.csv) is ``dvc add``-ed; return
    its root and the md5 DVC recorded."""
    root = tmp_path / "repo"
    (root / folder).mkdir(parents=True)
    (root / folder / "metadata.csv").write_text("image_id,path\n")
    dvc = str(Path(sys.executable).parent / "dvc")
    _run(root, "git", "init", "-q")
    _run(root, dvc, "init", "-q")
    _run(root, dvc, "add", "-q", folder)
    return root, yaml.safe_load((root / f"{folder}.dvc").read_text())["outs"][0]["md5"]


RAW = ["data/01_raw/images", "data/01_raw/metadata.csv"]


def test_untracked_without_dvc_file(tmp_path: Path) -> None:
    assert data_version_tags(tmp_path, RAW) == {"data_version": "untracked",
                                                "data_dirty": "untracked"}


def test_clean_then_dirty(tmp_path: Path) -> None:
    root, md5 = _tracked(tmp_path, "data/01_raw")

    assert data_version_tags(root, RAW) == {
        "data_version": md5, "data_dvc_file": "data/01_raw.dvc", "data_dirty": "false"
    }
    (root / "data/01_raw/metadata.csv").write_text("image_id,path\nx,y\n")
    tags = data_version_tags(root, RAW)
    assert tags["data_version"] == md5 and tags["data_dirty"] == "true"
    status = json.loads(tags["data_status"])
    assert status == {"modified": ["data/01_raw/"]}


def test_production_batches_are_tagged_apart_from_the_raw_data(tmp_path: Path) -> None:
    root, md5 = _tracked(tmp_path, "data/01_production")

    assert data_version_tags(root, ["data/01_production"], prefix="production_data") == {
        "production_data_version": md5, "production_data_dvc_file": "data/01_production.dvc",
        "production_data_dirty": "false",
    }
    assert data_version_tags(root, RAW)["data_version"] == "untracked"  # no raw data here


def test_exported_data_not_in_the_cache_is_clean_until_it_changes(tmp_path: Path) -> None:
    """`make data` exports the default data instead of pulling it: DVC then says "not in
    cache", which is not a change; a modified file still is."""
    root, _ = _tracked(tmp_path, "data/01_raw")
    shutil.rmtree(root / ".dvc" / "cache")
    assert data_version_tags(root, RAW)["data_dirty"] == "false"
    (root / "data/01_raw/metadata.csv").write_text("image_id,path\nx,y\n")
    assert data_version_tags(root, RAW)["data_dirty"] == "true"


def test_the_version_is_that_of_the_configured_folder_not_data_01_raw(tmp_path: Path) -> None:
    """A user's data elsewhere (``dataset.images: data/scans/images``): its own .dvc file is
    hashed, a digits data/01_raw.dvc lying around is not."""
    root, md5 = _tracked(tmp_path, "data/scans")
    (root / "data/01_raw.dvc").write_text("outs:\n- md5: digits.dir\n  path: 01_raw\n")
    paths = ["data/scans/images", "data/scans/metadata.csv"]
    assert tracking_dvc_file(root, "data/scans/images") == "data/scans.dvc"
    assert tracking_dvc_file(root, root / "data/scans/metadata.csv") == "data/scans.dvc"
    assert tracking_dvc_file(root, "/elsewhere/scans") is None
    tags = data_version_tags(root, paths)
    assert tags["data_version"] == md5 and tags["data_dvc_file"] == "data/scans.dvc"
    assert "digits" not in str(tags)
    partly = data_version_tags(root, [*paths, "data/extra.csv"])
    assert partly["data_version"] == md5 and partly["data_untracked"] == "data/extra.csv"


def test_a_copy_outside_git_runs_with_one_warning_line(tmp_path: Path, monkeypatch) -> None:
    """A zip of the project: .dvc/ and data/01_raw.dvc but no .git. DVC would raise SCMError;
    the hook tags the run untracked and says why in one warning line."""
    root, _ = _tracked(tmp_path, "data/01_raw")
    copy = tmp_path / "unzipped"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git"))
    assert untracked_reason(root) is None
    assert "is not a git repository" in untracked_reason(copy)

    # the records of the hook's own logger (an earlier KedroSession's logging config may have
    # disabled it or stopped its propagation)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    hook_logger = logging.getLogger(DataVersionHook.__module__)
    monkeypatch.setattr(hook_logger, "disabled", False)
    hook_logger.addHandler(handler)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_experiment("data_version")  # not an earlier session's experiment id
    try:
        with mlflow.start_run() as run:
            DataVersionHook().before_pipeline_run({"project_path": str(copy)})
    finally:
        hook_logger.removeHandler(handler)
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags["data_version"] == tags["production_data_version"] == "untracked"
    assert len(records) == 1 and records[0].getMessage().startswith("data version untracked: ")
    assert "git init" in records[0].getMessage() and "\n" not in records[0].getMessage()

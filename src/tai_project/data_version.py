"""Which raw data a run used: the DVC hash of ``data/01_raw`` and whether the work tree
matches it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import yaml

RAW_DVC_FILE = "data/01_raw.dvc"
MAX_STATUS_CHARS = 4000  # MLflow tag values are short; the status is a summary


def data_version_tags(project_path: str | Path, dvc_file: str = RAW_DVC_FILE) -> dict[str, str]:
    """Return MLflow tags naming the raw data version.

    ``data_version`` is the md5 DVC recorded in ``dvc_file`` (``dvc add``), ``data_dirty`` is
    ``"true"`` when ``dvc status`` finds the work tree differs from it (``data_status`` then
    holds that status as JSON), and both say ``untracked`` when there is no DVC file.
    """
    path = Path(project_path) / dvc_file
    if not path.is_file():
        return {"data_version": "untracked", "data_dirty": "untracked"}
    outs = yaml.safe_load(path.read_text(encoding="utf-8")).get("outs", [{}])
    tags = {"data_version": str(outs[0].get("md5", "unknown")), "data_dvc_file": dvc_file}
    status = _dvc_status(Path(project_path), dvc_file)
    tags["data_dirty"] = "true" if status else "false"
    if status:
        tags["data_status"] = json.dumps(status)[:MAX_STATUS_CHARS]
    return tags


def _dvc_status(project_path: Path, dvc_file: str) -> dict:
    """``dvc status <dvc_file>`` through DVC's Python API (no subprocess); {} when clean."""
    from dvc.repo import Repo  # noqa: PLC0415 - heavy import, only when DVC is in use

    with contextlib.chdir(project_path), Repo(".") as repo:  # DVC resolves outs from the cwd
        return repo.status(targets=[dvc_file])

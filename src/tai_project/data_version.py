"""Which data a run used: the DVC hash of ``data/01_raw`` (and of ``data/01_production``, the
batches monitoring scores) and whether the work tree matches it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import yaml

RAW_DVC_FILE = "data/01_raw.dvc"
PRODUCTION_DVC_FILE = "data/01_production.dvc"
MAX_STATUS_CHARS = 4000  # MLflow tag values are short; the status is a summary


def data_version_tags(
    project_path: str | Path, dvc_file: str = RAW_DVC_FILE, *, prefix: str = "data"
) -> dict[str, str]:
    """Return MLflow tags naming the data version of ``dvc_file``.

    ``<prefix>_version`` is the md5 DVC recorded in ``dvc_file`` (``dvc add``),
    ``<prefix>_dirty`` is ``"true"`` when the work tree differs from it (``<prefix>_status``
    then holds the changes as JSON), and both say ``untracked`` when there is no DVC file.
    """
    path = Path(project_path) / dvc_file
    if not path.is_file():
        return {f"{prefix}_version": "untracked", f"{prefix}_dirty": "untracked"}
    outs = yaml.safe_load(path.read_text(encoding="utf-8")).get("outs", [{}])
    tags = {f"{prefix}_version": str(outs[0].get("md5", "unknown")),
            f"{prefix}_dvc_file": dvc_file}
    output = (Path(dvc_file).parent / outs[0].get("path", "")).as_posix()
    status = _uncommitted(Path(project_path), output)
    tags[f"{prefix}_dirty"] = "true" if status else "false"
    if status:
        tags[f"{prefix}_status"] = json.dumps(status)[:MAX_STATUS_CHARS]
    return tags


def _uncommitted(project_path: Path, output: str) -> dict:
    """The changes of ``output`` in the work tree against its .dvc file (``dvc data status``,
    through DVC's Python API), e.g. ``{"modified": ["data/01_raw/"]}``; {} when it matches.

    Unlike ``dvc status``, this compares the files with the recorded md5 even when they are
    not in the DVC cache, which is the case after ``make data`` exported them.
    """
    from dvc.repo import Repo  # noqa: PLC0415 - heavy import, only when DVC is in use

    with contextlib.chdir(project_path), Repo(".") as repo:  # DVC resolves outs from the cwd
        return repo.data_status(targets=[output], granular=False)["uncommitted"]


def untracked_reason(project_path: str | Path) -> str | None:
    """Why the data version of the project at ``project_path`` cannot be computed, or None.

    DVC needs a DVC project (a ``.dvc/`` folder) inside a git work tree (or ``no_scm`` set in
    ``.dvc/config``); a copy of the project outside git (a downloaded zip) has neither.
    """
    root = Path(project_path).resolve()
    if not (root / ".dvc").is_dir():
        return f"{root} is not a DVC project (no .dvc/ folder); run `git init && dvc init` there"
    if any((folder / ".git").exists() for folder in (root, *root.parents)):
        return None
    config = root / ".dvc" / "config"
    if config.is_file() and "no_scm = true" in config.read_text(encoding="utf-8").replace("True", "true"):
        return None
    return (f"{root} is not a git repository (a copy outside git, e.g. a zip); run "
            "`git init && git add -A && git commit -m 'first commit'` there to record it")


def untracked_tags(prefix: str = "data") -> dict[str, str]:
    """The tags ``data_version_tags`` gives a data version DVC cannot compute."""
    return {f"{prefix}_version": "untracked", f"{prefix}_dirty": "untracked"}

"""Which data a run used: the DVC hash of the folders the catalog reads (the raw images and
metadata of the dataset description, and the production batches monitoring scores) and
whether the work tree matches it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path

import yaml

MAX_STATUS_CHARS = 4000  # MLflow tag values are short; the status is a summary


def tracking_dvc_file(project_path: str | Path, data_path: str | Path) -> str | None:
    """Return the ``.dvc`` file (relative to ``project_path``) that tracks ``data_path``:
    ``<data_path>.dvc`` or that of the nearest folder above it inside the project (``dvc add
    data/01_raw`` writes ``data/01_raw.dvc``, which covers ``data/01_raw/images``); ``None``
    when no DVC file covers it or it lies outside the project."""
    root = Path(project_path).resolve()
    path = Path(data_path)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(root)
        except ValueError:
            return None
    for candidate in (path, *path.parents[:-1]):  # parents[-1] is "."
        dvc_file = candidate.with_name(f"{candidate.name}.dvc")
        if (root / dvc_file).is_file():
            return dvc_file.as_posix()
    return None


def data_version_tags(
    project_path: str | Path, data_paths: Sequence[str | Path], *, prefix: str = "data"
) -> dict[str, str]:
    """Return MLflow tags naming the data version of ``data_paths`` (the paths the catalog
    reads, e.g. the dataset description's images and metadata).

    ``<prefix>_version`` is the md5 DVC recorded (``dvc add``) in the ``.dvc`` file that
    tracks them (several files: their md5s joined by ``+``), ``<prefix>_dvc_file`` names
    that file, ``<prefix>_dirty`` is ``"true"`` when the work tree differs from it
    (``<prefix>_status`` then holds the changes as JSON) and both say ``untracked`` when no
    DVC file covers any of the paths. ``<prefix>_untracked`` lists paths no DVC file covers.
    """
    covering = {str(p): tracking_dvc_file(project_path, p) for p in data_paths}
    dvc_files = sorted({f for f in covering.values() if f is not None})
    if not dvc_files:
        return {f"{prefix}_version": "untracked", f"{prefix}_dirty": "untracked"}
    versions, status = [], {}
    for dvc_file in dvc_files:
        outs = yaml.safe_load((Path(project_path) / dvc_file).read_text(encoding="utf-8")).get(
            "outs", [{}])
        versions.append(str(outs[0].get("md5", "unknown")))
        output = (Path(dvc_file).parent / outs[0].get("path", "")).as_posix()
        for change, paths in _uncommitted(Path(project_path), output).items():
            status.setdefault(change, []).extend(paths)
    tags = {f"{prefix}_version": "+".join(versions), f"{prefix}_dvc_file": ",".join(dvc_files),
            f"{prefix}_dirty": "true" if status else "false"}
    if status:
        tags[f"{prefix}_status"] = json.dumps(status)[:MAX_STATUS_CHARS]
    untracked = [path for path, dvc_file in covering.items() if dvc_file is None]
    if untracked:
        tags[f"{prefix}_untracked"] = ",".join(untracked)
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

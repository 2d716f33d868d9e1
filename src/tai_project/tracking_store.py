"""The project's own MLflow store (``mlflow.db``): readable, writing inside this project, and
with no run left RUNNING by a process that is gone. Used by the session-start hooks."""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import psutil

from tai_project.errors import TrackingStoreError

logger = logging.getLogger(__name__)

PROCESS_TAGS = ("tai_project.pid", "tai_project.host", "tai_project.process_started")
"""Run tags naming the process that runs it, so a later run can tell it was killed."""

# Every column of MLflow's SQL schema that holds an artifact location (MLflow 3.x).
_LOCATION_COLUMNS = (("experiments", "artifact_location"), ("runs", "artifact_uri"),
                     ("logged_models", "artifact_location"),
                     ("model_versions", "storage_location"), ("model_versions", "source"))


def sqlite_store(mlflow_conf: Mapping[str, Any]) -> Path | None:
    """Return the SQLite file of the tracking URI in ``mlflow.yml`` (``server``), or of
    ``MLFLOW_TRACKING_URI`` when that is null; ``None`` for any other kind of store. A
    relative path is relative to the working directory, as MLflow reads it."""
    uri = (mlflow_conf.get("server") or {}).get("mlflow_tracking_uri") \
        or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri or not str(uri).startswith("sqlite:///"):
        return None
    return Path(str(uri).removeprefix("sqlite:///").split("?")[0]).absolute()


def check_readable(db: Path) -> None:
    """Raise ``TrackingStoreError`` naming ``db`` and the fix when it exists but is not a
    readable SQLite database."""
    if not db.is_file():
        return
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise TrackingStoreError(
            f"The MLflow store {db} is not a readable SQLite database ({error}). Move it "
            f"aside and run again (`mv {db.name} {db.name}.broken`): a new, empty store is "
            "made, and the runs and registered models of the old file stay in it until it "
            f"is restored from a backup (or repaired with `sqlite3 {db.name}.broken .recover`)."
        ) from None


def relocate_artifacts(db: Path, project_path: Path, artifact_location: str | None) -> dict[str, int]:
    """Re-point every artifact location that a copied or moved project's ``db`` still holds
    in the original project's folder to the same place in ``project_path``; return the rows
    changed per table.

    MLflow stores the experiment's ``artifact_location`` (``mlartifacts``, relative to the
    project in ``mlflow.yml``) as an absolute URI, and each run, logged model and model
    version under it. An experiment whose location ends with that relative path but lies
    outside ``project_path`` was made by the original: its folder is the old project root.
    An absolute or remote ``artifact_location`` is the user's choice and left alone; a
    configured experiment stored elsewhere outside the project is refused.
    """
    if not db.is_file() or not artifact_location or urlparse(artifact_location).scheme \
            or Path(artifact_location).is_absolute():
        return {}
    project_path = project_path.resolve()
    suffix = Path(artifact_location).parts
    with sqlite3.connect(db) as connection:
        if not _has_table(connection, "experiments"):
            return {}
        locations = [row[0] for row in connection.execute(
            "SELECT artifact_location FROM experiments")]
        old_roots = {path.parents[len(suffix) - 1] for path in map(_local_path, locations)
                     if path is not None and not path.is_relative_to(project_path)
                     and path.parts[-len(suffix):] == suffix}
        changed: dict[str, int] = {}
        for old_root in sorted(old_roots):
            for table, column in _LOCATION_COLUMNS:
                if not _has_table(connection, table):
                    continue
                for old, new in ((old_root.as_uri(), project_path.as_uri()),
                                 (str(old_root), str(project_path))):
                    cursor = connection.execute(
                        f"UPDATE {table} SET {column} = ? || substr({column}, ?) "   # noqa: S608
                        f"WHERE substr({column}, 1, ?) = ? "
                        f"AND (length({column}) = ? OR substr({column}, ?, 1) = '/')",
                        (new, len(old) + 1, len(old), old, len(old), len(old) + 1))
                    changed[table] = changed.get(table, 0) + cursor.rowcount
            logger.warning(
                "The MLflow store %s was made in %s (this project was copied or moved): its "
                "artifact locations now point into %s (%s rows changed).", db, old_root,
                project_path, changed)
    return changed


def check_inside(db: Path, experiment: str, project_path: Path) -> None:
    """Refuse the configured experiment when its local artifact location lies outside the
    project (its runs would write into another folder)."""
    if not db.is_file():
        return
    with sqlite3.connect(db) as connection:
        row = _has_table(connection, "experiments") and connection.execute(
            "SELECT artifact_location FROM experiments WHERE name = ?", (experiment,)).fetchone()
    path = _local_path(row[0]) if row else None
    if path is not None and not path.is_relative_to(project_path.resolve()):
        raise TrackingStoreError(
            f"The MLflow experiment {experiment!r} in {db} keeps its artifacts in {path}, "
            f"outside this project ({project_path}); this run would write there. Delete the "
            f"experiment (`mlflow experiments delete`) or point artifact_location in "
            f"conf/base/mlflow.yml at it deliberately with an absolute path."
        )


def process_tags() -> dict[str, str]:
    """Return the tags naming this process: pid, host and start time."""
    me = psutil.Process()
    return dict(zip(PROCESS_TAGS, (str(me.pid), socket.gethostname(), f"{me.create_time():.2f}"),
                    strict=True))


def is_gone(tags: Mapping[str, str]) -> bool:
    """True when the tags name a process of this host that no longer runs (a pid reused by
    another process counts as gone: its start time differs)."""
    pid, host, started = (tags.get(name) for name in PROCESS_TAGS)
    if pid is None or host != socket.gethostname():
        return False
    try:
        return abs(psutil.Process(int(pid)).create_time() - float(started or 0)) > 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return True
    except (psutil.AccessDenied, ValueError):
        return False


def end_killed_runs(client: Any) -> list[str]:
    """Mark KILLED every RUNNING run of the store whose process (``PROCESS_TAGS``) is gone;
    return their ids. Runs without the tags (opened by hand, another tool) are left alone."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    ended = []
    if not experiments:
        return ended
    for run in client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'"):
        if is_gone(run.data.tags):
            client.set_terminated(run.info.run_id, status="KILLED")
            ended.append(run.info.run_id)
            logger.warning("MLflow run %s (%s) was left RUNNING by process %s, which is gone "
                           "(killed?): marked KILLED.", run.info.run_id, run.info.run_name,
                           run.data.tags.get(PROCESS_TAGS[0]))
    return ended


def _local_path(location: str) -> Path | None:
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if not parsed.scheme and Path(location).is_absolute():
        return Path(location)
    return None


def _has_table(connection: sqlite3.Connection, table: str) -> bool:
    return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (table,)).fetchone() is not None

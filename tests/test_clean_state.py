"""Left-over state (issue 16, findings 8 and 9): a killed run is marked KILLED by the next
session; a copied project writes its artifacts into the copy; a corrupt mlflow.db is named
with the fix. Real KedroSession, real MLflow SQLite store, real SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from tai_project.errors import TrackingStoreError
from tai_project.tracking_store import PROCESS_TAGS, check_inside
from tests.conftest import run_kedro


def _client(project: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{project}/mlflow.db")


def _start_session(project: Path) -> None:
    """Create a session and its context: the session-start hooks run, no pipeline does."""
    bootstrap_project(project)
    with KedroSession.create(project_path=project) as session:
        session.load_context()


def _tagged_running_run(db: Path, timeout: float = 240.0) -> str:
    """Wait until the store holds a RUNNING run tagged with its process; return its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db) as connection:
                row = connection.execute(
                    "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                    "WHERE r.status = 'RUNNING' AND t.key = ?", (PROCESS_TAGS[0],)).fetchone()
        except sqlite3.OperationalError:  # not made yet, or locked by the writer
            row = None
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("no tagged RUNNING run appeared")


def test_a_killed_run_is_marked_killed_by_the_next_session(project):
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    process = subprocess.Popen([sys.executable, "-m", "kedro", "run", "--pipeline",
                                "data_understanding"], cwd=project, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_id = _tagged_running_run(project / "mlflow.db")
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    run = _client(project).get_run(run_id)
    assert run.info.status == "RUNNING"   # what a SIGKILL leaves behind
    assert run.data.tags[PROCESS_TAGS[0]] == str(process.pid)

    _start_session(project)
    assert _client(project).get_run(run_id).info.status == "KILLED"


def test_a_live_run_of_another_process_is_left_alone(project):
    run_kedro(project, pipeline_names=["data_understanding"])
    client = _client(project)
    [finished] = client.search_runs([client.get_experiment_by_name("tai_project").experiment_id])
    opened = client.create_run(finished.info.experiment_id)   # RUNNING, no process tags
    mine = client.create_run(finished.info.experiment_id,
                             tags=dict(zip(PROCESS_TAGS, (str(os.getpid()), os.uname().nodename,
                                                          "0"), strict=True)))
    _start_session(project)
    assert client.get_run(opened.info.run_id).info.status == "RUNNING"
    assert client.get_run(finished.info.run_id).info.status == "FINISHED"
    # a pid whose start time differs was reused by another process: the run's own is gone
    assert client.get_run(mine.info.run_id).info.status == "KILLED"


def _files(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


def test_a_copied_project_writes_its_artifacts_into_the_copy(project, tmp_path, monkeypatch):
    run_kedro(project, pipeline_names=["data_understanding"])
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    local = copy / "conf" / "local" / "mlflow.yml"
    local.write_text(local.read_text().replace(str(project), str(copy)))
    before = _files(project / "mlartifacts")
    experiment = _client(copy).get_experiment_by_name("tai_project")
    assert experiment.artifact_location == (project / "mlartifacts").as_uri()  # the trap

    monkeypatch.chdir(copy)
    run_kedro(copy, pipeline_names=["data_understanding"])

    client = _client(copy)
    experiment = client.get_experiment_by_name("tai_project")
    assert experiment.artifact_location == (copy / "mlartifacts").as_uri()
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    assert all(run.info.artifact_uri.startswith((copy / "mlartifacts").as_uri()) for run in runs)
    newest = max(runs, key=lambda run: run.info.start_time)
    assert any((copy / "mlartifacts" / newest.info.run_id).rglob("raw_data_docs*.html"))
    assert _files(project / "mlartifacts") == before   # the original is untouched


def test_a_configured_experiment_stored_outside_the_project_is_refused(project, tmp_path):
    _client(project).create_experiment("tai_project", artifact_location=str(tmp_path / "elsewhere"))
    with pytest.raises(TrackingStoreError, match=r"'tai_project' .* keeps its artifacts in .*elsewhere"):
        check_inside(project / "mlflow.db", "tai_project", project)
    with pytest.raises(TrackingStoreError, match="outside this project"):
        _start_session(project)


def test_a_corrupt_store_is_named_with_the_fix(project):
    db = project / "mlflow.db"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TrackingStoreError) as caught:
        run_kedro(project, pipeline_names=["data_understanding"])
    message = str(caught.value)
    assert str(db) in message and "not a readable SQLite database" in message
    assert "mv mlflow.db mlflow.db.broken" in message
    assert db.read_bytes() == b"this is not a database" * 100
    assert not (project / "data" / "02_intermediate").exists()

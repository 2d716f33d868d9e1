"""Project hooks: what a run shows and records about itself; no pipeline logic."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from tai_project import tracking_store
from tai_project.data_version import data_version_tags, untracked_reason, untracked_tags
from tai_project.parameters_schema import ParameterSources, validate_parameters
from tai_project.trust.requirements import GateReport

logger = logging.getLogger(__name__)


class ParametersHook:
    """Validate every parameter (``parameters_schema``) and the ``trust_requirements`` when
    the session starts, before the MLflow store is opened and any data is read, so a misspelt
    key or a bad value stops the run at once (at 100k images decoding alone takes a minute).
    The ``validate_trust_requirements`` node still records what the run used."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        sources = ParameterSources.from_config_loader(context.config_loader, context.project_path)
        validate_parameters(context.params, sources)


class TrustGateSummaryHooks:
    """Show the trust gate table as the last thing a run prints, whether it passed or not.

    It remembers the ``gate_report`` saved in this run (never reads an older version).
    """

    def __init__(self) -> None:
        self._report: GateReport | None = None

    @hook_impl
    def before_pipeline_run(self) -> None:
        self._report = None

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if dataset_name == "gate_report":
            self._report = GateReport.from_dict(data)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._show()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._show()

    def _show(self) -> None:
        if self._report is not None:
            verdict = "PASSED" if self._report.passed else "FAILED: the model is not promoted"
            logger.info("Trust gate %s\n%s", verdict, self._report.table())


class DataVersionHook:
    """After kedro-mlflow has started the run, tag it with ``data_version_tags`` of the raw
    data (``data_*``: the folders of the catalog's ``raw_images`` and ``raw_metadata``) and
    of the production batches (``production_data_*``: ``production_batch_images``)."""

    RAW = (("raw_images", "path"), ("raw_metadata", "filepath"))
    PRODUCTION = (("production_batch_images", "path"),)

    def __init__(self) -> None:
        self._paths: dict[str, list[str]] = {}

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        catalog = context.config_loader["catalog"]  # resolved: globals and runtime params

        def paths(entries: tuple[tuple[str, str], ...]) -> list[str]:
            return [catalog[name][key] for name, key in entries if key in catalog.get(name, {})]

        self._paths = {"data": paths(self.RAW), "production_data": paths(self.PRODUCTION)}

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        if mlflow.active_run() is None:
            return
        if (reason := untracked_reason(run_params["project_path"])) is not None:
            mlflow.set_tags({**untracked_tags("data"), **untracked_tags("production_data")})
            logger.warning("data version untracked: %s", reason)
            return
        for prefix, what in (("data", "raw"), ("production_data", "production")):
            tags = data_version_tags(run_params["project_path"], self._paths.get(prefix, []),
                                     prefix=prefix)
            mlflow.set_tags(tags)
            logger.info("%s data version %s (dirty: %s)", what, tags[f"{prefix}_version"],
                        tags[f"{prefix}_dirty"])


class StaleMlflowRunHook:
    """Let several ``KedroSession`` runs share one Python process (notebooks, tests).

    Under kedro 1.7, kedro-mlflow 2.0.3 ends its run from another thread than the one that
    started it, and MLflow's active-run stack is thread-local: the finished run stays on
    this thread's stack, so the next session would log into it ("Changing param values is
    not allowed"). Before kedro-mlflow looks for an active run, pop runs whose stored
    status is already terminal, keeping that status. A run a user opened on purpose
    (still RUNNING) is left alone.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self) -> None:
        while (active := mlflow.active_run()) is not None:
            stored = mlflow.MlflowClient().get_run(active.info.run_id).info.status
            if stored not in {"FINISHED", "FAILED", "KILLED"}:
                return
            logger.debug("popping finished MLflow run %s from this thread", active.info.run_id)
            mlflow.end_run(status=stored)


class MlflowStoreHook:
    """Before kedro-mlflow opens the project's SQLite store: refuse an unreadable file with
    the fix, and re-point the artifact locations a copied or moved project's store still
    holds in the original's folder (``tracking_store.relocate_artifacts``). Once kedro-mlflow
    has set the store up, mark KILLED the runs left RUNNING by a process that is gone, and
    tag each new run with its process so the next run can tell."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        try:
            conf = context.config_loader["mlflow"]
        except MissingConfigException:  # no mlflow.yml: kedro-mlflow's defaults, ./mlruns
            return
        db = tracking_store.sqlite_store(conf)
        if db is None:
            return
        tracking_store.check_readable(db)
        experiment = (conf.get("tracking") or {}).get("experiment") or {}
        location = (experiment.get("create_experiment_kwargs") or {}).get("artifact_location")
        tracking_store.relocate_artifacts(db, context.project_path, location)
        if location and not Path(location).is_absolute() and "://" not in location \
                and experiment.get("name"):
            tracking_store.check_inside(db, experiment["name"], context.project_path)


class KilledRunHook:
    """Mark KILLED the MLflow runs whose ``kedro run`` was killed (SIGKILL, power loss): they
    would stay RUNNING forever. Each run is tagged with its process (pid, host, start time)."""

    @hook_impl(trylast=True)
    def after_context_created(self) -> None:
        tracking_store.end_killed_runs(mlflow.MlflowClient())

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        if mlflow.active_run() is not None:
            mlflow.set_tags(tracking_store.process_tags())

"""Project hooks: what a run shows and records about itself; no pipeline logic."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from tai_project.data_version import data_version_tags
from tai_project.trust.requirements import GateReport, parse_requirements

logger = logging.getLogger(__name__)


class TrustRequirementsHook:
    """Validate ``trust_requirements`` when the session starts, so a misspelt key or a bad
    threshold stops the run before any data is read (at 100k images decoding alone takes a
    minute). The ``validate_trust_requirements`` node still records what the run used."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        parse_requirements(context.params.get("trust_requirements", {}))


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

"""Project hooks: tag every MLflow run with the version of the raw data it read."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from tai_project.data_version import data_version_tags

logger = logging.getLogger(__name__)


class DataVersionHook:
    """After kedro-mlflow has started the run, tag it with ``data_version_tags``."""

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        if mlflow.active_run() is None:
            return
        tags = data_version_tags(run_params["project_path"])
        mlflow.set_tags(tags)
        logger.info("raw data version %s (dirty: %s)", tags["data_version"], tags["data_dirty"])

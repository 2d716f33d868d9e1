"""Kedro project settings. kedro-mlflow registers its hooks through its entry point."""

from kedro.config import OmegaConfigLoader

from tai_project.hooks import (
    DataVersionHook,
    KilledRunHook,
    MlflowStoreHook,
    ParametersHook,
    StaleMlflowRunHook,
    TrustGateSummaryHooks,
)
from tai_project.stage_timing import StageTimingHooks

HOOKS = (MlflowStoreHook(), ParametersHook(), KilledRunHook(), StaleMlflowRunHook(), DataVersionHook(),
         TrustGateSummaryHooks(), StageTimingHooks())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**"]},
}

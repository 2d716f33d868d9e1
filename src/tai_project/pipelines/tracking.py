"""Shape metrics for kedro-mlflow's ``MlflowMetricsHistoryDataset``."""

from __future__ import annotations

from collections.abc import Mapping


def as_metric_history(metrics: Mapping[str, float], *, step: int = 0) -> dict[str, dict[str, float]]:
    """Return ``{name: {"value": v, "step": step}}`` for every numeric entry of ``metrics``."""
    return {
        name: {"value": float(value), "step": step}
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }

"""Project pipelines: the six CRISP-ML(Q) stages; ``__default__`` runs them all in order.
``retrain`` (the maintenance loop) runs only when named: ``kedro run --pipeline retrain``."""

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

ON_DEMAND = {"retrain"}


def register_pipelines() -> dict[str, Pipeline]:
    pipelines = find_pipelines(raise_errors=True)
    # one Pipeline of all stages: one topological sort, not one per `+` (kedro registry list)
    pipelines["__default__"] = Pipeline([p for name, p in pipelines.items() if name not in ON_DEMAND])
    return pipelines

"""Trust metrics and the trust gate: a plain library (numpy/torch in, numbers out).

Nothing here imports Kedro or MLflow or touches files, so every function can be tested
and reused outside the pipelines.
"""

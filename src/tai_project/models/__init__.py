"""Torch networks, the training loop and the MLflow inference model (plain torch, no Kedro)."""

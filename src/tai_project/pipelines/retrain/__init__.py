"""Maintenance loop: retrain on the training data plus a labelled production batch, then
evaluate and deploy through the same trust gate (not part of the default run)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

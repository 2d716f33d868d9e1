"""CRISP-ML(Q) model evaluation: trust metrics on held-out data and the trust gate."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

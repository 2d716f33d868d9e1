"""CRISP-ML(Q) monitoring & maintenance: drift of production batches and a retrain recommendation."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

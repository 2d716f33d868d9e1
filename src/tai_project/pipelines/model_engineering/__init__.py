"""CRISP-ML(Q) model engineering: train the classifier."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

"""CRISP-ML(Q) deployment: register the challenger, promote it to champion only through the gate."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

"""CRISP-ML(Q) data engineering: minimisation, stratified split, model-ready arrays."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

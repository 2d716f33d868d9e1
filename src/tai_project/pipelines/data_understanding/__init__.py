"""CRISP-ML(Q) business & data understanding: trust requirements, raw data checks, profile."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]

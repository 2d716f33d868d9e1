"""Data tests with Great Expectations 1.x: code-defined suites run in an ephemeral context.

Plain library (pandas in, results and HTML text out): no Kedro, no MLflow, no file I/O.
"""

from .docs import render_data_docs
from .validation import TableCheck, TableValidation, failure_messages, validate_tables

__all__ = [
    "TableCheck",
    "TableValidation",
    "failure_messages",
    "render_data_docs",
    "validate_tables",
]

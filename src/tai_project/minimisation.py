"""Data minimisation: direct identifiers must not enter the pipeline at all."""

from __future__ import annotations

from collections.abc import Iterable

from tai_project.errors import DataValidationError


def refuse_forbidden_columns(columns: Iterable[object], forbidden: Iterable[str], *, where: str) -> None:
    """Raise ``DataValidationError`` naming every column of ``columns`` listed in
    ``forbidden`` (``data_engineering.forbidden_columns``); names are compared case-
    insensitively, spaces and dashes read as underscores."""
    keys = {_column_key(name) for name in forbidden}
    found = [str(column) for column in columns if _column_key(column) in keys]
    if found:
        raise DataValidationError(
            f"{where} has column(s) {found} listed in data_engineering.forbidden_columns "
            "(direct identifiers); expected none of them. Nothing was written. Remove the "
            "column(s) from the raw metadata (and from its DVC-tracked history) before running, "
            "or, if a column is not an identifier, take it off forbidden_columns in "
            "conf/base/parameters/data_engineering.yml."
        )


def _column_key(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")

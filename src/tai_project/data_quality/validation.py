"""Run code-defined expectation suites on pandas tables and explain every failure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations import Expectation

SHOWN = 5  # offending rows quoted per failed expectation


@dataclass(frozen=True)
class TableCheck:
    """One table, the expectations it must meet, and how to name its rows in messages.

    ``row_names`` is indexed like ``table`` and says where a row comes from, e.g.
    ``"metadata.csv line 7 (digit_00005)"`` or an image path.
    """

    name: str
    table: pd.DataFrame
    expectations: Sequence[Expectation]
    row_names: pd.Series | pd.Index | Sequence[str] = field(
        default_factory=lambda: pd.Series(dtype=object)
    )


@dataclass(frozen=True)
class TableValidation:
    """A suite's Great Expectations result and the row names used to explain it."""

    name: str
    result: ExpectationSuiteValidationResult
    row_names: pd.Series

    @property
    def success(self) -> bool:
        return bool(self.result.success)


def validate_tables(checks: Sequence[TableCheck]) -> list[TableValidation]:
    """Return one Great Expectations validation result per table check.

    Each check becomes an ``ExpectationSuite`` run through a ``ValidationDefinition`` on a
    whole-dataframe batch of an ephemeral context (the GX 1.x workflow) with the
    ``COMPLETE`` result format, so every unexpected row index is kept.
    """
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("tai_project")
    validations = []
    for check in checks:
        batch = source.add_dataframe_asset(check.name).add_batch_definition_whole_dataframe(
            "whole_table"
        )
        suite = context.suites.add(gx.ExpectationSuite(name=check.name))
        for expectation in check.expectations:
            suite.add_expectation(expectation)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=check.name, data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": check.table},
            result_format={"result_format": "COMPLETE"},
        )
        validations.append(TableValidation(check.name, result, _row_names(check)))
    return validations


def _row_names(check: TableCheck) -> pd.Series:
    """Row names indexed like the table (a list or Index is taken in row order)."""
    names = check.row_names
    if isinstance(names, pd.Series) and names.index.equals(check.table.index):
        return names
    if len(names) == len(check.table):
        return pd.Series(list(names), index=check.table.index)
    return pd.Series(dtype=object)


def failure_messages(validations: Sequence[TableValidation]) -> list[str]:
    """Return one line per failed expectation: suite, expectation, column, observed value
    and the first offending rows with their count."""
    messages = []
    for validation in validations:
        for outcome in validation.result.results:
            if outcome.success:
                continue
            config = outcome.expectation_config
            kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
            where = f"column '{kwargs.pop('column')}'" if "column" in kwargs else "table"
            messages.append(
                f"[{validation.name}] {config.type} on {where}{_short(kwargs)}: "
                + _observed(outcome.result, outcome.exception_info, validation.row_names)
            )
    return messages


def _observed(result: dict[str, Any], exception_info: Any, row_names: pd.Series) -> str:
    if exception_info and exception_info.get("raised_exception"):
        return f"could not be evaluated ({exception_info.get('exception_message')})"
    if "unexpected_index_list" in result:
        rows = result["unexpected_index_list"]
        values = result.get("unexpected_list", [None] * len(rows))
        shown = [
            f"{row_names.get(row, f'row {row}')} = {_plain(value)!r}"
            for row, value in zip(rows[:SHOWN], values[:SHOWN])
        ]
        more = f" ... and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
        return f"{result['unexpected_count']} offending row(s): " + "; ".join(shown) + more
    return f"observed {result.get('observed_value')!r}"


def _short(kwargs: dict[str, Any]) -> str:
    """The expectation's arguments, with long value sets cut short."""
    shown = {}
    for key, value in kwargs.items():
        long = isinstance(value, list | set | tuple) and len(value) > 12
        shown[key] = [*sorted(value, key=str)[:6], f"... {len(value)} values"] if long else value
    return f" (expected {shown})" if shown else ""


def _plain(value: Any) -> Any:
    """Whole floats (a count read next to missing values) as ints: ``3.0`` -> ``3``."""
    return int(value) if isinstance(value, float) and value.is_integer() else value

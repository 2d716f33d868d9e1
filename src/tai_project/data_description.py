"""Reading the dataset description the same way in every stage.

The description is the ``dataset:`` block of ``conf/base/globals.yml``; parameters
``data_schema`` derive from it (classes, image size and mode, pixel range, the group
columns and their values, the data paths). With several group columns a row's group is
their intersection, the values joined by ``|`` (fairlearn's spelling of intersectional
groups), so one column gives exactly the column's values.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from tai_project.errors import ParameterError

GROUP_SEPARATOR = "|"
"""Joins the values of several group columns into one intersectional group."""


def group_columns(data_schema: Mapping[str, Any]) -> list[str]:
    """Return the group columns of the description (``data_schema.group_columns``); raise
    ``ParameterError`` when there is none, or ``groups`` gives no values for one of them."""
    columns = data_schema["group_columns"]
    columns = [columns] if isinstance(columns, str) else [str(column) for column in columns]
    unvalued = [c for c in columns if "groups" in data_schema and c not in data_schema["groups"]]
    if not columns or unvalued:
        raise ParameterError(
            f"The dataset description (dataset: in conf/base/globals.yml) has group_columns "
            f"{columns} and groups for {sorted(data_schema.get('groups') or {})}; expected at "
            "least one group column and its allowed values, e.g. group_columns: [scanner] "
            "and groups: {scanner: [x, y, z]}."
        )
    return columns


def group_title(data_schema: Mapping[str, Any]) -> str:
    """Return how plots and tables name the group: ``site``, or ``site x scanner``."""
    return " x ".join(group_columns(data_schema))


def group_of(table: pd.DataFrame, data_schema: Mapping[str, Any]) -> pd.Series:
    """Return each row's group as text: the value of the one group column, or the values of
    several joined by ``GROUP_SEPARATOR``."""
    columns = group_columns(data_schema)
    values = table[columns].astype(str)
    return values.iloc[:, 0] if len(columns) == 1 else values.agg(GROUP_SEPARATOR.join, axis=1)


def allowed_groups(data_schema: Mapping[str, Any]) -> list[str]:
    """Return every group the description allows: each combination of the group columns'
    values (``data_schema.groups``), spelt as ``group_of`` spells it."""
    levels = [[str(v) for v in data_schema["groups"][c]] for c in group_columns(data_schema)]
    return [GROUP_SEPARATOR.join(values) for values in itertools.product(*levels)]


def kept_columns(data_schema: Mapping[str, Any], extra: Sequence[str]) -> list[str]:
    """Return the metadata columns that pass data minimisation: ``image_id``, ``label``, the
    group columns, then the ``extra`` ones a user listed (each once, in that order)."""
    return list(dict.fromkeys(["image_id", "label", *group_columns(data_schema), *extra]))


def input_schema(data_schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a model trained on this data takes and predicts: image height, width,
    mode and the classes (as text); two models are comparable only when these are equal."""
    return {"image_height": int(data_schema["image_height"]),
            "image_width": int(data_schema["image_width"]),
            "image_mode": str(data_schema["image_mode"]),
            "classes": [str(c) for c in data_schema["classes"]]}


def describe_input(schema: Mapping[str, Any]) -> str:
    """Return an input schema in one phrase: ``8x8xL, 10 classes [0, 1, ...]``."""
    classes = list(schema["classes"])
    shown = ", ".join(classes[:6]) + (", ..." if len(classes) > 6 else "")
    return (f"{schema['image_height']}x{schema['image_width']}x{schema['image_mode']}, "
            f"{len(classes)} classes [{shown}]")

"""docs/trust_map.md cannot go stale: every node, requirement key and test it names exists,
and every cell of the paper's Table I has a row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from kedro.framework.project import configure_project, pipelines

from tests.conftest import PROJECT_ROOT

TRUST_MAP = PROJECT_ROOT / "docs" / "trust_map.md"
# Table I of the paper: the principles each CRISP-ML(Q) stage addresses
TABLE_I = {
    "data_understanding": {"FN", "PR", "RL"},
    "data_engineering": {"FN", "PR", "TR", "RL"},
    "model_engineering": {"AC", "FN", "PR", "TR", "RL"},
    "model_evaluation": {"FN", "RL", "TR"},
    "deployment": {"AC", "PR", "RL", "SE", "TR"},
    "monitoring": {"AC", "FN", "RL", "SE"},
}


def _rows() -> list[dict[str, str]]:
    lines = [ln for ln in TRUST_MAP.read_text().splitlines() if ln.startswith("| ")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=True))
            for ln in lines[1:]]


def _items(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


ROWS = _rows()


def test_every_cell_of_table_i_has_a_row():
    cells = {(row["stage"], row["principle"]) for row in ROWS}
    assert cells == {(stage, p) for stage, principles in TABLE_I.items() for p in principles}


def test_named_nodes_exist():
    configure_project(PROJECT_ROOT.joinpath("pyproject.toml").read_text().split('package_name = "')[1]
                      .split('"')[0])
    nodes = {node.name for node in pipelines["__default__"].nodes}
    named = {n for row in ROWS for n in _items(row["node"])}
    assert named and named - nodes == set()


def test_named_requirements_exist_and_name_their_metric():
    path = PROJECT_ROOT / "conf" / "base" / "parameters" / "trust_requirements.yml"
    shipped = yaml.safe_load(path.read_text())["trust_requirements"]
    keys = {f"{section}.{key}" for section, entries in shipped.items() for key in entries}
    for row in ROWS:
        for key in _items(row["requirement"]):
            assert key in keys, f"{row['stage']}/{row['principle']}: {key} is not in {path.name}"
            metric = key.split(".")[1].split("_", 1)[1]
            assert f"`{metric}" in row["metric"], f"{key}: metric {metric} missing in its row"


@pytest.mark.parametrize("test_id", sorted({t for row in ROWS for t in _items(row["test"])}))
def test_named_tests_exist(test_id):
    file, name = test_id.split("::")
    tree = ast.parse(Path(PROJECT_ROOT / file).read_text())
    assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}

"""Every parameter is validated when the session starts (issue 16, findings 4 and 5): an
unknown key, a wrong type or an out-of-range value stops the run before any data is read,
with a message naming the dotted key, the file (or --params), the value and what is valid."""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from kedro.config import OmegaConfigLoader

from tai_project.errors import ParameterError, RequirementsError
from tai_project.models import private_training
from tai_project.parameters_schema import (
    AttackName,
    AttributionMethod,
    ParameterSources,
    Privacy,
    validate_parameters,
)
from tai_project.trust import privacy, transparency
from tai_project.trust.requirements import parse_requirements
from tests.conftest import PROJECT_ROOT, run_kedro

FILES = ["conf/base/parameters.yml",
         *sorted(str(p.relative_to(PROJECT_ROOT))
                 for p in (PROJECT_ROOT / "conf/base/parameters").glob("*.yml"))]
TREES = [(name, yaml.safe_load((PROJECT_ROOT / name).read_text())) for name in FILES]
# resolved as a session resolves them (${globals:dataset.*} from conf/base/globals.yml)
SHIPPED = OmegaConfigLoader(conf_source=str(PROJECT_ROOT / "conf"), base_env="base",
                            default_run_env="base")["parameters"]


def _problem(dotted: str, value: Any, *, runtime: bool = False) -> str:
    """The message for the shipped parameters with ``dotted`` set to ``value``."""
    params, *keys, last = copy.deepcopy(SHIPPED), *dotted.split(".")
    node = params
    for key in keys:
        node = node[key]
    node[last] = value
    override: dict[str, Any] = {}
    if runtime:
        inner = override
        for key in keys:
            inner = inner.setdefault(key, {})
        inner[last] = value
    with pytest.raises(ParameterError) as caught:
        validate_parameters(params, ParameterSources(TREES, override))
    return str(caught.value)


def test_the_shipped_parameters_are_valid():
    validate_parameters(SHIPPED, ParameterSources(TREES))


@pytest.mark.parametrize(("dotted", "value", "expected"), [
    # the cases of finding 5
    ("model_engineering.training_setup.privacy.epoch", 3,
     "model_engineering.training_setup.privacy.epoch: unknown key "
     "(conf/base/parameters/model_engineering.yml); did you mean 'epochs'?"),
    ("model_engineering.training_setup.training.max_epochs", -1,
     "model_engineering.training_setup.training.max_epochs: Input should be greater than or "
     "equal to 1; found -1 (conf/base/parameters/model_engineering.yml)"),
    ("model_evaluation.conformal.alpha", 1.5,
     "model_evaluation.conformal.alpha: Input should be less than 1; found 1.5"),
    ("data_schema.image_mode", "Lx",
     "data_schema.image_mode: Input should be 'L' or 'RGB'; found 'Lx' (conf/base/parameters.yml)"),
    # further types, ranges and names
    ("model_engineering.training_setup.training.max_epochs", 2.5, "Input should be a valid integer"),
    ("model_engineering.training_setup.training.learning_rate", 0, "greater than 0; found 0"),
    ("model_engineering.training_setup.device", "gpu", "expected auto, cpu, cuda or cuda:<n>"),
    ("data_engineering.split.train", 0.7, "data_engineering.split: the four fractions must sum to 1"),
    ("model_evaluation.transparency.methods", ["saliency", "gradcam"],
     "model_evaluation.transparency.methods (item 1): Input should be 'integrated_gradients'"),
    ("model_evaluation.membership_inference.attacks", ["los"], "'loss' or 'confidence'; found 'los'"),
    ("model_engineering.training_setup.privacy.accountant", "rpd", "'prv', 'rdp' or 'gdp'"),
    ("data_engineering.perturbations.severities.gaussian_nois", [1.0],
     "severities.gaussian_nois: unknown key (conf/base/parameters/data_engineering.yml); "
     "did you mean 'gaussian_noise'?"),
    ("deployment.release.tagged_metrics", ["acuracy"], "found 'acuracy'"),
    ("monitoring.drift.n_permutations", 10, "too small to ever flag drift"),
    ("model_engineering.training_setup.network.groups", 5, "divisible by groups (5)"),
    ("seed", True, "seed: Input should be a valid integer; found True"),
])
def test_a_bad_parameter_is_named_with_its_file_value_and_valid_values(dotted, value, expected):
    assert expected in _problem(dotted, value)


def test_a_missing_key_is_named():
    params = copy.deepcopy(SHIPPED)
    del params["model_evaluation"]["conformal"]["method"]
    with pytest.raises(ParameterError, match=r"model_evaluation\.conformal\.method: missing "
                                             r"\(conf/base/parameters/model_evaluation\.yml\)"):
        validate_parameters(params, ParameterSources(TREES))


def test_a_runtime_value_is_traced_to_params():
    message = _problem("model_engineering.training_setup.privacy.epochs", "abc", runtime=True)
    assert ("model_engineering.training_setup.privacy.epochs: Input should be a valid integer; "
            "found 'abc' (--params)") in message


def test_the_schema_knows_the_names_the_code_knows():
    assert set(get_args(AttackName)) == set(privacy.ATTACKS)
    assert set(get_args(AttributionMethod)) == set(transparency.ATTRIBUTION_METHODS)
    config = {f.name for f in dataclasses.fields(private_training.PrivacyConfig)}
    assert set(Privacy.model_fields) == config | {"enabled"}
    for name, known in [("optimiser", private_training.OPTIMISERS),
                        ("accountant", private_training.ACCOUNTANTS),
                        ("grad_sample_mode", private_training.GRAD_SAMPLE_MODES)]:
        assert set(get_args(Privacy.model_fields[name].annotation)) == set(known)


# --- finding 4: a misspelt non_regression key used to switch that check off silently
def test_a_misspelt_non_regression_metric_is_refused_with_a_suggestion():
    requirements = copy.deepcopy(SHIPPED["trust_requirements"])
    requirements["non_regression"]["acuracy"] = requirements["non_regression"].pop("accuracy")
    with pytest.raises(RequirementsError) as caught:
        parse_requirements(requirements)
    assert ("trust_requirements.non_regression.acuracy: unknown metric, so this check would "
            "never run; did you mean 'accuracy'?") in str(caught.value)


# --- in a real session: refused before the MLflow store is opened or any data is read
def _nothing_written(project: Path) -> None:
    assert not (project / "mlflow.db").exists()
    assert not any((project / "data").glob("0[2-8]_*/**/*.*"))


def test_session_refuses_an_unknown_key_in_a_parameters_file(project):
    path = project / "conf/base/parameters/model_engineering.yml"
    path.write_text(path.read_text().replace("      epochs: 40", "      epoch: 40"))
    with pytest.raises(ParameterError) as caught:
        run_kedro(project)
    message = str(caught.value)
    assert ("model_engineering.training_setup.privacy.epoch: unknown key "
            "(conf/base/parameters/model_engineering.yml); did you mean 'epochs'?") in message
    _nothing_written(project)


def test_session_refuses_a_misspelt_non_regression_metric(project):
    regression = {"greater_is_better": True, "max_absolute_worsening": 0.0,
                  "max_relative_worsening": None}
    with pytest.raises(RequirementsError, match=r"non_regression\.acuracy: unknown metric"):
        run_kedro(project, params={"trust_requirements": {"non_regression": {"acuracy": regression}}})
    _nothing_written(project)


def test_cli_params_of_the_wrong_type_exit_non_zero_naming_the_key(project):
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "250"}
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--params",
         "model_engineering.training_setup.privacy.epochs=abc"],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ParameterError" in output
    assert "model_engineering.training_setup.privacy.epochs" in output
    assert "found 'abc' (--params)" in output
    _nothing_written(project)

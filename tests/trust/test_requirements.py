import math

import pytest

from tai_project.errors import RequirementsError
from tai_project.trust.requirements import check_requirements, parse_requirements
from tests.conftest import shipped_requirements

VALID = shipped_requirements(**{
    "data.min_group_share": 0.15,
    "reliability.min_accuracy": 0.9,
    "fairness.min_worst_group_accuracy": 0.8,
    "fairness.max_accuracy_gap": 0.1,
})


def _with(section: str, key: str, value) -> dict:
    return {**VALID, section: {**VALID[section], key: value}}


def test_valid_requirements_parse():
    assert parse_requirements(VALID).fairness.max_accuracy_gap == 0.1


def test_unknown_key_is_named_with_the_valid_keys():
    with pytest.raises(RequirementsError) as error:
        parse_requirements(_with("fairness", "max_acuracy_gap", 0.1))
    message = str(error.value)
    assert "trust_requirements.fairness.max_acuracy_gap: unknown key" in message
    assert "'max_accuracy_gap'" in message and "'min_worst_group_accuracy'" in message


def test_unknown_section_is_named():
    with pytest.raises(RequirementsError, match=r"trust_requirements\.safety: unknown key"):
        parse_requirements({**VALID, "safety": {}})


@pytest.mark.parametrize("value", ["high", True, [0.9]])
def test_wrong_type_is_named(value):
    with pytest.raises(RequirementsError, match=r"trust_requirements\.reliability\.min_accuracy"):
        parse_requirements(_with("reliability", "min_accuracy", value))


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_rate_outside_unit_interval_is_refused(value):
    with pytest.raises(RequirementsError, match=r"min_accuracy: Input should be (greater|less)"):
        parse_requirements(_with("reliability", "min_accuracy", value))


def test_missing_key_must_be_written_or_switched_off():
    fairness = {k: v for k, v in VALID["fairness"].items() if k != "max_accuracy_gap"}
    with pytest.raises(RequirementsError, match=r"fairness\.max_accuracy_gap: missing"):
        parse_requirements({**VALID, "fairness": fairness})


def test_gate_checks_min_and_max_directions():
    report = check_requirements(
        parse_requirements(VALID),
        {"group_share": 0.25, "accuracy": 0.95, "worst_group_accuracy": 0.7, "accuracy_gap": 0.1},
    )
    status = {c.requirement: c.status for c in report.checks if c.status != "off"}
    assert status == {
        "min_group_share": "pass",
        "min_accuracy": "pass",
        "min_worst_group_accuracy": "fail",
        "max_accuracy_gap": "pass",  # equal to the threshold passes
    }
    assert not report.passed
    assert [c.requirement for c in report.failures] == ["min_worst_group_accuracy"]


@pytest.mark.parametrize("measured", [{}, {"accuracy": math.nan}])
def test_missing_or_nan_metric_fails(measured):
    requirements = parse_requirements(VALID)
    report = check_requirements(requirements, measured)
    accuracy = next(c for c in report.checks if c.requirement == "min_accuracy")
    assert accuracy.status == "fail" and accuracy.measured is None


def test_switched_off_requirement_is_reported_off_and_does_not_block():
    requirements = parse_requirements(_with("reliability", "min_accuracy", None))
    report = check_requirements(
        requirements,
        {"group_share": 0.25, "accuracy": 0.1, "worst_group_accuracy": 0.9, "accuracy_gap": 0.0},
    )
    assert report.passed
    assert next(c for c in report.checks if c.requirement == "min_accuracy").status == "off"
    assert "OFF" in report.table()


def test_report_round_trips_through_dict():
    report = check_requirements(parse_requirements(VALID), {"accuracy": 0.95})
    assert type(report).from_dict(report.to_dict()) == report

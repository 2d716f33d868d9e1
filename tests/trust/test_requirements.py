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


# --- non-regression against the champion (issue 8)
from tai_project.trust.requirements import AllowedWorsening, worst_allowed  # noqa: E402

REGRESSION = {**VALID, "non_regression": {
    "accuracy": {"greater_is_better": True, "max_absolute_worsening": 0.02,
                 "max_relative_worsening": 0.01},
    "ece": {"greater_is_better": False, "max_absolute_worsening": 0.01,
            "max_relative_worsening": None},
    "mia_auc": None,
}}
BASE = {"group_share": 0.25, "accuracy": 0.95, "worst_group_accuracy": 0.9, "accuracy_gap": 0.0,
        "ece": 0.03, "mia_auc": 0.7}


def _rows(report):
    return {c.metric: c for c in report.checks if c.principle == "non_regression"}


def test_worst_allowed_is_the_stricter_margin_by_hand():
    allowed = AllowedWorsening(greater_is_better=True, max_absolute_worsening=0.02,
                               max_relative_worsening=0.01)
    assert worst_allowed(0.96, allowed) == pytest.approx(0.9504)   # 0.96 - 0.0096 > 0.96 - 0.02
    lower = AllowedWorsening(greater_is_better=False, max_absolute_worsening=0.01,
                             max_relative_worsening=0.5)
    assert worst_allowed(0.03, lower) == pytest.approx(0.04)       # min(0.04, 0.045)


def test_regression_beyond_the_margin_blocks_a_model_that_meets_every_threshold():
    champion = {"champion.version": 3, "champion.accuracy": 0.97, "champion.ece": 0.03}
    report = check_requirements(parse_requirements(REGRESSION), {**BASE, **champion})
    rows = _rows(report)
    # accuracy: bound max(0.97 - 0.02, 0.97 * 0.99) = 0.9603 > 0.95 -> fail
    assert rows["accuracy"].status == "fail" and rows["accuracy"].threshold == pytest.approx(0.9603)
    assert rows["accuracy"].requirement == "accuracy vs champion v3"
    assert rows["ece"].status == "pass" and rows["ece"].threshold == pytest.approx(0.04)
    assert rows["mia_auc"].status == "off"
    assert not report.passed and report.champion_version == "3"
    assert [c.metric for c in report.failures] == ["accuracy"]


def test_within_the_margin_passes_and_no_champion_is_not_applicable():
    champion = {"champion.version": 1, "champion.accuracy": 0.955, "champion.ece": 0.035}
    assert check_requirements(parse_requirements(REGRESSION), {**BASE, **champion}).passed
    first = check_requirements(parse_requirements(REGRESSION), BASE)
    assert first.passed and first.champion_version is None
    assert {c.status for c in _rows(first).values()} == {"n/a", "off"}
    assert "N/A" in first.table()


def test_missing_challenger_metric_fails_non_regression():
    measured = {k: v for k, v in BASE.items() if k != "ece"}
    report = check_requirements(parse_requirements(REGRESSION),
                                {**measured, "champion.version": 1, "champion.ece": 0.03})
    assert _rows(report)["ece"].status == "fail"


def test_report_keeps_own_metrics_not_the_champions():
    report = check_requirements(parse_requirements(REGRESSION),
                                {**BASE, "champion.version": 1, "champion.accuracy": 0.9})
    assert report.measured == BASE
    assert report.to_dict()["measured"] == BASE and "table" in report.to_dict()


def test_unknown_key_in_a_non_regression_entry_is_named():
    bad = {**REGRESSION, "non_regression": {"accuracy": {
        "greater_is_better": True, "max_absolute_worsening": 0.1, "max_relative_worsening": None,
        "max_worsening": 0.1}}}
    with pytest.raises(RequirementsError) as error:
        parse_requirements(bad)
    assert "non_regression.accuracy.max_worsening: unknown key" in str(error.value)
    assert "'max_absolute_worsening'" in str(error.value)


def test_negative_allowed_worsening_is_refused():
    bad = {**REGRESSION, "non_regression": {"accuracy": {
        "greater_is_better": True, "max_absolute_worsening": -0.1, "max_relative_worsening": None}}}
    with pytest.raises(RequirementsError, match=r"non_regression\.accuracy\.max_absolute_worsening"):
        parse_requirements(bad)

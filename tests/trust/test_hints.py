"""What to try when the gate refuses: the hint mapping, picked by the run's settings."""

from __future__ import annotations

import pytest
import yaml

from tai_project.trust.hints import HINTS, TrainingSettings, hints_for, render_hints
from tai_project.trust.requirements import TrustRequirements, check_requirements, parse_requirements
from tests.conftest import PROJECT_ROOT, shipped_requirements

DP = TrainingSettings(differential_privacy=True, fairness_mitigation="none", temperature_scaling=True)
NO_DP = TrainingSettings(differential_privacy=False, fairness_mitigation="reweight_groups",
                         temperature_scaling=False)
PARAMETERS = {}
for path in (PROJECT_ROOT / "conf" / "base" / "parameters").glob("*.yml"):
    PARAMETERS |= yaml.safe_load(path.read_text())


def _known_key(dotted: str) -> bool:
    node = PARAMETERS
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_requirement_has_a_hint_under_every_setting():
    requirements = [f"{principle}.{name}" for principle, section in TrustRequirements.model_fields.items()
                    if principle != "non_regression"
                    for name in section.annotation.model_fields]
    assert sorted(HINTS) == sorted(requirements)
    for key in requirements:
        for settings in (DP, NO_DP):
            assert hints_for(*key.split("."), key.split("_", 1)[1], settings), (key, settings)


def test_every_parameter_a_hint_names_exists():
    import re  # noqa: PLC0415

    named = {match for _, text in (h for hints in HINTS.values() for h in hints)
             for match in re.findall(r"\b(?:model_engineering|model_evaluation|data_engineering|"
                                     r"trust_requirements)\.[a-z_.]+[a-z]", text)}
    assert named and not [key for key in named if not _known_key(key)], named


def test_accuracy_under_dp_points_at_dp_knobs_and_the_tradeoff_bench():
    hints = " ".join(hints_for("reliability", "min_accuracy", "accuracy", DP))
    for knob in ("privacy.epochs", "privacy.learning_rate", "privacy.max_grad_norm",
                 "make bench-privacy"):
        assert knob in hints
    assert "training.max_epochs" not in hints
    plain = " ".join(hints_for("reliability", "min_accuracy", "accuracy", NO_DP))
    assert "training.max_epochs" in plain and "privacy." not in plain


@pytest.mark.parametrize(("requirement", "metric", "settings", "present", "absent"), [
    ("min_worst_group_accuracy", "worst_group_accuracy", DP, "reweight_groups (every group",
     "already reweight_groups"),
    ("min_worst_group_accuracy", "worst_group_accuracy", NO_DP, "already reweight_groups",
     "reweight_groups (every group"),
    ("max_ece", "ece", NO_DP, "temperature_scaling: true", "temperature scaling is on"),
    ("max_ece", "ece", DP, "temperature scaling is on", "temperature_scaling: true"),
    ("max_epsilon", "epsilon", NO_DP, "privacy.enabled: true", "target_epsilon at or below"),
    ("max_epsilon", "epsilon", DP, "target_epsilon at or below", "privacy.enabled: true"),
])
def test_the_hint_follows_the_settings(requirement, metric, settings, present, absent):
    principle = next(key.split(".")[0] for key in HINTS if key.endswith(f".{requirement}"))
    text = " ".join(hints_for(principle, requirement, metric, settings))
    assert present in text and absent not in text


def test_gate_report_carries_hints_for_failures_only_and_renders_them():
    raw = shipped_requirements(**{"reliability.min_accuracy": 0.99})
    raw["non_regression"]["accuracy"] = {"greater_is_better": True, "max_absolute_worsening": 0.02,
                                         "max_relative_worsening": None}
    requirements = parse_requirements(raw)
    measured = {"accuracy": 0.5, "champion.version": 1, "champion.accuracy": 0.9}
    report = check_requirements(requirements, measured).with_hints(DP)
    assert "reliability.min_accuracy" in report.hints
    assert "non_regression.accuracy vs champion v1" in report.hints
    assert all(key in {f"{c.principle}.{c.requirement}" for c in report.failures}
               for key in report.hints)
    assert "make rollback" in report.hints["non_regression.accuracy vs champion v1"][0]
    table = report.table()
    assert "What to try:" in table and "make bench-privacy" in table
    again = type(report).from_dict(report.to_dict())
    assert again.hints == report.hints and again.table() == table
    passing = check_requirements(parse_requirements(shipped_requirements(
        **{"reliability.min_accuracy": 0.1})), {"accuracy": 0.5})
    assert render_hints({}) == "" and "What to try" not in passing.with_hints(DP).table()

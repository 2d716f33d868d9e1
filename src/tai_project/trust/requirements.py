"""Trust requirements as data, and the gate that checks measured metrics against them.

``trust_requirements.yml`` has one section per trust principle. Each key is named
``min_<metric>`` or ``max_<metric>``: the gate compares the measured ``<metric>`` with the
threshold in that direction. Every key must be present; ``null`` switches a requirement off
explicitly and the gate report then shows it as ``off``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tai_project.errors import RequirementsError

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
"""A threshold on a proportion (accuracy, share, gap): a float in [0, 1]."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DataRequirements(_Section):
    """Requirements on the training data (data understanding stage)."""

    min_group_share: Rate | None


class ReliabilityRequirements(_Section):
    """Reliability (RL): how often the model is right on held-out data, how well its
    confidence is calibrated, and how robust it is to corruptions and attacks."""

    min_accuracy: Rate | None
    max_ece: Rate | None
    min_conformal_coverage: Rate | None
    min_mean_corruption_accuracy: Rate | None
    min_adversarial_accuracy: Rate | None


class FairnessRequirements(_Section):
    """Fairness (FN): accuracy across the sensitive groups."""

    min_worst_group_accuracy: Rate | None
    max_accuracy_gap: Rate | None
    max_equalized_odds_difference: Rate | None


class TransparencyRequirements(_Section):
    """Transparency (TR): explanations must point at the pixels the model relies on."""

    min_deletion_faithfulness_ratio: Annotated[float, Field(ge=0.0)] | None


class PrivacyRequirements(_Section):
    """Privacy (PR): the differential-privacy budget spent in training (Opacus accountant;
    infinite without DP) and how well a membership-inference attack does (the strongest of
    the threshold attacks in ``trust/privacy.py``)."""

    max_epsilon: Annotated[float, Field(gt=0.0)] | None
    max_mia_auc: Rate | None
    max_mia_tpr_at_1pct_fpr: Rate | None


class AutonomyRequirements(_Section):
    """Autonomy & control (AC): how much the model decides alone, and how well it does on the
    cases it does not refer to a human."""

    max_abstention_rate: Rate | None
    min_selective_accuracy: Rate | None


class TrustRequirements(_Section):
    """All written trust requirements, one section per principle."""

    data: DataRequirements
    reliability: ReliabilityRequirements
    fairness: FairnessRequirements
    privacy: PrivacyRequirements
    autonomy: AutonomyRequirements
    transparency: TransparencyRequirements


def parse_requirements(raw: Mapping[str, Any], *, source: str = "trust_requirements") -> TrustRequirements:
    """Return the validated requirements, or raise ``RequirementsError`` naming each bad key.

    The message gives the full key path (``trust_requirements.fairness.max_accuracy_gap``),
    what was found, what is expected, and for an unknown key the valid keys at that level.
    """
    try:
        return TrustRequirements.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = [_describe_error(error, source) for error in exc.errors()]
        raise RequirementsError(
            f"{len(problems)} problem(s) in {source} (conf/base/parameters/trust_requirements.yml):\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        ) from None


def _describe_error(error: Mapping[str, Any], source: str) -> str:
    loc = tuple(str(part) for part in error["loc"])
    key = ".".join((source, *loc))
    if error["type"] == "extra_forbidden":
        model: type[BaseModel] = TrustRequirements
        for part in loc[:-1]:
            model = model.model_fields[part].annotation
        return f"{key}: unknown key; valid keys here are {sorted(model.model_fields)}"
    if error["type"] == "missing":
        return f"{key}: missing; write a threshold, or null to switch the requirement off explicitly"
    return f"{key}: {error['msg']} (found {error.get('input')!r})"


@dataclass(frozen=True)
class RequirementCheck:
    """One row of the gate table."""

    principle: str
    requirement: str
    metric: str
    measured: float | None
    threshold: float | None
    status: Literal["pass", "fail", "off"]


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict: one check per requirement; it passes when no check failed."""

    checks: tuple[RequirementCheck, ...]

    @property
    def passed(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    @property
    def failures(self) -> tuple[RequirementCheck, ...]:
        return tuple(check for check in self.checks if check.status == "fail")

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(check) for check in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReport:
        return cls(checks=tuple(RequirementCheck(**check) for check in data["checks"]))

    def table(self) -> str:
        """Return the gate as a fixed-width text table: principle, requirement, measured,
        threshold, status."""
        header = ("principle", "requirement", "measured", "threshold", "status")
        rows = [header] + [
            (c.principle, c.requirement, _fmt(c.measured), _fmt(c.threshold), c.status.upper())
            for c in self.checks
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def check_requirements(
    requirements: TrustRequirements, measured: Mapping[str, float]
) -> GateReport:
    """Return the gate report: each ``min_X``/``max_X`` requirement checked against ``measured[X]``.

    A metric that was not measured, or is NaN, fails its requirement: a gate must never pass
    on missing evidence.
    """
    checks = []
    for principle, section in requirements:
        for requirement, threshold in section:
            direction, metric = requirement.split("_", 1)
            value = measured.get(metric)
            value = None if value is None or math.isnan(value) else float(value)
            if threshold is None:
                status = "off"
            elif value is None:
                status = "fail"
            elif direction == "min":
                status = "pass" if value >= threshold else "fail"
            else:
                status = "pass" if value <= threshold else "fail"
            checks.append(
                RequirementCheck(principle, requirement, metric, value, threshold, status)
            )
    return GateReport(checks=tuple(checks))

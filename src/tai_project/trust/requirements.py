"""Trust requirements as data, and the gate that checks measured metrics against them.

``trust_requirements.yml`` has one section per trust principle. Each key is named
``min_<metric>`` or ``max_<metric>``: the gate compares the measured ``<metric>`` with the
threshold in that direction. Every key must be present; ``null`` switches a requirement off
explicitly and the gate report then shows it as ``off``.

Its ``non_regression`` section compares the challenger with the current champion, in the
spirit of MLflow's ``MetricThreshold`` (``mlflow.models.MetricThreshold``: a candidate
passes when it is no worse than the baseline by more than an absolute and a relative
margin). The champion's metrics reach the gate as ``champion.<metric>`` entries of the
measured metrics (``champion.version`` names the version).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from tai_project.errors import RequirementsError
from tai_project.trust.hints import TrainingSettings, gate_hints, render_hints

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


class AllowedWorsening(_Section):
    """How much worse than the champion one metric may be (MLflow ``MetricThreshold`` in
    spirit). ``greater_is_better`` gives the direction; either margin may be ``null`` (not
    checked). Both given: the challenger must stay within both, i.e. the stricter bound."""

    greater_is_better: bool
    max_absolute_worsening: Annotated[float, Field(ge=0.0)] | None
    max_relative_worsening: Annotated[float, Field(ge=0.0)] | None


class TrustRequirements(_Section):
    """All written trust requirements, one section per principle, and the allowed
    worsening against the champion per metric (``null`` for a metric switches it off)."""

    data: DataRequirements
    reliability: ReliabilityRequirements
    fairness: FairnessRequirements
    privacy: PrivacyRequirements
    autonomy: AutonomyRequirements
    transparency: TransparencyRequirements
    non_regression: dict[str, AllowedWorsening | None] = Field(default_factory=dict)

    @field_validator("non_regression")
    @classmethod
    def _known_metrics(cls, value: dict[str, Any]) -> dict[str, Any]:
        """A misspelt metric would never be measured and its row silently says n/a."""
        for metric in value:
            if metric not in COMPARABLE_METRICS:
                raise PydanticCustomError("unknown_metric", "unknown metric", {"metric": metric})
        return value


def _required_metrics() -> tuple[str, ...]:
    sections = [f.annotation for name, f in TrustRequirements.model_fields.items()
                if name != "non_regression"]
    return tuple(key.split("_", 1)[1] for section in sections for key in section.model_fields)


COMPARABLE_METRICS: tuple[str, ...] = (*_required_metrics(),
    # further metrics every model_evaluation run measures under these names
    "brier_score", "mce", "aurc", "fgsm_accuracy", "pgd_accuracy", "conformal_mean_set_size",
    "mia_advantage", "relative_corruption_drop", "representation_ratio", "accuracy_ratio")
"""The metrics the gate can compare with the champion (``non_regression`` keys): those the
requirements name plus the other scalar metrics of every run (gate report ``measured``)."""


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
        model: Any = TrustRequirements
        for part in loc[:-1]:
            fields = getattr(model, "model_fields", {})
            model = fields[part].annotation if part in fields else AllowedWorsening
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{key}: unknown key; {hint}valid keys here are {sorted(model.model_fields)}"
    if error["type"] == "unknown_metric":
        metric = error["ctx"]["metric"]
        close = difflib.get_close_matches(metric, COMPARABLE_METRICS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return (f"{key}.{metric}: unknown metric, so this check would never run; {hint}"
                f"the gate can compare {sorted(COMPARABLE_METRICS)}")
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
    status: Literal["pass", "fail", "off", "n/a"]


@dataclass(frozen=True)
class GateReport:
    """The gate's verdict: one check per requirement; it passes when no check failed.

    ``measured`` keeps every metric the gate saw (not only the checked ones) so a later
    challenger can be compared with this model once it is champion; ``champion_version``
    is the version the non-regression rows compared with (``None``: no champion yet);
    ``evidence`` holds the SHA-256 of the network, model input and requirements measured
    (``tai_project.evidence``), so nothing else can be registered under this verdict;
    ``hints`` says, per failed requirement, what usually moves it (``trust/hints.py``)."""

    checks: tuple[RequirementCheck, ...]
    measured: dict[str, float] = field(default_factory=dict, compare=False)
    champion_version: str | None = None
    # the SHA-256 of what was measured: network_sha256, data_sha256, requirements_sha256
    evidence: dict[str, str] = field(default_factory=dict, compare=False)
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @property
    def passed(self) -> bool:
        return all(check.status != "fail" for check in self.checks)

    @property
    def failures(self) -> tuple[RequirementCheck, ...]:
        return tuple(check for check in self.checks if check.status == "fail")

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "checks": [asdict(check) for check in self.checks],
            "champion_version": self.champion_version,
            "table": self.table(),
            "measured": dict(self.measured),
            "evidence": dict(self.evidence),
            "hints": {key: list(texts) for key, texts in self.hints.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReport:
        return cls(
            checks=tuple(RequirementCheck(**check) for check in data["checks"]),
            measured=dict(data.get("measured", {})),
            champion_version=data.get("champion_version"),
            evidence=dict(data.get("evidence") or {}),
            hints={key: tuple(texts) for key, texts in data.get("hints", {}).items()},
        )

    def with_hints(self, settings: TrainingSettings) -> GateReport:
        """Return this report with, per failed requirement, the hints that apply under
        ``settings`` (``trust/hints.py``)."""
        return replace(self, hints=gate_hints(self.failures, settings))

    def table(self) -> str:
        """Return the gate as a fixed-width text table: principle, requirement, measured,
        threshold, status; then, if a requirement failed, what to try for each."""
        header = ("principle", "requirement", "measured", "threshold", "status")
        rows = [header] + [
            (c.principle, c.requirement, _fmt(c.measured), _fmt(c.threshold), c.status.upper())
            for c in self.checks
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join([*lines, render_hints(self.hints)]).rstrip("\n")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


CHAMPION_PREFIX = "champion."
"""Measured metrics named ``champion.<metric>`` are the champion's, for non-regression."""


def check_requirements(
    requirements: TrustRequirements, measured: Mapping[str, float]
) -> GateReport:
    """Return the gate report: each ``min_X``/``max_X`` requirement checked against
    ``measured[X]``, then each ``non_regression`` metric against ``measured["champion.X"]``.

    A metric that was not measured, or is NaN, fails its requirement: a gate must never pass
    on missing evidence. Without a champion (no ``champion.*`` values) the non-regression
    rows say ``n/a``.
    """
    values = {k: _number(v) for k, v in measured.items()}
    checks = []
    for principle, section in requirements:
        if principle == "non_regression":
            continue
        for requirement, threshold in section:
            direction, metric = requirement.split("_", 1)
            value = values.get(metric)
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
    champion = values.get(f"{CHAMPION_PREFIX}version")
    version = None if champion is None else str(int(champion))
    checks += [
        _regression_check(metric, allowed, values.get(metric),
                          values.get(f"{CHAMPION_PREFIX}{metric}"), version)
        for metric, allowed in requirements.non_regression.items()
    ]
    own = {k: v for k, v in values.items() if v is not None and not k.startswith(CHAMPION_PREFIX)}
    return GateReport(checks=tuple(checks), measured=own, champion_version=version)


def worst_allowed(champion_value: float, allowed: AllowedWorsening) -> float | None:
    """Return the worst challenger value still allowed: the stricter of champion - absolute
    and champion - relative * |champion| (mirrored for lower-is-better metrics), as in
    MLflow's ``MetricThreshold`` (``min_absolute_change`` / ``min_relative_change`` with
    negative changes); ``None`` when neither margin is set."""
    sign = 1.0 if allowed.greater_is_better else -1.0
    bounds = []
    if allowed.max_absolute_worsening is not None:
        bounds.append(champion_value - sign * allowed.max_absolute_worsening)
    if allowed.max_relative_worsening is not None:
        bounds.append(champion_value - sign * allowed.max_relative_worsening * abs(champion_value))
    if not bounds:
        return None
    return max(bounds) if allowed.greater_is_better else min(bounds)


def _regression_check(
    metric: str,
    allowed: AllowedWorsening | None,
    value: float | None,
    champion_value: float | None,
    champion_version: str | None,
) -> RequirementCheck:
    name = f"{metric} vs champion" + (f" v{champion_version}" if champion_version else "")
    if allowed is None:
        return RequirementCheck("non_regression", name, metric, value, None, "off")
    if champion_value is None:  # no champion yet, or it never measured this metric
        return RequirementCheck("non_regression", name, metric, value, None, "n/a")
    bound = worst_allowed(champion_value, allowed)
    if bound is None:
        return RequirementCheck("non_regression", name, metric, value, None, "off")
    if value is None:
        status = "fail"
    elif allowed.greater_is_better:
        status = "pass" if value >= bound else "fail"
    else:
        status = "pass" if value <= bound else "fail"
    return RequirementCheck("non_regression", name, metric, value, bound, status)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value

"""Nodes of the deployment stage."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from tai_project import image_layout
from tai_project.data_description import input_schema
from tai_project.datasets.champion_input import INPUT_SCHEMA_TAG
from tai_project.errors import EvidenceError, TrustGateError
from tai_project.evidence import RERUN, evidence_mismatches, measure_evidence
from tai_project.lazy import lazy_module
from tai_project.reporting.model_card import build_card, render_html, render_markdown
from tai_project.trust.hints import render_hints
from tai_project.trust.requirements import GateReport, RequirementCheck

if TYPE_CHECKING:
    from tai_project.datasets.model_registry import ModelRelease
    from tai_project.models.network import SmallCNN

model_registry = lazy_module("tai_project.datasets.model_registry")

logger = logging.getLogger(__name__)


def prepare_release(  # noqa: PLR0913, PLR0917 - a Kedro node takes its inputs by position
    network: SmallCNN,
    gate_report: dict[str, Any],
    model_input: dict[str, np.ndarray],
    data_schema: dict[str, Any],
    params: dict[str, Any],
    inference_policy: dict[str, float] | None = None,
    lineage: dict[str, Any] | None = None,
    trust_requirements: dict[str, Any] | None = None,
) -> ModelRelease:
    """Return the release the registry records: network, labels, an input example, the
    gate verdict and report, the failures as sentences, tags (verdict, failed requirements,
    key metrics, data version, git commit), the inference policy (temperature, referral
    threshold), the input limits the served model enforces, whether a human must approve
    the promotion, and the evidence hashes of what is released (network, model input,
    requirements). Raise ``EvidenceError`` when they differ from what the gate measured
    (``tai_project.evidence``): nothing is registered then."""
    found = measure_evidence(network, model_input, trust_requirements or {})
    mismatches = evidence_mismatches(gate_report.get("evidence"), found)
    if mismatches:
        raise EvidenceError(
            "The gate report in data/08_reporting/gate_report.json does not describe what "
            "would be deployed:\n" + "\n".join(f"  - {m}" for m in mismatches)
            + f"\nNothing was registered and 'champion' is unchanged. {RERUN}")
    report = GateReport.from_dict(gate_report)
    lineage = lineage or {}
    tags = {
        "failed_requirements": ",".join(c.requirement for c in report.failures) or "none",
        **{name: f"{gate_report['measured'][name]:.4f}" for name in params["tagged_metrics"]},
        **{key: str(lineage[key]) for key in ("data_version", "git_commit", "git_dirty")
           if key in lineage},
        INPUT_SCHEMA_TAG: json.dumps(input_schema(data_schema)),  # non-regression compares it
    }
    shape = image_layout.image_shape(data_schema)  # [height, width, channels]: channels-last
    return model_registry.ModelRelease(
        network=network,
        labels=list(data_schema["classes"]),
        input_example=model_input["test_pixels"][: params["input_example_size"]].astype(np.float32),
        gate_passed=report.passed,
        tags=tags,
        confidence_threshold=(inference_policy or {}).get("confidence_threshold"),
        temperature=(inference_policy or {}).get("temperature", 1.0),
        gate_report=dict(gate_report),
        failures=[_failure(c) for c in report.failures],
        human_approval_required=bool(params["human_approval_required"]),
        input_limits={"image_shape": shape, "pixel_range": list(data_schema["pixel_range"]),
                      "max_batch_size": params["max_batch_size"]},
        evidence={k: v for k, v in found.items() if k != "network_sha256"},
    )


def _failure(check: RequirementCheck) -> str:
    measured = "not measured" if check.measured is None else f"{check.measured:.4f}"
    if check.principle == "non_regression":
        return (f"non_regression.{check.requirement}: measured {measured}, the worst "
                f"allowed is {check.threshold:.4f}")
    sign = ">=" if check.requirement.startswith("min_") else "<="
    return f"{check.principle}.{check.requirement}: measured {measured}, required {sign} {check.threshold}"


def build_model_card(  # noqa: PLR0917 - a Kedro node takes its inputs by position
    content: dict[str, Any],
    gate_report: dict[str, Any],
    registry_state: dict[str, Any],
    lineage: dict[str, Any],
    data_profile: dict[str, Any],
    privacy_budget: dict[str, Any],
    training_history: list[dict[str, float]],
    model_engineering: dict[str, Any],
    images: dict[str, dict[str, str]],
    sensitive_features: list[str] | None = None,
) -> tuple[str, dict[str, Any], str]:
    """Return the model card as HTML (self-contained), JSON and Markdown: intended use and
    limits, data, training, each principle's metrics with its plots, the gate and lineage.
    ``sensitive_features`` name the per-group fairness metrics (``{groups}`` in patterns)."""
    setup = model_engineering["training_setup"]
    dp = setup["privacy"]
    training = {
        "differential_privacy": bool(privacy_budget.get("enabled", dp["enabled"])),
        "epochs_run": len(training_history),
        "epsilon": privacy_budget.get("epsilon"),
        "delta": privacy_budget.get("delta"),
        "noise_multiplier": privacy_budget.get("noise_multiplier"),
        "fairness_mitigation": setup["fairness_mitigation"],
        **_flatten(dp if dp["enabled"] else setup["training"],
                   "privacy" if dp["enabled"] else "training"),
        **_flatten(setup["network"], "network"),
    }
    card = build_card(content=content, gate_report=gate_report, registry_state=registry_state,
                      lineage=lineage, data_profile=data_profile, training=training,
                      image_names=sorted(images), sensitive_features=sensitive_features or ())
    return render_html(card, images), card, render_markdown(card)


def _flatten(values: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {f"{prefix}.{key}": value if isinstance(value, int | float | str | bool) or value is None
            else str(value) for key, value in values.items()}


def enforce_trust_gate(
    gate_report: dict[str, Any], registry_state: dict[str, Any], model_card: dict[str, Any]
) -> dict[str, Any]:
    """Raise ``TrustGateError`` listing each failed requirement if any failed; else return
    the deployment record (verdict, the versions the aliases point to, whether a human
    approval is pending). Runs after the model card so a rejected model has one too."""
    report = GateReport.from_dict(gate_report)
    record = {"gate_passed": report.passed, **registry_state,
              "model_card_verdict": model_card["gate"]["verdict"]}
    version = registry_state.get("registered_version", registry_state["challenger"])
    if not report.passed:
        failures = "\n".join(f"  - {_failure(c)}" for c in report.failures)
        regression = any(c.principle == "non_regression" for c in report.failures)
        what_to_try = render_hints(report.hints)
        raise TrustGateError(
            f"The model missed {len(report.failures)} trust requirement(s):\n{failures}\n"
            + (f"{what_to_try}\n" if what_to_try else "") +
            f"It is registered as version {version} of "
            f"'{registry_state['registered_model_name']}' with alias 'challenger'; "
            + (f"'champion' still points to version {registry_state['champion']}.\n"
               if registry_state.get("champion") else "there is no champion yet.\n") +
            "To proceed: improve the model or data (see the gate report in "
            "data/08_reporting/gate_report.json and the model card next to it), or, with the "
            "sign-off of whoever owns the requirements, change "
            "conf/base/parameters/trust_requirements.yml and run again."
            + ("\nA regression is measured against the current champion: if the champion "
               "itself is wrong, roll it back first (make rollback VERSION=<n> ACTOR=... "
               "REASON=...)." if regression else "")
        )
    if registry_state.get("approval") == "pending":
        logger.warning(
            "Version %s passed the trust gate and waits for a human approval; 'champion' "
            "still points to version %s. To promote it: make approve VERSION=%s "
            "APPROVER='<your name>' REASON='<why>'.",
            version, registry_state["champion"], version)
    else:
        logger.info("Version %s is now the champion.", registry_state["champion"])
    return record

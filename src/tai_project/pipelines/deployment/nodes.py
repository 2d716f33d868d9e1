"""Nodes of the deployment stage."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tai_project.datasets.model_registry import ModelRelease
from tai_project.errors import TrustGateError
from tai_project.models.network import SmallCNN
from tai_project.trust.requirements import GateReport

logger = logging.getLogger(__name__)


def prepare_release(  # noqa: PLR0917 - a Kedro node takes its inputs by position
    network: SmallCNN,
    gate_report: dict[str, Any],
    performance_metrics: dict[str, float],
    model_input: dict[str, np.ndarray],
    data_schema: dict[str, Any],
    params: dict[str, Any],
    inference_policy: dict[str, float] | None = None,
) -> ModelRelease:
    """Return the release the registry records: network, labels, an input example, the
    gate verdict, tags (verdict, failed requirements, key metrics) and the inference policy
    (temperature, referral threshold) the deployed model applies."""
    report = GateReport.from_dict(gate_report)
    tags = {
        "failed_requirements": ",".join(c.requirement for c in report.failures) or "none",
        **{name: f"{performance_metrics[name]:.4f}" for name in params["tagged_metrics"]},
    }
    return ModelRelease(
        network=network,
        labels=list(data_schema["classes"]),
        input_example=model_input["test_pixels"][: params["input_example_size"]].astype(np.float32),
        gate_passed=report.passed,
        tags=tags,
        confidence_threshold=(inference_policy or {}).get("confidence_threshold"),
        temperature=(inference_policy or {}).get("temperature", 1.0),
    )


def enforce_trust_gate(
    gate_report: dict[str, Any], registry_state: dict[str, Any]
) -> dict[str, Any]:
    """Raise ``TrustGateError`` listing each failed requirement if any failed; else return
    the deployment record (verdict and the versions the aliases point to)."""
    report = GateReport.from_dict(gate_report)
    record = {"gate_passed": report.passed, **registry_state}
    if not report.passed:
        failures = "\n".join(
            f"  - {c.principle}.{c.requirement}: measured "
            f"{'not measured' if c.measured is None else f'{c.measured:.4f}'}, "
            f"required {'>=' if c.requirement.startswith('min_') else '<='} {c.threshold}"
            for c in report.failures
        )
        raise TrustGateError(
            f"The model missed {len(report.failures)} trust requirement(s):\n{failures}\n"
            f"It is registered as version {registry_state['challenger']} of "
            f"'{registry_state['registered_model_name']}' with alias 'challenger'; "
            f"'champion' still points to version {registry_state['champion']}.\n"
            "To proceed: improve the model or data (see the gate report in "
            "data/08_reporting/gate_report.json), or, with the sign-off of whoever owns the "
            "requirements, change conf/base/parameters/trust_requirements.yml and run again."
        )
    logger.info("Version %s is now the champion.", registry_state["champion"])
    return record

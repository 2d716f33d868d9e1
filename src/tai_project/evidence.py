"""Evidence bound to the model: the one decision every path to ``champion`` goes through.

The trust gate report records the SHA-256 of what it measured (``evidence``): the network's
state (``network_sha256``), the model input it was measured on (``data_sha256``) and the
requirements it applied (``requirements_sha256``). Before anything is registered or
promoted, the same hashes are computed again on what is about to be registered or promoted
and compared with the report's. ``decide_promotion`` is that decision, as a pure function
of the report and the hashes (no Kedro, no MLflow, no I/O).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tai_project.integrity import arrays_sha256, network_sha256, sha256_json
from tai_project.trust.requirements import parse_requirements

EVIDENCE_KEYS = ("network_sha256", "data_sha256", "requirements_sha256")
"""The hashes a gate report records: what it measured."""

_WHAT = {"network_sha256": "network", "data_sha256": "model input (data)",
         "requirements_sha256": "trust requirements"}

RERUN = ("Rerun the evaluation on it: `kedro run --pipeline model_evaluation` then "
         "`kedro run --pipeline deployment` (or the whole run: `kedro run`).")


def measure_evidence(
    network: Any, model_input: Mapping[str, Any], trust_requirements: Mapping[str, Any]
) -> dict[str, str]:
    """Return the SHA-256 of the network's state, of the model input arrays and of the
    validated requirements (``tai_project.integrity``): what a gate report rests on."""
    return {
        "network_sha256": network_sha256(network),
        "data_sha256": arrays_sha256(model_input),
        "requirements_sha256": sha256_json(
            parse_requirements(trust_requirements).model_dump(mode="json")),
    }


@dataclass(frozen=True)
class Decision:
    """What happens to a model: ``promote`` (becomes champion), ``await_approval`` (passed,
    a human must approve), ``reject`` (registered as a failed challenger) or ``refuse``
    (its evidence does not match: neither registered nor promoted). ``reasons`` says why
    for every outcome but ``promote``."""

    action: Literal["promote", "await_approval", "reject", "refuse"]
    reasons: tuple[str, ...] = ()


def evidence_mismatches(recorded: Mapping[str, Any] | None,
                        found: Mapping[str, str | None]) -> list[str]:
    """Return one sentence per hash of ``found`` that differs from (or is missing in) the
    report's ``recorded`` evidence; a ``found`` value of ``None`` is not compared (the
    caller cannot compute it, e.g. the model input at approval time)."""
    recorded = recorded or {}
    problems = []
    for key, value in found.items():
        if value is None:
            continue
        expected = recorded.get(key)
        if expected is None:
            problems.append(f"{key}: the gate report records no hash of the {_WHAT.get(key, key)} "
                            "it measured (a report from before evidence binding)")
        elif expected != value:
            problems.append(f"{key}: the {_WHAT.get(key, key)} here has SHA-256 {value}, the "
                            f"gate report measured {expected}")
    return problems


def decide_promotion(
    gate_report: Mapping[str, Any], found: Mapping[str, str | None], *,
    human_approval_required: bool, approved_by: str | None = None,
) -> Decision:
    """Return the decision for a model whose gate report is ``gate_report`` and whose
    hashes, computed now, are ``found``: ``refuse`` on any evidence mismatch, ``reject``
    when the gate failed, ``await_approval`` when a human must approve and none has,
    ``promote`` otherwise."""
    mismatches = evidence_mismatches(gate_report.get("evidence"), found)
    if not any(value is not None for value in found.values()):
        mismatches.append("nothing was hashed to compare with the gate report's evidence")
    if mismatches:
        return Decision("refuse", (*mismatches, RERUN))
    if not gate_report.get("passed"):
        failed = [f"{c['principle']}.{c['requirement']}" for c in gate_report.get("checks", [])
                  if c.get("status") == "fail"]
        return Decision("reject", tuple(failed) or ("the trust gate did not pass",))
    if human_approval_required and not (approved_by or "").strip():
        return Decision("await_approval", ("passed the trust gate; a human approval is required",))
    return Decision("promote")

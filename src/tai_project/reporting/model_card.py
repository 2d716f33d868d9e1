"""The model card: what a reviewer signs off, as one JSON document rendered to HTML and Markdown.

Its sections follow Mitchell et al. 2019, "Model Cards for Model Reporting" (intended use,
factors, metrics, data, caveats), extended towards the technical documentation of the EU AI
Act (Annex IV in spirit: the data, the training, the measured trust metrics per principle,
the verdict and the lineage that makes the model traceable). Templates ship inside this
package and reference nothing outside the card: plots are embedded as data URIs, so the
HTML opens offline.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2

from tai_project.trust.requirements import GateReport

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tai_project.reporting", "templates"),
    autoescape=jinja2.select_autoescape(["html", "html.j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def build_card(
    *,
    content: Mapping[str, Any],
    gate_report: Mapping[str, Any],
    registry_state: Mapping[str, Any],
    lineage: Mapping[str, Any],
    data_profile: Mapping[str, Any],
    training: Mapping[str, Any],
    image_names: list[str],
    sensitive_features: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the card as a JSON-ready dict.

    ``content`` is ``conf/base/model_card.yml``: the written intended use and limits, and
    per principle a title, metric-name patterns and plot names. Each measured metric of the
    gate report goes to the principle whose requirement checks it, else to the first
    principle with a matching pattern, else to "other metrics"; plots likewise. ``{groups}``
    in a pattern stands for the fairness metrics' group prefix, the ``sensitive_features``
    joined by ``_`` (``accuracy_{groups}_*`` matches ``accuracy_site_A``); without
    ``sensitive_features`` such patterns match nothing.
    """
    content = _with_groups(content, sensitive_features)
    report = GateReport.from_dict(gate_report)
    sections = {key: {"key": key, "title": spec.get("title", key),
                      "description": spec.get("description", ""),
                      "checks": [], "metrics": {}, "plots": []}
                for key, spec in content.get("principles", {}).items()}
    for check in report.checks:
        sections.setdefault(check.principle, {"key": check.principle, "title": check.principle,
                                              "description": "", "checks": [], "metrics": {},
                                              "plots": []})["checks"].append(vars(check))
    checked = {c.metric: c.principle for c in report.checks if c.principle in sections
               and c.principle != "non_regression"}
    other_metrics: dict[str, float] = {}
    for metric, value in sorted(report.measured.items()):
        home = checked.get(metric) or _match(metric, content, "metrics")
        (sections[home]["metrics"] if home else other_metrics)[metric] = value
    other_plots = []
    for name in image_names:
        home = _match(name, content, "plots")
        (sections[home]["plots"] if home else other_plots).append(name)
    verdict = "passed" if report.passed else "failed"
    return {
        "title": content.get("title", "Model card"),
        "model": {
            "name": registry_state.get("registered_model_name"),
            "version": registry_state.get("registered_version"),
            "trust_gate": verdict,
            "approval": registry_state.get("approval"),
            "champion": registry_state.get("champion"),
            "challenger": registry_state.get("challenger"),
        },
        "intended_use": {k: content.get(k) for k in
                         ("summary", "intended_use", "intended_users", "out_of_scope_uses",
                          "limitations", "ethical_considerations", "contact")},
        "data": {
            "version": lineage.get("data_version"),
            "dirty": lineage.get("data_dirty"),
            "n_images": data_profile.get("n_images"),
            "counts_by_class_and_group": data_profile.get("counts_by_class_and_group", {}),
            "group_shares": data_profile.get("group_shares", {}),
        },
        "training": dict(training),
        "principles": list(sections.values()),
        "other_metrics": other_metrics,
        "other_plots": other_plots,
        "gate": {"passed": report.passed, "verdict": verdict,
                 "champion_version": report.champion_version,
                 "checks": [vars(c) for c in report.checks], "table": report.table(),
                 "failures": [f"{c.principle}.{c.requirement}" for c in report.failures],
                 "hints": {key: list(texts) for key, texts in report.hints.items()}},
        "lineage": {
            "git_commit": lineage.get("git_commit"), "git_dirty": lineage.get("git_dirty"),
            "data_version": lineage.get("data_version"),
            "mlflow_run_id": registry_state.get("run_id") or lineage.get("mlflow_run_id"),
            "registered_model": registry_state.get("registered_model_name"),
            "model_version": registry_state.get("registered_version"),
            "artifact_sha256": registry_state.get("artifact_sha256"),
            "user": lineage.get("user"),
            "packages": dict(lineage.get("packages", {})),
        },
    }


def _with_groups(content: Mapping[str, Any], sensitive_features: Sequence[str]) -> dict[str, Any]:
    """``content`` with ``{groups}`` in the metric patterns replaced by the group prefix."""
    prefix = "_".join(sensitive_features)
    principles = {
        key: {**spec, "metrics": [pattern.replace("{groups}", prefix)
                                  for pattern in spec.get("metrics", [])
                                  if prefix or "{groups}" not in pattern]}
        for key, spec in content.get("principles", {}).items()
    }
    return {**content, "principles": principles}


def _match(name: str, content: Mapping[str, Any], kind: str) -> str | None:
    for key, spec in content.get("principles", {}).items():
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in spec.get(kind, [])):
            return key
    return None


def render_html(card: Mapping[str, Any], images: Mapping[str, Mapping[str, str]]) -> str:
    """Return the card as one self-contained HTML page (inline CSS, images as data URIs)."""
    return _ENV.get_template("model_card.html.j2").render(card=card, images=images)


def render_markdown(card: Mapping[str, Any]) -> str:
    """Return the card as Markdown (plots named by file, not embedded)."""
    return _ENV.get_template("model_card.md.j2").render(card=card)

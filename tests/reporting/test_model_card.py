import base64
import re

import yaml

from tai_project.reporting.model_card import build_card, render_html, render_markdown
from tai_project.trust.requirements import check_requirements, parse_requirements
from tests.conftest import FIXTURES, shipped_requirements

CONTENT = yaml.safe_load((FIXTURES / "model_card.yml").read_text())  # the tests' own text
MEASURED = {"accuracy": 0.971, "ece": 0.0227, "mia_auc": 0.5478, "abstention_rate": 0.1,
            "deletion_faithfulness_ratio": 2.6, "worst_group_accuracy": 0.95,
            "brand_new_metric": 0.123}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
IMAGES = {name: {"version": "2026-01-01T00.00.00.000Z", "base64": PNG}
          for name in ("confusion_matrix", "fairness", "deletion_curves", "brand_new_plot")}


def _card():
    requirements = parse_requirements(shipped_requirements(**{"reliability.min_accuracy": 0.99}))
    report = check_requirements(requirements, MEASURED).to_dict()
    return build_card(
        content=CONTENT, gate_report=report,
        registry_state={"registered_model_name": "m", "registered_version": "2", "champion": "1",
                        "challenger": "2", "approval": "n/a", "run_id": "abc123",
                        "artifact_sha256": "f" * 64},
        lineage={"git_commit": "deadbeef", "git_dirty": "false", "data_version": "md5.dir",
                 "data_dirty": "false", "user": "ci", "packages": {"torch": "2.14.1"}},
        data_profile={"n_images": 10, "counts_by_class_and_group": {"0": {"A": 4, "B": 1}},
                      "group_shares": {"A": 0.8, "B": 0.2}},
        training={"epsilon": 7.99, "epochs_run": 40, "differential_privacy": True},
        image_names=sorted(IMAGES),
    )


def test_metrics_and_plots_go_to_their_principle_and_nothing_is_lost():
    card = _card()
    sections = {s["key"]: s for s in card["principles"]}
    assert sections["reliability"]["metrics"]["accuracy"] == 0.971
    assert "mia_auc" in sections["privacy"]["metrics"]
    assert sections["fairness"]["plots"] == ["fairness"]
    assert card["other_metrics"] == {"brand_new_metric": 0.123}
    assert card["other_plots"] == ["brand_new_plot"]
    assert card["gate"]["verdict"] == "failed" and "reliability.min_accuracy" in card["gate"]["failures"]
    expected = {"git_commit": "deadbeef", "model_version": "2", "mlflow_run_id": "abc123",
                "artifact_sha256": "f" * 64, "data_version": "md5.dir"}
    assert {k: card["lineage"][k] for k in expected} == expected


def test_html_holds_every_metric_every_image_and_nothing_remote():
    card = _card()
    html = render_html(card, IMAGES)
    for metric, value in MEASURED.items():
        assert metric in html and f"{value:.4g}" in html
    assert html.count(f"data:image/png;base64,{PNG}") == len(IMAGES)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "deadbeef" in html and "f" * 64 in html and "md5.dir" in html
    for key in ("intended_use", "limitations", "out_of_scope_uses"):
        text = CONTENT[key][0] if isinstance(CONTENT[key], list) else CONTENT[key]
        assert text[:40] in html
    markdown = render_markdown(card)
    assert "Trust gate: FAILED" in markdown and "brand_new_metric" in markdown


def test_group_metrics_go_to_fairness_whatever_the_group_column_is_called():
    """``{groups}`` in a pattern is the sensitive features' prefix: the per-group metrics of
    a ``scanner`` column land under fairness; nothing in the patterns says ``site``."""
    measured = {"accuracy": 0.9, "accuracy_scanner_x": 0.8, "accuracy_scanner_x_ci_low": 0.7,
                "n_scanner_y": 12, "recall_scanner_z_class_cat": 0.5, "accuracy_ratio": 0.9}
    report = check_requirements(parse_requirements(shipped_requirements()), measured).to_dict()
    arguments = {"content": CONTENT, "gate_report": report, "registry_state": {}, "lineage": {},
                 "data_profile": {}, "training": {}, "image_names": []}
    card = build_card(**arguments, sensitive_features=["scanner"])
    fairness = next(s for s in card["principles"] if s["key"] == "fairness")["metrics"]
    assert set(fairness) == set(measured) - {"accuracy"}
    assert "site" not in str(CONTENT["principles"])
    unplaced = build_card(**arguments)["other_metrics"]   # no sensitive features: not guessed
    assert "n_scanner_y" in unplaced and "accuracy_scanner_x" in unplaced

"""When the gate refuses, the error and the model card say what to try (issue 15, part 8):
a real run of the tiny project with DP on and an impossible accuracy requirement."""

from __future__ import annotations

import json

import pytest

from tai_project.errors import TrustGateError
from tests.conftest import run_kedro

pytestmark = pytest.mark.slow

STAGES = ["data_understanding", "data_engineering", "model_engineering", "model_evaluation",
          "deployment"]
DP_KNOBS = ("model_engineering.training_setup.privacy.epochs",
            "model_engineering.training_setup.privacy.learning_rate",
            "model_engineering.training_setup.privacy.max_grad_norm", "make bench-privacy")


def test_a_refused_model_points_at_the_knobs_that_move_its_failed_requirement(project):
    impossible = {"trust_requirements": {"reliability": {"min_accuracy": 0.9999}},
                  "model_engineering": {"training_setup": {"privacy": {"enabled": True}}}}
    with pytest.raises(TrustGateError) as refused:
        run_kedro(project, params=impossible, pipeline_names=STAGES)
    message = str(refused.value)
    what_to_try = message[message.index("What to try:"):]
    assert what_to_try.splitlines()[1] == "  reliability.min_accuracy:"
    assert all(knob in what_to_try for knob in DP_KNOBS)
    assert "training.max_epochs" not in what_to_try   # DP is on: the non-DP knobs do not apply

    reporting = project / "data" / "08_reporting"
    (card_path,) = reporting.glob("model_card.json/*/model_card.json")
    card = json.loads(card_path.read_text())
    assert card["gate"]["verdict"] == "failed"
    hints = card["gate"]["hints"]["reliability.min_accuracy"]
    assert all(any(knob in hint for hint in hints) for knob in DP_KNOBS)
    for rendered in ("model_card.html", "model_card.md"):
        (path,) = reporting.glob(f"{rendered}/*/{rendered}")
        text = path.read_text()
        assert "What to try" in text and "make bench-privacy" in text, rendered
    (gate_path,) = reporting.glob("gate_report.json/*/gate_report.json")
    assert json.loads(gate_path.read_text())["hints"] == card["gate"]["hints"]

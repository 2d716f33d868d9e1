"""Crash-consistent promotion (issue 16, finding 2): `kedro run --pipeline deployment` in a
subprocess SIGKILLs itself at each instant of a promotion (``TAI_PROJECT_CRASH_AT``); the
next run reconciles, and the audit log and the aliases agree: exactly one promotion event
per champion change, the chain intact, no intent left open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml
from kedro.config import OmegaConfigLoader

from tai_project import registry
from tests.conftest import FAST_PARAMS, TINY_MODEL, _merge, run_kedro

pytestmark = pytest.mark.slow
MODEL = TINY_MODEL


def _deploy(project: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "COLUMNS": "200"}
    env.pop(registry.CRASH_ENV, None)
    if crash_at:
        env[registry.CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-m", "kedro", "run", "--pipeline", "deployment"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _check_consistent(client: mlflow.MlflowClient) -> list[dict]:
    """Assert the audit and the aliases agree; return the promotion events."""
    events = registry.audit_log(client, MODEL)
    promotions = [e for e in events if e["event"] in registry.PROMOTIONS]
    previous = None
    for event in promotions:   # one event per change: each starts where the last one ended
        assert event["previous_champion"] == previous, (event, promotions)
        previous = event["version"]
    assert registry.alias_version(client, MODEL, "champion") == previous
    closures = [e["intent"] for e in events if "intent" in e]
    intents = [e["seq"] for e in events if e["event"] == "promotion_intent"]
    assert sorted(closures) == intents          # every intent closed exactly once
    assert registry.verify(client, MODEL) == []  # chain, signatures, files, aliases
    return promotions


CRASH_POINTS = ("before_intent", "after_intent", "after_alias", "after_completion")
EXPECTED = {   # the killed version's audit events once the next run reconciled them
    "before_intent": ["registered", "interrupted"],
    "after_intent": ["registered", "promotion_intent", "promotion_aborted", "interrupted"],
    "after_alias": ["registered", "promotion_intent", "promoted"],
    "after_completion": ["registered", "promotion_intent", "promoted"],
}


def test_a_kill_at_any_instant_of_a_promotion_is_reconciled_by_the_next_run(project):
    # CLI runs read conf/, not runtime params: give them the tests' fast settings
    base = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    fast = {key: _merge(base["parameters"][key], value) for key, value in FAST_PARAMS.items()}
    (project / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(fast))
    run_kedro(project, pipeline_names=["data_understanding", "data_engineering",
                                       "model_engineering", "model_evaluation", "deployment"])
    uri = f"sqlite:///{project}/mlflow.db"
    client = mlflow.MlflowClient(uri, uri)
    champions = [p["version"] for p in _check_consistent(client)]
    assert champions == ["1"]

    for n, crash_at in enumerate(CRASH_POINTS):
        victim, next_one = str(2 + 2 * n), str(3 + 2 * n)
        killed = _deploy(project, crash_at)
        assert killed.returncode == -signal.SIGKILL, (crash_at, killed.stderr[-3000:])
        moved = crash_at in {"after_alias", "after_completion"}
        assert registry.alias_version(client, MODEL, "champion") == (victim if moved else champions[-1])

        rerun = _deploy(project)
        assert rerun.returncode == 0, (crash_at, rerun.stderr[-3000:])
        champions += [victim, next_one] if moved else [next_one]
        promotions = _check_consistent(client)
        assert [p["version"] for p in promotions] == champions, crash_at
        state = client.get_model_version(MODEL, victim).tags[registry.STATE_TAG]
        assert state == ("complete" if moved else "interrupted"), crash_at
        assert bool(promotions[-2].get("recovered")) == (crash_at == "after_alias")
        events = [e["event"] for e in registry.audit_log(client, MODEL) if e["version"] == victim]
        assert events == EXPECTED[crash_at], crash_at

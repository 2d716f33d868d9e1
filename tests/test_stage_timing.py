"""Stage timings: every interval charged to one stage, the stages add up, JSON on request."""

import json
import time

from kedro.pipeline import Node

from tai_project.stage_timing import TIMINGS_ENV, UNNAMESPACED, StageTimingHooks, stage_of


def _identity(x):
    return x


def _node(name, namespace=None):
    return Node(_identity, "a", f"b_{name}", name=name, namespace=namespace)


def _run(hooks, node, seconds):
    """The hook calls of one node as a runner makes them: load, run, save."""
    hooks.before_dataset_loaded(node=node)
    hooks.before_node_run(node=node)
    time.sleep(seconds)
    hooks.after_node_run(node=node)
    hooks.after_dataset_saved(node=node)


def test_stage_is_the_top_level_namespace():
    assert stage_of(_node("n", "model_evaluation.fairness")) == "model_evaluation"
    assert stage_of(_node("n")) == UNNAMESPACED


def test_interleaved_stages_add_up_to_the_pipeline_time(tmp_path, monkeypatch):
    target = tmp_path / "timings.json"
    monkeypatch.setenv(TIMINGS_ENV, str(target))
    hooks = StageTimingHooks()
    hooks.before_pipeline_run()
    _run(hooks, _node("one", "data_engineering"), 0.05)
    _run(hooks, _node("two", "model_engineering"), 0.10)
    _run(hooks, _node("three", "data_engineering"), 0.05)
    hooks.after_pipeline_run()
    saved = json.loads(target.read_text())
    stages = saved["stages"]
    assert {name: s["nodes"] for name, s in stages.items()} == {
        "data_engineering": 2, "model_engineering": 1}
    assert 0.1 <= stages["data_engineering"]["seconds"] < 0.2
    assert 0.1 <= stages["model_engineering"]["seconds"] < 0.2
    total = sum(s["seconds"] for s in stages.values())
    assert total <= saved["pipeline_seconds"] < total + 0.05
    assert all(s["peak_rss_mib"] > 0 for s in stages.values())
    assert list(saved["slowest_nodes"])[0] == "model_engineering.two"


def test_no_file_without_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(TIMINGS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    hooks = StageTimingHooks()
    hooks.before_pipeline_run()
    _run(hooks, _node("one", "monitoring"), 0.0)
    hooks.after_pipeline_run()
    assert list(tmp_path.iterdir()) == []

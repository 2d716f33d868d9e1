"""Wall time and peak memory per pipeline stage (namespace) of a run, from Kedro hooks.

Every interval between two node events (an input loaded, the node run, an output saved) is
charged to the node of the event that ends it, so the stages' seconds add up to the whole
pipeline's wall time (dataset I/O included), with nothing counted twice even when the
runner interleaves nodes of different stages. ``peak_rss_mib`` is the process' high-water
resident memory (``getrusage``) at the end of the stage's last node. ``slowest_nodes`` lists
the nodes that took longest, by the same accounting.

The table is logged after every run. With ``TAI_STAGE_TIMINGS_JSON=<path>`` in the
environment it is also written there as JSON (the benchmarks read it).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import time
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.pipeline.node import Node

logger = logging.getLogger(__name__)

TIMINGS_ENV = "TAI_STAGE_TIMINGS_JSON"
UNNAMESPACED = "(no namespace)"
SLOWEST_NODES = 10


def peak_rss_mib() -> float:
    """Return this process' peak resident set size so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_of(node: Node) -> str:
    """Return the top-level namespace of ``node`` (its CRISP-ML(Q) stage)."""
    return node.namespace.split(".")[0] if node.namespace else UNNAMESPACED


class StageTimingHooks:
    """Collect seconds, node count and peak RSS per stage; log them, optionally save JSON."""

    def __init__(self) -> None:
        self._stages: dict[str, dict[str, float]] = {}
        self._nodes: dict[str, float] = {}
        self._started = self._last = time.perf_counter()

    @hook_impl
    def before_pipeline_run(self) -> None:
        self._stages, self._nodes = {}, {}
        self._started = self._last = time.perf_counter()

    @hook_impl
    def before_dataset_loaded(self, node: Node) -> None:
        self._tick(node)

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        self._tick(node)

    @hook_impl
    def after_node_run(self, node: Node) -> None:
        self._tick(node, finished=True)

    @hook_impl
    def after_dataset_saved(self, node: Node) -> None:
        self._tick(node)

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._report()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._report()

    def summary(self) -> dict[str, Any]:
        """Return ``{"stages": {stage: {seconds, nodes, peak_rss_mib}}, "slowest_nodes":
        {node: seconds}, "pipeline_seconds", "peak_rss_mib"}`` for the run so far."""
        slowest = sorted(self._nodes.items(), key=lambda item: -item[1])[:SLOWEST_NODES]
        return {
            "stages": {name: dict(values) for name, values in self._stages.items()},
            "slowest_nodes": dict(slowest),
            "pipeline_seconds": time.perf_counter() - self._started,
            "peak_rss_mib": peak_rss_mib(),
        }

    def _tick(self, node: Node, *, finished: bool = False) -> None:
        now = time.perf_counter()
        stage = self._stages.setdefault(stage_of(node), {"seconds": 0.0, "nodes": 0,
                                                         "peak_rss_mib": 0.0})
        stage["seconds"] += now - self._last
        self._nodes[node.name] = self._nodes.get(node.name, 0.0) + now - self._last
        stage["nodes"] += int(finished)
        stage["peak_rss_mib"] = max(stage["peak_rss_mib"], peak_rss_mib())
        self._last = now

    def _report(self) -> None:
        summary = self.summary()
        if not summary["stages"]:
            return
        rows = "\n".join(
            f"  {name:<20} {values['seconds']:8.2f} s  {int(values['nodes']):3d} nodes  "
            f"peak RSS {values['peak_rss_mib']:7.0f} MiB"
            for name, values in summary["stages"].items()
        )
        logger.info("Stage timings (pipeline %.2f s):\n%s", summary["pipeline_seconds"], rows)
        target = os.environ.get(TIMINGS_ENV)
        if target:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            Path(target).write_text(json.dumps(summary, indent=2), encoding="utf-8")

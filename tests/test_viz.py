"""kedro viz: six collapsible stages, datasets in layers that flow one way, a static build
that a headless Chromium renders (the screenshot is kept as a test artefact)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from graphlib import TopologicalSorter
from pathlib import Path

import numpy as np
import pytest
import yaml
from kedro.framework.project import configure_project, pipelines
from PIL import Image

from tests.conftest import PROJECT_ROOT

STAGES = ["data_understanding", "data_engineering", "model_engineering", "model_evaluation",
          "deployment", "monitoring"]
# Kedro's data layers, plus `deployment` (the registered model) between evaluation and reporting
LAYERS = ["raw", "intermediate", "primary", "model_input", "models", "model_output", "deployment",
          "reporting"]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", PROJECT_ROOT / ".test-artifacts"))


def _catalog_layers() -> dict[str, str | None]:
    catalog = yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())
    return {name: ((entry.get("metadata") or {}).get("kedro-viz") or {}).get("layer")
            for name, entry in catalog.items() if not name.startswith("_")}


def test_every_catalog_dataset_has_a_layer_and_layers_flow_one_way():
    """kedro viz draws layer bands only when the layers have a topological order (else it
    draws none): no dataset may feed, through unlayered in-memory datasets, an earlier layer."""
    configure_project(PROJECT_ROOT.joinpath("pyproject.toml").read_text().split('package_name = "')[1]
                      .split('"')[0])
    layers = _catalog_layers()
    default = pipelines["__default__"]
    assert {d: layers[d] for d in default.datasets() if d in layers and not layers[d]} == {}

    producers = {out: node for node in default.nodes for out in node.outputs}

    @functools.cache
    def layered_inputs(dataset: str) -> frozenset[str]:
        node = producers.get(dataset)
        if node is None:
            return frozenset()
        found: set[str] = set()
        for name in node.inputs:
            if name.startswith("params:") or name == "parameters":
                continue
            found |= {layers[name]} if layers.get(name) else layered_inputs(name)
        return frozenset(found)

    after: dict[str, set[str]] = {layer: set() for layer in set(filter(None, layers.values()))}
    for dataset in default.datasets():
        if layers.get(dataset):
            after[layers[dataset]] |= layered_inputs(dataset) - {layers[dataset]}
    order = list(TopologicalSorter(after).static_order())  # raises CycleError on a cycle
    assert sorted(order, key=LAYERS.index) == LAYERS
    assert all(LAYERS.index(u) < LAYERS.index(layer) for layer, ups in after.items() for u in ups)


def _serve(folder: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _chromium(*args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--hide-scrollbars", "--virtual-time-budget=15000"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.mark.slow
def test_viz_build_shows_six_stages_with_layers_and_chromium_renders_it(project, tmp_path):
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"}
    result = subprocess.run([str(Path(sys.executable).parent / "kedro"), "viz", "build"], cwd=project,
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    build = project / "build"
    main = json.loads((build / "api" / "main").read_text())
    namespaces = {n["id"] for n in main["nodes"] if n["type"] == "modularPipeline"}
    assert namespaces == set(STAGES)
    assert set(STAGES) <= {c["id"] for c in main["modular_pipelines"]["__root__"]["children"]}
    assert main["layers"] == LAYERS
    evaluation = main["modular_pipelines"]["model_evaluation"]
    children = {c["id"] for c in evaluation["children"]}
    task_names = {n["id"]: n["name"] for n in main["nodes"]}
    assert any("check_trust_gate" in task_names.get(c, "") for c in children)
    assert any(n["type"] == "parameters" for n in main["nodes"])
    assert {p["id"] for p in main["pipelines"]} >= {"__default__", *STAGES}

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: `apt-get install -y chromium` for the screenshot part")
    server = _serve(build)
    url = f"http://127.0.0.1:{server.server_address[1]}/?expandAllPipelines=false"
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        png = ARTIFACTS / "kedro_viz.png"
        png.unlink(missing_ok=True)
        _chromium("--window-size=1600,1000", f"--screenshot={png}", url)
        dom = _chromium("--dump-dom", url).stdout
    finally:
        server.shutdown()
    # the app rendered the graph: a node per stage in the flowchart, none of its error pages
    assert dom.count("pipeline-node--modularPipeline") >= len(STAGES), dom[:2000]
    assert all(stage in dom for stage in STAGES)
    assert "Oops" not in dom and "error" not in dom.lower().split("<body", 1)[-1][:2000]
    pixels = np.asarray(Image.open(png).convert("L"))
    assert pixels.shape == (1000, 1600) and pixels.std() > 10  # not a blank page
    shutil.copy(png, tmp_path / png.name)

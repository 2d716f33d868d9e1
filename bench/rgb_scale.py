"""The whole pipeline on 20k RGB 64x64 images (the second example data set, "scans").

Exports ``--n-images`` scans of ``--size`` pixels (``example_scans``, cached in ``--cache``),
describes them with the ``dataset:`` block a user's ``make init-data`` writes (a held-out
slice is monitoring's batch), runs ``kedro run`` in a throw-away project copy with
``--epochs`` DP epochs, and records wall time per stage and the run's peak RSS
(``StageTimingHooks``) in ``bench/results/rgb_scale.json``.

Images are decoded into one in-memory array (no streaming from disk yet), so peak RSS
grows with N x H x W x C.

Run: ``python bench/rgb_scale.py --n-images 20000 --size 64 --epochs 2``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import kedro_run, machine, make_project, save

from tai_project.datasets.example_scans import CLASSES, export_scans


def run(n_images: int, size: int, epochs: int, cache: Path, logs: Path) -> dict[str, Any]:
    """Return the timed run on ``n_images`` scans of ``size`` x ``size`` RGB pixels."""
    folder = cache / f"scans{size}_{n_images}"
    export_seconds = float("nan")
    if not (folder / "metadata.csv").exists():
        started = time.perf_counter()
        export_scans(folder, n_images=n_images, size=size)
        export_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="tai-rgb-") as tmp:
        project = make_project(Path(tmp), folder)
        description = {
            "name": "scans", "images": "data/01_raw/images", "metadata": "data/01_raw/metadata.csv",
            "production": "data/01_production", "production_batch": "holdout",
            "production_holdout": 0.05, "classes": list(CLASSES), "image_height": size,
            "image_width": size, "image_mode": "RGB", "pixel_range": [0, 255],
            "group_columns": ["scanner"], "groups": {"scanner": ["handheld", "s100", "s200"]},
        }
        (project / "conf/base/globals.yml").write_text(yaml.safe_dump({"dataset": description}))
        params = {"model_engineering.training_setup.privacy.epochs": epochs,
                  "model_engineering.training_setup.training.max_epochs": epochs}
        result = kedro_run(project, "--params", ",".join(f"{k}={v}" for k, v in params.items()),
                           log=logs / f"rgb_{n_images}_{size}.log")
    stages = result.get("stages", {})
    return {
        "n_images": n_images, "image_size": [size, size, 3], "epochs": epochs,
        "exit_code": result["exit_code"], "export_seconds": export_seconds,
        "wall_seconds": result["wall_seconds"],
        "pipeline_seconds": sum(stage["seconds"] for stage in stages.values()),
        "peak_rss_mib": result.get("peak_rss_mib"), "stages": stages,
        "slowest_nodes": result.get("slowest_nodes", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cache", default=str(Path.home() / ".cache/tai-project/bench"))
    args = parser.parse_args()
    cache, logs = Path(args.cache), Path(args.cache) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    row = run(args.n_images, args.size, args.epochs, cache, logs)
    save("rgb_scale", {"machine": machine(), "run": row})
    print(json.dumps({k: v for k, v in row.items() if k != "stages"}, indent=2))


if __name__ == "__main__":
    main()

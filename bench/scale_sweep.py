"""Scale sweep: the whole pipeline on synthetic 28x28 digit sets of growing size.

For each size N: export N upscaled, augmented digits (``export_scaled_digits``, cached in
``--cache``), run ``kedro run`` on them in a throw-away project copy and record wall time per
stage (``StageTimingHooks``), the run's peak RSS and images/s; then fit the growth exponent
b of ``seconds = a * N^b`` (least squares on log-log) for the pipeline and each stage.

The image size goes in through ``data_schema``; training keeps every shipped setting except
the number of epochs (``--epochs``, both DP and non-private), because 40 DP epochs on 60k
28x28 training images take hours on 2 CPU cores. The JSON records seconds per DP epoch, so
``extrapolated_seconds_at_shipped_epochs`` gives the full-schedule figure.

Run: ``python bench/scale_sweep.py --sizes 2000 10000 50000 100000``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from common import ROOT, kedro_run, machine, make_project, save

from tai_project.datasets.default_data import export_scaled_digits

SIZE = 28
PRODUCTION_IMAGES = 1000  # the ``iid`` production batch the monitoring stage scores
PRODUCTION_SEED = 20240601


def _synthetic(cache: Path, n_images: int, *, seed: int = 20240501) -> tuple[Path, float]:
    """Return the folder of the cached N-image export (made if absent) and its export seconds."""
    folder = cache / f"digits{SIZE}_{n_images}_{seed}"
    if (folder / "metadata.csv").exists():
        return folder, float("nan")
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    export_scaled_digits(folder, n_images=n_images, size=SIZE, seed=seed)
    return folder, time.perf_counter() - started


def _production(cache: Path) -> Path:
    """Return a data/01_production folder whose ``iid`` batch is ``PRODUCTION_IMAGES``
    synthetic images drawn with another seed (made if absent)."""
    folder = cache / f"production{SIZE}"
    if not (folder / "iid" / "metadata.csv").exists():
        shutil.rmtree(folder, ignore_errors=True)
        export_scaled_digits(folder / "iid", n_images=PRODUCTION_IMAGES, size=SIZE,
                             seed=PRODUCTION_SEED)
    return folder


def _shipped_epochs() -> int:
    path = ROOT / "conf/base/parameters/model_engineering.yml"
    return yaml.safe_load(path.read_text())["model_engineering"]["training_setup"]["privacy"]["epochs"]


def run_size(n_images: int, *, epochs: int, cache: Path, logs: Path) -> dict[str, Any]:
    """Return the timed run on ``n_images`` synthetic images (see module docstring)."""
    raw, export_seconds = _synthetic(cache, n_images)
    with tempfile.TemporaryDirectory(prefix="tai-scale-") as tmp:
        project = make_project(Path(tmp), raw, production=_production(cache))
        params = {
            "data_schema.image_height": SIZE, "data_schema.image_width": SIZE,
            "model_engineering.training_setup.privacy.epochs": epochs,
            "model_engineering.training_setup.training.max_epochs": epochs,
        }
        result = kedro_run(project, "--params", ",".join(f"{k}={v}" for k, v in params.items()),
                           log=logs / f"scale_{n_images}.log")
        history = project / "data/08_reporting/training_history.json"
        epoch_seconds = _dp_epoch_seconds(result, epochs)
    stages = result.get("stages", {})
    pipeline = sum(stage["seconds"] for stage in stages.values())
    return {
        "n_images": n_images, "image_size": SIZE, "epochs": epochs, "exit_code": result["exit_code"],
        "export_seconds": export_seconds, "wall_seconds": result["wall_seconds"],
        "pipeline_seconds": pipeline, "images_per_second": n_images / result["wall_seconds"],
        "peak_rss_mib": result.get("peak_rss_mib"),
        "stages": stages, "slowest_nodes": result.get("slowest_nodes", {}),
        "model_engineering_seconds_per_epoch": epoch_seconds,
        "extrapolated_seconds_at_shipped_epochs": (
            result["wall_seconds"] + (_shipped_epochs() - epochs) * epoch_seconds
        ),
        "history_saved": history.name,
    }


def _dp_epoch_seconds(result: dict[str, Any], epochs: int) -> float:
    """model_engineering seconds per epoch (an upper bound: includes its I/O and plot)."""
    stage = result.get("stages", {}).get("model_engineering")
    return stage["seconds"] / epochs if stage else float("nan")


def growth_exponents(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Return b of ``seconds = a * N^b`` per stage, for the pipeline (sum of stages) and
    for the wall time, fitted by least squares on log-log over every size, plus
    ``pipeline_last_two`` (the local exponent between the two largest sizes)."""
    # every stage ran (the gate may still fail: 1-epoch models miss the requirements)
    rows = [row for row in rows if len(row.get("stages", {})) == len(rows[-1].get("stages", {})) > 0]
    if len(rows) < 2:  # noqa: PLR2004 - a slope needs two points
        return {}
    n = np.log([row["n_images"] for row in rows])
    fits = {"pipeline": [row["pipeline_seconds"] for row in rows],
            "wall": [row["wall_seconds"] for row in rows]}
    for stage in rows[-1]["stages"]:
        fits[stage] = [row["stages"].get(stage, {}).get("seconds", np.nan) for row in rows]
    out = {name: float(np.polyfit(n, np.log(values), 1)[0]) for name, values in fits.items()}
    last = rows[-2:]
    out["pipeline_last_two"] = float(
        np.log(last[1]["pipeline_seconds"] / last[0]["pipeline_seconds"])
        / np.log(last[1]["n_images"] / last[0]["n_images"])
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cache", default=str(Path.home() / ".cache/tai-project/bench"))
    parser.add_argument("--name", default="scale_sweep", help="results file name")
    args = parser.parse_args()
    cache, logs = Path(args.cache), Path(args.cache) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    rows = []
    for n_images in sorted(args.sizes):
        rows.append(run_size(n_images, epochs=args.epochs, cache=cache, logs=logs))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "stages"}), flush=True)
        save(args.name, {"machine": machine(), "runs": rows, "exponents": growth_exponents(rows)})
    print(json.dumps(growth_exponents(rows), indent=2))


if __name__ == "__main__":
    main()

"""Shared by the benchmarks: the machine, a throw-away project copy, a timed ``kedro run``."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
       "MPLBACKEND": "Agg", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
       "COLUMNS": "150"}


def machine() -> dict[str, Any]:
    """Return CPU model, cores, memory (GiB), OS, Python and torch versions, load average."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next((int(line.split()[1]) for line in _read("/proc/meminfo").splitlines()
                    if line.startswith("MemTotal")), 0)
    import torch  # noqa: PLC0415 - only when asked

    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 2**20, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average_1_5_15": list(os.getloadavg())}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def make_project(workdir: Path, raw_data: Path | None = None,
                 production: Path | None = None) -> Path:
    """Return a copy of this project's configuration in ``workdir/project`` (its own MLflow
    store and data folders), with ``raw_data`` and ``production`` (default: this project's
    data/01_raw and data/01_production) copied, or linked in when given, as data/01_raw and
    data/01_production. The package itself is the installed one."""
    root = workdir / "project"
    shutil.copytree(ROOT / "conf" / "base", root / "conf" / "base")
    (root / "conf" / "local").mkdir(parents=True)
    for name in ("pyproject.toml", ".telemetry"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, root / name)
    (root / "src").mkdir()
    (root / "data").mkdir()
    source = raw_data or ROOT / "data" / "01_raw"
    if raw_data is None:
        shutil.copytree(source, root / "data" / "01_raw")
        # the monitoring stage scores a production batch (make data writes them)
        shutil.copytree(ROOT / "data" / "01_production", root / "data" / "01_production")
    else:
        (root / "data" / "01_raw").symlink_to(source.resolve(), target_is_directory=True)
    if production is not None:
        (root / "data" / "01_production").symlink_to(production.resolve(), target_is_directory=True)
    return root


def kedro_run(project: Path, *args: str, log: Path | None = None) -> dict[str, Any]:
    """Run ``kedro run *args`` in ``project``; return wall seconds, exit code and the stage
    timings the project's ``StageTimingHooks`` wrote (``stages``, ``peak_rss_mib``)."""
    timings = project / "stage_timings.json"
    timings.unlink(missing_ok=True)
    started = time.perf_counter()
    with open(log or os.devnull, "w") as out:
        code = subprocess.call([str(BIN / "kedro"), "run", *args], cwd=project, stdout=out,
                               stderr=subprocess.STDOUT,
                               env={**ENV, "TAI_STAGE_TIMINGS_JSON": str(timings)})
    wall = time.perf_counter() - started
    result: dict[str, Any] = {"exit_code": code, "wall_seconds": wall}
    if timings.exists():
        result.update(json.loads(timings.read_text()))
    return result


def save(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as ``bench/results/<name>.json`` and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    return path

"""`make bench`: every benchmark of the default data in one process, JSON + a markdown table.

1. End-to-end ``kedro run`` (all six stages) in a throw-away copy of the project: wall
   time, seconds and peak RSS per stage (``StageTimingHooks``).
2. DP-SGD / non-private seconds per epoch (``dp_overhead.measure``: same model, batch,
   optimiser, interleaved epochs).
3. model_evaluation / model_engineering seconds, from the run of 1.
4. The scale sweep is ``scale_sweep.py`` (its own JSON); its latest results are added to
   the table when present.
5. Serving: ``mlflow models serve`` of the champion registered by the run of 1, on
   127.0.0.1; a bounded number of single-image requests, one at a time (latency p50/p99)
   then from a few threads (requests/s); the server is stopped afterwards.
6. ``kedro --help`` and ``kedro registry list`` start-up time (median of a few calls).

Ratios come from one process on one machine, so machine noise mostly cancels; absolute
seconds depend on the machine's load (recorded with the machine).

Run: ``python bench/run_all.py`` (writes ``bench/results/bench.json`` and ``bench.md``, and
the table between the ``bench-table`` markers of README.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import BIN, ENV, RESULTS, kedro_run, machine, make_project, save
from dp_overhead import measure as measure_dp
from scale_sweep import growth_exponents

from tai_project.registry import project_settings

GOALS = {
    "end_to_end_seconds": ("<=", 60.0, "end-to-end default `kedro run`, six stages, DP training (s)"),
    "dp_ratio": ("<=", 1.5, "DP-SGD / non-private seconds per epoch, same model and batch"),
    "evaluation_to_engineering_ratio": ("<=", 1.0, "model_evaluation / model_engineering seconds"),
    "serving_p50_ms": ("<=", 20.0, "serving p50 latency, one image per request (ms)"),
    "serving_requests_per_second": (">=", 200.0, "serving throughput, 4 client threads (req/s)"),
    "kedro_help_seconds": ("<", 2.0, "`kedro --help` (s)"),
    "kedro_registry_list_seconds": ("<", 2.0, "`kedro registry list` (s)"),
    "scale_largest_end_to_end_seconds": ("<=", 900.0, "scale sweep, largest set: end-to-end (s)"),
    "scale_largest_peak_rss_gib": ("<=", 3.0, "scale sweep, largest set: peak RSS (GiB)"),
    "scale_growth_exponent": ("<=", 1.1, "scale sweep: growth exponent b of seconds = a N^b"),
}
"""Goals of issue 11 (operator, goal, label); the scale goals are for 100k images."""
README = Path(__file__).resolve().parents[1] / "README.md"
README_START, README_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def end_to_end(project: Path, logs: Path) -> dict[str, Any]:
    """Return the timed default ``kedro run`` of ``project``."""
    result = kedro_run(project, log=logs / "end_to_end.log")
    stages = result.get("stages", {})
    engineering = stages.get("model_engineering", {}).get("seconds", float("nan"))
    evaluation = stages.get("model_evaluation", {}).get("seconds", float("nan"))
    return {**result, "evaluation_to_engineering_ratio": evaluation / engineering,
            "startup_and_shutdown_seconds":
                result["wall_seconds"] - sum(s["seconds"] for s in stages.values())}


def cli_startup(project: Path, repeats: int = 3) -> dict[str, float]:
    """Return the median wall seconds of ``kedro --help`` and ``kedro registry list``."""
    out = {}
    for name, args in (("kedro_help_seconds", ["--help"]),
                       ("kedro_registry_list_seconds", ["registry", "list"])):
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            subprocess.run([str(BIN / "kedro"), *args], cwd=project, env=ENV, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds.append(time.perf_counter() - started)
        out[name] = statistics.median(seconds)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(connection: http.client.HTTPConnection, body: bytes) -> float:
    started = time.perf_counter()
    connection.request("POST", "/invocations", body=body,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if response.status != 200:  # noqa: PLR2004
        raise RuntimeError(f"serving answered {response.status}: {payload[:300]!r}")
    return time.perf_counter() - started


def serving(project: Path, logs: Path, *, requests: int = 300, threads: int = 4) -> dict[str, Any]:
    """Return p50/p99 latency (ms) of ``requests`` sequential single-image requests and the
    requests/s of ``requests`` more from ``threads`` threads, against ``mlflow models serve``
    of the project's registered model (``models:/tai_<dataset.name>@champion``) from
    ``project``'s MLflow store."""
    data = np.load(project / "data/05_model_input/model_input.npz", allow_pickle=False)
    images = data["test_pixels"].astype(np.float32)
    bodies = [json.dumps({"inputs": [images[i % len(images)].tolist()]}).encode()
              for i in range(requests)]
    port = _free_port()
    env = {**ENV, "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    with open(logs / "serving.log", "w") as log:
        server = subprocess.Popen(
            [str(BIN / "mlflow"), "models", "serve", "-m",
             f"models:/{project_settings(project)[1]}@champion",
             "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started = time.perf_counter()
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                _post(connection, bodies[0])
                break
            except (ConnectionError, OSError):
                if server.poll() is not None or time.perf_counter() - started > 120:  # noqa: PLR2004
                    raise RuntimeError(f"mlflow models serve did not start; see {logs / 'serving.log'}")
                time.sleep(0.5)
        startup = time.perf_counter() - started
        for body in bodies[:20]:  # warm-up
            _post(connection, body)
        latencies = [_post(connection, body) for body in bodies]
        per_thread = [bodies[i::threads] for i in range(threads)]

        def _worker(chunk: list[bytes]) -> None:
            own = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for body in chunk:
                _post(own, body)

        workers = [threading.Thread(target=_worker, args=(chunk,)) for chunk in per_thread]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        concurrent = time.perf_counter() - started
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    milliseconds = np.asarray(latencies) * 1000
    return {"server_startup_seconds": startup, "requests": requests, "threads": threads,
            "serving_p50_ms": float(np.percentile(milliseconds, 50)),
            "serving_p99_ms": float(np.percentile(milliseconds, 99)),
            "sequential_requests_per_second": requests / float(np.sum(latencies)),
            "serving_requests_per_second": requests / concurrent}


def _scale_figures() -> dict[str, Any]:
    """The largest run of the latest scale sweep result files, and its exponent."""
    best: dict[str, Any] = {}
    for path in sorted(RESULTS.glob("scale_sweep*.json")):
        sweep = json.loads(path.read_text())
        runs = [r for r in sweep["runs"] if r.get("stages")]
        if runs and (not best or runs[-1]["n_images"] > best["largest"]["n_images"]):
            best = {"file": path.name, "largest": runs[-1],
                    "exponent": growth_exponents(runs).get("pipeline", float("nan"))}
    if not best:
        return {}
    largest = best["largest"]
    return {"scale_file": best["file"], "scale_largest_n_images": largest["n_images"],
            "scale_largest_epochs": largest["epochs"],
            "scale_largest_end_to_end_seconds": largest["wall_seconds"],
            "scale_largest_extrapolated_seconds_at_shipped_epochs":
                largest["extrapolated_seconds_at_shipped_epochs"],
            "scale_largest_peak_rss_gib": largest["peak_rss_mib"] / 1024,
            "scale_images_per_second": largest["images_per_second"],
            "scale_growth_exponent": best["exponent"]}


def markdown(figures: dict[str, Any], host: dict[str, Any], *, extras: bool = True) -> str:
    """Return the results table: the machine, every figure against its goal and (``extras``)
    a second table of the other figures."""
    lines = [f"Machine: {host['cpu']}, {host['cores']} cores, {host['memory_gib']} GiB RAM, "
             f"Python {host['python']}, torch {host['torch']} ({host['torch_threads']} threads); "
             f"load average at start {host['load_average_1_5_15'][0]:.1f}.", "",
             "| benchmark | measured | goal | met |", "|---|---|---|---|"]
    for name, (op, goal, label) in GOALS.items():
        value = figures.get(name)
        if value is None or not np.isfinite(value):
            lines.append(f"| {label} | not measured | {op} {goal:g} | - |")
            continue
        met = value <= goal if op == "<=" else value >= goal if op == ">=" else value < goal
        lines.append(f"| {label} | {value:.3g} | {op} {goal:g} | {'yes' if met else 'no'} |")
    extra = {k: v for k, v in figures.items() if k not in GOALS}
    if not extras:
        return "\n".join(lines) + "\n"
    lines += ["", "| other figure | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |"
              for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def write_readme_table(table: str, readme: Path = README) -> None:
    """Replace the text between the README's bench markers with ``table``."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    readme.write_text(f"{text[:start]}\n{table}{text[end:]}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--table-only", action="store_true",
                        help="rewrite bench.md from bench.json and the latest scale sweep")
    args = parser.parse_args()
    if args.table_only:
        saved = json.loads((RESULTS / "bench.json").read_text())
        figures = {k: v for k, v in saved["figures"].items() if not k.startswith("scale_")}
        figures |= _scale_figures()
        (RESULTS / "bench.md").write_text(markdown(figures, saved["machine"]))
        write_readme_table(markdown(figures, saved["machine"], extras=False))
        return
    host = machine()
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tai-bench-") as tmp:
        project = make_project(Path(tmp))
        run = end_to_end(project, logs)
        figures: dict[str, Any] = {
            "end_to_end_seconds": run["wall_seconds"],
            "evaluation_to_engineering_ratio": run["evaluation_to_engineering_ratio"],
            "end_to_end_exit_code": run["exit_code"],
            "startup_and_shutdown_seconds": run["startup_and_shutdown_seconds"],
            "end_to_end_peak_rss_mib": run.get("peak_rss_mib", float("nan")),
            **{f"stage_{name}_seconds": stage["seconds"]
               for name, stage in run.get("stages", {}).items()},
        }
        figures |= cli_startup(project)
        data = dict(np.load(project / "data/05_model_input/model_input.npz", allow_pickle=False))
        dp = measure_dp(data)
        figures["dp_ratio"] = dp["dp_ratio"]
        figures |= {f"dp_ratio_{k.split('(')[-1].rstrip(')')}": v
                    for k, v in dp["ratio_to_non_private"].items() if k.startswith("DP")}
        serve: dict[str, Any] = {}
        if not args.skip_serving:
            serve = serving(project, logs)
            figures |= {k: v for k, v in serve.items() if k not in {"requests", "threads"}}
    figures |= _scale_figures()
    save("bench", {"machine": host, "figures": figures, "end_to_end": run, "dp_overhead": dp,
                   "serving": serve, "goals": GOALS})
    table = markdown(figures, host)
    (RESULTS / "bench.md").write_text(table)
    write_readme_table(markdown(figures, host, extras=False))
    print(table)


if __name__ == "__main__":
    main()

"""Generate the Airflow DAG of the project with kedro-airflow, Airflow kept out of the main venv.

Airflow is an optional extra: it goes into its own virtualenv (``.venv-airflow``, made on
first use with the pinned versions below), never into the project's ``.venv``. kedro-airflow
itself is pure Python and needs only kedro and jinja2, which the project venv has: it is
put in a side folder (``.venv-airflow/kedro-airflow-plugin``, ``pip --target --no-deps``)
that goes on ``PYTHONPATH`` only for the ``kedro airflow create`` call.

The DAG has one task per CRISP-ML(Q) stage (``--group-by namespace``), the same cut as the
DVC stages: stages only exchange persisted catalog datasets, so each task can run in its
own process or worker. Run: ``python deploy/airflow/make_dag.py [--out airflow_dags]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VERSION = "3.3.2"
KEDRO_AIRFLOW_VERSION = "0.11.0"
KEDRO_VERSION = "1.7.0"
VENV = ROOT / ".venv-airflow"
PLUGIN = VENV / "kedro-airflow-plugin"
PROBE = Path(__file__).with_name("dagbag_probe.py")


def airflow_python(venv: Path = VENV) -> Path:
    """Return the python of the Airflow venv, creating and filling the venv on first use."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        f"apache-airflow=={AIRFLOW_VERSION}",
                        f"kedro-airflow=={KEDRO_AIRFLOW_VERSION}", f"kedro=={KEDRO_VERSION}"],
                       check=True)
        stamp.touch()
    return python


def plugin_path(venv: Path = VENV) -> Path:
    """Return the side folder holding kedro-airflow for the project venv's ``kedro`` CLI."""
    plugin = venv / "kedro-airflow-plugin"
    if not (plugin / "kedro_airflow").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                        "--target", str(plugin), f"kedro-airflow=={KEDRO_AIRFLOW_VERSION}"],
                       check=True)
    return plugin


def generate_dag(out: Path, *, project: Path = ROOT, venv: Path = VENV) -> Path:
    """Write the DAG file of the ``__default__`` pipeline into ``out``; return its path."""
    airflow_python(venv)
    path = os.pathsep.join(p for p in (str(plugin_path(venv)), os.environ.get("PYTHONPATH"))
                           if p)
    kedro = Path(sys.executable).parent / "kedro"
    subprocess.run([str(kedro), "airflow", "create", "--group-by", "namespace",
                    "--target-dir", str(out.resolve())], cwd=project, check=True,
                   env={**os.environ, "PYTHONPATH": path, "KEDRO_DISABLE_TELEMETRY": "true"})
    return out.resolve() / "tai_project_dag.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "airflow_dags"))
    args = parser.parse_args()
    dag = generate_dag(Path(args.out))
    print(f"Airflow DAG written to {dag}")  # noqa: T201


if __name__ == "__main__":
    main()

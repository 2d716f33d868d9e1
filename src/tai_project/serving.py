"""``make serve``: serve the verified champion with ``mlflow models serve`` on 127.0.0.1.

The champion (``models:/<name>@champion``) is downloaded to ``data/06_models/serving/``,
checked file by file against the SHA-256 manifest recorded at registration (a changed file
is refused, naming it), and exactly that verified copy is served, with the local Python
environment (``--env-manager local``; this interpreter's folder is put first on ``PATH``
because MLflow execs ``uvicorn`` from there). It binds 127.0.0.1 only.

    python -m tai_project.serving [--alias champion] [--port 5001]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import mlflow

from tai_project import registry
from tai_project.errors import RegistryError, TaiProjectError

HOST = "127.0.0.1"  # never another interface: the model has no authentication in front of it
SERVING_DIR = Path("data/06_models/serving")


def prepare(alias: str, client: mlflow.MlflowClient, name: str) -> Path:
    """Return the folder of a freshly downloaded, SHA-256-verified copy of ``name@alias``."""
    version = registry.alias_version(client, name, alias)
    if version is None:
        raise RegistryError(f"Model '{name}' has no alias '{alias}': run `make run` (and "
                            "`make approve` if human approval is required) first.")
    target = SERVING_DIR / f"{name}-v{version}"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    return registry.download_verified(client, name, version, target)


def serve_command(model_folder: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """Return the ``mlflow models serve`` command line and environment for ``model_folder``."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(Path(bin_dir) / "mlflow"), "models", "serve", "-m", str(model_folder),
               "--env-manager", "local", "--host", HOST, "--port", str(port), "--workers", "1"]
    return command, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tai_project.serving", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alias", default=registry.CHAMPION)
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    uri, name = registry.project_settings()
    try:
        folder = prepare(args.alias, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri), name)
    except TaiProjectError as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1
    command, env = serve_command(folder.resolve(), args.port)
    sys.stderr.write(f"Serving verified {name}@{args.alias} from {folder} on http://{HOST}:{args.port}\n")
    os.execve(command[0], command, env)  # noqa: S606 - replaces this process; nothing to clean up
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())

"""``make serve``: serve the verified champion on 127.0.0.1, behind the request guard.

The champion (``models:/<name>@champion``) is downloaded to ``data/06_models/serving/``,
checked file by file against the SHA-256 manifest recorded at registration (a changed file
is refused, naming it), and exactly that verified copy is loaded and served in this process
by uvicorn: MLflow's own scoring app (``mlflow.pyfunc.scoring_server.init``, the app
``mlflow models serve`` runs, same protocol) wrapped in ``request_guard.RequestGuard``, so
every malformed request gets a 4xx with a one-line reason and an oversized body is refused
before it is read. The limits are ``deployment.serving`` parameters and the model's own
input limits. It binds 127.0.0.1 only.

    python -m tai_project.serving [--alias champion] [--port 5001]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mlflow
from pydantic import ValidationError

from tai_project import registry
from tai_project.errors import ParameterError, RegistryError, TaiProjectError
from tai_project.parameters_schema import Serving as ServingParameters
from tai_project.request_guard import RequestGuard, ServingLimits, limits_from

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


def serving_parameters(project_path: str | Path = ".") -> dict[str, Any]:
    """Return ``deployment.serving`` (plus ``deployment.release.max_batch_size``, the limit of
    a model that recorded none) as ``kedro run`` reads it, validated by
    ``check_serving_parameters``."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - only the CLI needs kedro

    loader = OmegaConfigLoader(conf_source=str(Path(project_path) / "conf"), base_env="base",
                               default_run_env="local")
    deployment = loader["parameters"].get("deployment", {})
    return check_serving_parameters(deployment.get("serving"),
                                    deployment.get("release", {}).get("max_batch_size"))


def check_serving_parameters(serving: Mapping[str, Any] | None, max_batch_size: Any) -> dict[str, Any]:
    """Return the validated serving parameters, or raise ``ParameterError`` naming each
    missing, unknown, mistyped or non-positive key."""
    problems = []
    try:
        ServingParameters.model_validate(dict(serving or {}))
    except ValidationError as exc:
        problems += [f"deployment.serving.{'.'.join(map(str, e['loc']))}: "
                     + ("unknown key; valid keys are " + str(sorted(ServingParameters.model_fields))
                        if e["type"] == "extra_forbidden" else f"{e['msg']} (found {e.get('input')!r})")
                     for e in exc.errors()]
    if isinstance(max_batch_size, bool) or not isinstance(max_batch_size, int) or max_batch_size < 1:
        problems.append(f"deployment.release.max_batch_size: expected an integer >= 1, "
                        f"found {max_batch_size!r}")
    if problems:
        raise ParameterError(f"{len(problems)} problem(s) in conf/base/parameters/deployment.yml:\n"
                             + "\n".join(f"  - {problem}" for problem in problems))
    return {**dict(serving or {}), "max_batch_size": max_batch_size}


def build_app(model_folder: Path, parameters: Mapping[str, Any]) -> tuple[Any, ServingLimits]:
    """Return MLflow's scoring app for the model in ``model_folder`` wrapped in the request
    guard, and the guard's limits."""
    from mlflow.pyfunc import scoring_server  # noqa: PLC0415 - loads FastAPI; serving only

    model = mlflow.pyfunc.load_model(str(model_folder))
    spec = model.metadata.get_input_schema()
    shape = list(spec.inputs[0].shape[1:]) if spec is not None and spec.is_tensor_spec() else []
    python_model = model.unwrap_python_model()
    limits = limits_from(parameters, getattr(python_model, "limits", {}), shape)
    return RequestGuard(scoring_server.init(model), limits), limits


def serve(model_folder: Path, port: int, parameters: Mapping[str, Any]) -> None:
    """Serve ``model_folder`` on ``HOST:port`` until interrupted (SIGINT / SIGTERM)."""
    import uvicorn  # noqa: PLC0415 - serving only

    app, limits = build_app(model_folder, parameters)
    sys.stderr.write(f"Request limits: {limits}\n")
    uvicorn.run(app, host=HOST, port=port, workers=1, log_level="warning",
                timeout_keep_alive=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tai_project.serving", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alias", default=registry.CHAMPION)
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    uri, name = registry.project_settings()
    try:
        parameters = serving_parameters()
        folder = prepare(args.alias, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri), name)
    except TaiProjectError as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1
    sys.stderr.write(f"Serving verified {name}@{args.alias} from {folder} on http://{HOST}:{args.port}\n")
    serve(folder.resolve(), args.port, parameters)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The project as a Kedro starter: `kedro new --starter` and cookiecutter make a renamed,
working project (as kedro-starters' CI checks its starters: generate, then run its tests)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from kedro.framework.cli.starters import _derive_package_name

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_spec = importlib.util.spec_from_file_location("build_starter", PROJECT_ROOT / "starter" / "build_starter.py")
build_starter = sys.modules.setdefault("build_starter", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(build_starter)

SOURCE = build_starter.Names.of_project(PROJECT_ROOT)
TARGET = build_starter.Names.for_new_project("Acme Scans")


def _render(template: str, names: build_starter.Names) -> str:
    """Render like cookiecutter: strict undefined, trailing newline kept."""
    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    context = {"python_package": names.python_package, "repo_name": names.repo_name,
               "project_name": names.project_name}
    return env.from_string(template).render(cookiecutter=context)


def test_names_are_kedros():
    assert TARGET.python_package == _derive_package_name("Acme Scans") == "acme_scans"
    assert TARGET.repo_name == "acme-scans" and TARGET.model_name == "tai_${globals:dataset.name}"


@pytest.mark.parametrize("text", [
    "plain text\n",
    "{{ not_a_variable }} and {% if x %}{# comment #}\n",
    "an {% endraw %} tag and {%- endraw -%} too\n",
    "",
])
def test_templatise_renders_back_to_the_renamed_text(text):
    text = f"import {SOURCE.python_package}.trust\n{text}name: {SOURCE.model_name}\n"
    rendered = _render(build_starter.templatise(text, SOURCE), TARGET)
    assert rendered == build_starter.rename(text, SOURCE, TARGET)
    assert rendered.startswith("import acme_scans.trust\n")
    assert rendered.endswith("name: tai_${globals:dataset.name}\n")


def test_template_leaves_out_local_configuration_and_run_products():
    files = {str(p) for p in build_starter.project_files(PROJECT_ROOT)}
    assert "pyproject.toml" in files and "starter/build_starter.py" in files
    assert not {f for f in files if f.startswith(("conf/local/", ".venv/", "mlartifacts/"))} - {
        "conf/local/.gitkeep"}
    assert not {f for f in files if f.startswith("data/01_raw/") or f == "mlflow.db"}


def _tree(root: Path) -> dict[str, bytes]:
    """The project's files, without its git repository."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != ".git"}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def _stray_names(tree: dict[str, bytes]) -> list[str]:
    # the model name (tai_<dataset.name>) is kept on purpose: it follows the dataset
    names = {SOURCE.python_package, SOURCE.repo_name}
    return [f"{path}: {name}" for path, content in tree.items() for name in names
            if name in path or name.encode() in content]


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH (the original package must not be importable) and no outer pytest state."""
    return {k: v for k, v in os.environ.items()
            if k != "PYTHONPATH" and not k.startswith(("PYTEST_", "MLFLOW_"))}


def _run(*command: str | Path, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=_clean_env(), capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _throwaway_venv(path: Path) -> Path:
    """A venv that sees this interpreter's packages (a .pth line) and its console scripts
    (symlinks): a new package installs in a second, not in the 3 minutes of `make setup`."""
    _run(sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", path, cwd=path.parent)
    site = path / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (site / "_shared_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    for script in BIN.iterdir():
        if not (path / "bin" / script.name).exists():
            (path / "bin" / script.name).symlink_to(script)
    return path / "bin" / "python"


@pytest.mark.slow
def test_kedro_new_and_cookiecutter_make_a_renamed_project_whose_fast_tests_pass(tmp_path):
    # 1. the script builds a standalone starter; `kedro new` makes a project from it
    _run(sys.executable, PROJECT_ROOT / "starter" / "build_starter.py", "--out", tmp_path / "starter",
         cwd=tmp_path)
    (tmp_path / "kedro_new").mkdir()
    _run(BIN / "kedro", "new", "--starter", tmp_path / "starter", "--name", "Acme Scans",
         "--telemetry", "no", cwd=tmp_path / "kedro_new")
    # 2. cookiecutter on this repository's own starter folder (its hook renders the live tree)
    _run(BIN / "cookiecutter", "--no-input", "--output-dir", tmp_path / "cookiecutter",
         PROJECT_ROOT, "--directory", "starter", "project_name=Acme Scans", cwd=tmp_path)

    made = tmp_path / "kedro_new" / "acme-scans"
    tree = _tree(made)
    cookiecutter_tree = _tree(tmp_path / "cookiecutter" / "acme-scans")
    assert set(tree) == set(cookiecutter_tree)
    assert all(tree[p] == cookiecutter_tree[p] for p in cookiecutter_tree if p != ".telemetry")
    assert _stray_names(tree) == []
    assert "src/acme_scans/pipelines/model_evaluation/pipeline.py" in tree
    assert 'package_name = "acme_scans"' in tree["pyproject.toml"].decode()
    assert 'project_name = "Acme Scans"' in tree["pyproject.toml"].decode()
    assert "registered_model_name tai_${globals:dataset.name}" in tree["conf/base/catalog.yml"].decode()
    assert len(tree) == len(build_starter.project_files(PROJECT_ROOT))
    # a git repository (so a DVC project: .dvc/config is in the template) with a first commit,
    # and no DVC pointer of the template's data: its `make data` writes its own
    for project in (made, tmp_path / "cookiecutter" / "acme-scans"):
        assert len(_git(project, "log", "--oneline").splitlines()) == 1
        assert set(_git(project, "status", "--porcelain").splitlines()) <= {" M .telemetry"}
    assert ".dvc/config" in tree and not [p for p in tree if p.startswith("data/") and p.endswith(".dvc")]

    # 3. its `make test`, cheaply: install it (no deps) into a throw-away venv, run its fast tests
    python = _throwaway_venv(tmp_path / "venv")
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "-e", made,
         cwd=tmp_path)
    _run(python, "-c", "import acme_scans, importlib.util as u; assert not u.find_spec('" +
         SOURCE.python_package + "')", cwd=made)
    result = _run(python, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider", cwd=made,
                  timeout=600)
    assert " passed" in result.stdout and " failed" not in result.stdout


def test_a_new_project_gets_its_first_commit_without_a_git_identity(tmp_path, monkeypatch):
    project = tmp_path / "acme-scans"
    (project / "data").mkdir(parents=True)
    (project / "README.md").write_text("x\n")
    no_identity = {"HOME": tmp_path, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": tmp_path / "none"}
    for name, value in no_identity.items():
        monkeypatch.setenv(name, str(value))
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)

    build_starter.init_repository(project)

    assert _git(project, "log", "--format=%s").strip() == "New project from the starter"
    assert _git(project, "ls-files").split() == ["README.md"]
    build_starter.init_repository(project)                     # a second call changes nothing
    assert len(_git(project, "log", "--oneline").splitlines()) == 1


def _fresh_machine_env() -> dict[str, str]:
    """A user's shell: no PYTHONPATH, no virtualenv on PATH, no MLflow or pytest state."""
    env = _clean_env()
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p).resolve() != BIN.resolve())
    return env


@pytest.mark.slow
@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("make", "git")), reason="needs make and git")
def test_readme_starter_commands_then_make_run_and_make_test_pass(tmp_path):
    """The README's starter path as a new user takes it, end to end: `kedro new --starter <repo>
    --directory starter --name "Acme Scans"`, then `make run` (its Makefile creates the
    project's own .venv and installs it: pip reuses the machine's wheel cache) and `make test`
    (restricted to the tests not marked slow, stopping at the first failure)."""
    env = _fresh_machine_env()

    def make(target: str, timeout: int, **extra: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["make", target], cwd=made, env={**env, **extra}, capture_output=True,
                              text=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"make {target}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        return done

    subprocess.run([BIN / "kedro", "new", "--starter", PROJECT_ROOT, "--directory", "starter",
                    "--name", "Acme Scans", "--telemetry", "no"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=300)
    made = tmp_path / "acme-scans"
    assert _git(made, "rev-parse", "--is-inside-work-tree").strip() == "true"

    run = make("run", timeout=3600)
    assert (made / ".venv" / "bin" / "python").is_file()        # its own venv, not this one
    assert "SCMError" not in run.stderr and "data version untracked" not in run.stderr
    assert "Trust gate PASSED" in run.stdout + run.stderr
    assert (made / "data" / "01_raw.dvc").is_file()             # written by its `make data`
    assert list((made / "data" / "06_models").iterdir())

    result = make("test", timeout=3600, PYTEST_ADDOPTS='-m "not slow" -x -p no:cacheprovider')
    assert " passed" in result.stdout and " failed" not in result.stdout

"""Build a Kedro starter (a cookiecutter template) from the live project, or render a renamed
copy of the project directly. One source of truth: the project tree itself.

    python starter/build_starter.py --out /tmp/starter        # a standalone cookiecutter template
    kedro new --starter /tmp/starter --name "Acme Scans"      # or: cookiecutter /tmp/starter

``kedro new --starter <this repo> --directory starter`` needs no build step: the cookiecutter
directory next to this file has a post-generation hook that calls ``render_project``.

Which files: those git tracks or would track (``git ls-files --cached --others
--exclude-standard``), or, outside git, a walk that skips data, runs, caches and local
configuration. Which names: the package and project names in ``pyproject.toml``
(``[tool.kedro]``) and the registered model name in ``conf/base/catalog.yml``; so a project
made from the starter can itself be a starter. No name is hard-coded here.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from binaryornot.check import is_binary  # cookiecutter's own text/binary test

HERE = Path(__file__).resolve().parent
# Jinja placeholders a cookiecutter template uses for the names of the generated project
PLACEHOLDERS = {
    "python_package": "{{ cookiecutter.python_package }}",
    "repo_name": "{{ cookiecutter.repo_name }}",
    "project_name": "{{ cookiecutter.project_name }}",
    # the registered model is named after the dataset (tai_<dataset.name>), not the package:
    # a new project keeps that rule
    "model_name": "tai_${globals:dataset.name}",
}
# Outside git: what a walk leaves out (the .gitignore'd run products of a working copy).
_SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
              "mlartifacts", "mlruns", ".viz", "dist", "build"}
_SKIP_FILES = {"mlflow.db", "dvc.lock"}
_KEEP_UNDER_DATA = {".gitkeep", ".gitignore"}
_RAW = "{% raw %}"
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")


class StarterError(Exception):
    """The project cannot be turned into a starter; the message says what and where."""


@dataclass(frozen=True)
class Names:
    """The names a project carries: package, repository folder, display name, model name."""

    python_package: str
    repo_name: str
    project_name: str
    model_name: str

    @classmethod
    def of_project(cls, root: Path) -> Names:
        """Read the names of the project at ``root`` from its pyproject.toml and catalog."""
        kedro = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["kedro"]
        catalog = (root / "conf" / "base" / "catalog.yml").read_text()
        model = re.search(r"^_registered_model_name:\s*&\S+\s+(\S+)", catalog, re.MULTILINE)
        if model is None:
            raise StarterError(
                f"{root / 'conf/base/catalog.yml'}: no line '_registered_model_name: &registered_model_name "
                "<name>' found; the starter renames the registered model through it, add it back."
            )
        display = kedro["project_name"]
        return cls(kedro["package_name"], _kebab(display), display, model.group(1))

    @classmethod
    def for_new_project(cls, project_name: str) -> Names:
        """The names ``kedro new --name`` derives (kedro's ``_derive_package_name``)."""
        name = project_name.strip()
        package = name.replace(" ", "_").replace("-", "_").lower()
        return cls(package, _kebab(name), name, PLACEHOLDERS["model_name"])


def _kebab(project_name: str) -> str:
    """The repository / folder name cookiecutter.json derives from the project name."""
    return project_name.strip().replace(" ", "-").replace("_", "-").lower()


def project_files(root: Path) -> list[Path]:
    """Return the project's files relative to ``root``: git's view when ``root`` is a git work
    tree (tracked plus untracked-not-ignored), else a walk without run products and caches."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=False,
    )
    if listed.returncode == 0:
        names = sorted({Path(n) for n in listed.stdout.decode().split("\0") if n})
        return [n for n in names if (root / n).is_file() and not _is_local(n)]
    return sorted(p for p in _walk(root) if not _is_local(p))


def _walk(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if not path.is_file() or _SKIP_DIRS & set(relative.parts) or path.name in _SKIP_FILES:
            continue
        if relative.parts[0] == "data" and path.name not in _KEEP_UNDER_DATA:
            continue
        if path.suffix == ".pyc" or path.name.endswith(".egg-info"):
            continue
        yield relative


def _is_local(relative: Path) -> bool:
    """conf/local holds credentials and approvals: never part of a template. Nor are the DVC
    pointers of the template's own data (data/*.dvc): a new project's ``make data`` writes its
    own with ``dvc add``."""
    if relative.parts[0] == "data" and relative.suffix == ".dvc":
        return True
    return relative.parts[:2] == ("conf", "local") and relative.name != ".gitkeep"


def _substitution(source: Names) -> tuple[re.Pattern[str], dict[str, str]]:
    """A regex of every source name (longest first) and the ``Names`` field each one maps to.

    ``project_name = "..."`` in pyproject.toml carries the display name; elsewhere the
    kebab-case project name is the repository name.
    """
    fields = {
        f'project_name = "{source.project_name}"': "project_name_line",
        source.model_name: "model_name",
        source.python_package: "python_package",
        source.repo_name: "repo_name",
    }
    pattern = re.compile("|".join(re.escape(k) for k in sorted(fields, key=len, reverse=True)))
    return pattern, fields


def _pieces(text: str, source: Names) -> Iterator[tuple[str, str | None]]:
    """Split ``text`` into ``(literal, None)`` and ``(matched, field)`` pieces."""
    pattern, fields = _substitution(source)
    start = 0
    for match in pattern.finditer(text):
        yield text[start:match.start()], None
        yield match.group(0), fields[match.group(0)]
        start = match.end()
    yield text[start:], None


def rename(text: str, source: Names, target: Names) -> str:
    """Return ``text`` with every name of ``source`` replaced by the same name of ``target``."""
    out = []
    for piece, field in _pieces(text, source):
        if field is None:
            out.append(piece)
        elif field == "project_name_line":
            out.append(f'project_name = "{target.project_name}"')
        else:
            out.append(getattr(target, field))
    return "".join(out)


def templatise(text: str, source: Names) -> str:
    """Return ``text`` as Jinja that renders back to it with the names as cookiecutter variables.

    Literal text sits in ``{% raw %}`` blocks (so ``{{ }}`` of notebooks, OmegaConf or
    this file survive); an ``endraw`` tag in the text is emitted as a Jinja string.
    """
    out = []
    for piece, field in _pieces(text, source):
        if field == "project_name_line":
            out.append('project_name = "' + PLACEHOLDERS["project_name"] + '"')
        elif field is not None:
            out.append(PLACEHOLDERS[field])
        elif piece:
            start = 0
            for match in _ENDRAW.finditer(piece):
                out.append(_raw(piece[start:match.start()]) + "{{ " + json.dumps(match.group(0)) + " }}")
                start = match.end()
            out.append(_raw(piece[start:]))
    return "".join(out)


def _raw(text: str) -> str:
    return _RAW + text + "{%" + " endraw %}" if text else ""


def _path_template(relative: Path, source: Names) -> Path:
    """A path whose names are placeholders; a part that looks like Jinja becomes a string."""
    parts = []
    for part in relative.parts:
        if "{{" in part or "{%" in part:
            parts.append("{{ " + json.dumps(part) + " }}")
        else:
            parts.append(templatise(part, source).replace(_RAW, "").replace("{%" + " endraw %}", ""))
    return Path(*parts)


def _read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def render_project(root: Path, dest: Path, target: Names) -> list[Path]:
    """Write the project at ``root`` into ``dest`` with its names replaced by ``target``;
    return the written files (relative to ``dest``)."""
    source = Names.of_project(root)
    written = []
    for relative in project_files(root):
        out = dest / Path(rename(str(relative), source, target))
        out.parent.mkdir(parents=True, exist_ok=True)
        text = _read_text(root / relative)
        if text is None:
            _check_binary(root / relative, source)
            shutil.copyfile(root / relative, out)
        else:
            out.write_text(rename(text, source, target))
        shutil.copymode(root / relative, out)
        written.append(out.relative_to(dest))
    return written


def init_repository(project: Path) -> None:
    """Make ``project`` a git repository with a first commit of all its files. It is then a
    DVC project too: the template carries ``.dvc/config`` and ``.dvcignore`` (what ``dvc init``
    writes), so no DVC is needed where the project is generated. Without git, say so and go
    on: the project's hooks then record the data version as untracked, with one warning."""
    if (project / ".git").exists():
        return
    if shutil.which("git") is None:
        sys.stderr.write(f"warning: git not found: {project} is not a git repository; run `git init && "
                         "git add -A && git commit -m 'first commit'` there (DVC needs git).\n")
        return

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)

    git("init", "--quiet")
    # a fresh machine may have no git identity: commit as the starter then, the user's own later
    identity = [] if git("config", "user.email").stdout.strip() else [
        "-c", "user.name=project starter", "-c", "user.email=starter@localhost"]
    git("add", "--all")
    done = git(*identity, "commit", "--quiet", "--no-verify", "-m", "New project from the starter")
    if done.returncode != 0:
        sys.stderr.write(f"warning: the first commit in {project} failed: {done.stderr.strip()}\n")


# the hook of a built starter: the new project carries starter/build_starter.py (this file)
_BUILT_HOOK = '''"""Make the new project a git repository (and so a DVC project) with a first commit."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd() / "starter"))
from build_starter import init_repository  # noqa: E402

init_repository(Path.cwd())
'''


def build_starter(root: Path, out: Path) -> Path:
    """Write a cookiecutter template of the project at ``root`` into ``out`` (replaced if it
    exists): ``cookiecutter.json`` and ``prompts.yml`` from this folder, and
    ``{{ cookiecutter.repo_name }}/`` holding the project with its names as placeholders."""
    source = Names.of_project(root)
    if out.exists():
        shutil.rmtree(out)
    project = out / PLACEHOLDERS["repo_name"]
    copied = []
    for relative in project_files(root):
        target = project / _path_template(relative, source)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = _read_text(root / relative)
        if text is None or is_binary(str(root / relative)):
            _check_binary(root / relative, source)
            shutil.copyfile(root / relative, target)
            copied.append(str(_path_template(relative, source)))
        else:
            target.write_text(templatise(text, source))
        shutil.copymode(root / relative, target)
    context = json.loads((HERE / "cookiecutter.json").read_text())
    context["_copy_without_render"] = copied
    (out / "cookiecutter.json").write_text(json.dumps(context, indent=2) + "\n")
    shutil.copy(HERE / "prompts.yml", out / "prompts.yml")
    (out / "hooks").mkdir()
    (out / "hooks" / "post_gen_project.py").write_text(_BUILT_HOOK)
    return out


def _check_binary(path: Path, source: Names) -> None:
    data = path.read_bytes()
    for name in {source.python_package, source.repo_name, source.model_name}:
        if name.encode() in data:
            raise StarterError(
                f"{path}: a binary file holds the project name {name!r}, which the starter cannot "
                "rename; regenerate the file from code, or keep it out of git."
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the cookiecutter template")
    parser.add_argument("--project", type=Path, default=HERE.parent, help="project root (default: ..)")
    args = parser.parse_args(argv)
    build_starter(args.project.resolve(), args.out.resolve())


if __name__ == "__main__":
    main()

"""Fill the new project with the live project this starter sits in, renamed; then make it a
git repository (and so a DVC project) with a first commit.

cookiecutter renders this file with Jinja and runs it in the new project's folder. The
project to copy is the folder above ``starter/`` (a local path, or cookiecutter's clone of a
git URL); it is never modified.
"""

import json
import os
import sys
from pathlib import Path

# rendered by cookiecutter (Jinja) before this script runs
CONTEXT = json.loads(r"""{{ cookiecutter | jsonify }}""")
REPO_DIR = Path(CONTEXT["_repo_dir"])
PROJECT_NAME = CONTEXT["project_name"]
OUTPUT_DIR = Path(CONTEXT["_output_dir"])


def _starter_dir() -> Path:
    """cookiecutter passes the starter's path as given: relative to where it was called."""
    candidates = [REPO_DIR] if REPO_DIR.is_absolute() else [
        Path(os.environ.get("PWD", OUTPUT_DIR)) / REPO_DIR, OUTPUT_DIR / REPO_DIR]
    for candidate in candidates:
        if (candidate / "build_starter.py").is_file():
            return candidate.resolve()
    sys.exit(f"post_gen_project: cannot find the starter folder {REPO_DIR} (tried "
             f"{', '.join(map(str, candidates))}); call kedro new / cookiecutter with an absolute path.")


starter = _starter_dir()
sys.path.insert(0, str(starter))
from build_starter import Names, init_repository, render_project  # noqa: E402

render_project(starter.parent, Path.cwd(), Names.for_new_project(PROJECT_NAME))
init_repository(Path.cwd())

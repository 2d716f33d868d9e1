"""``tai-project init-data <folder>``: the dataset description inferred from a user's folder,
and every bad input refused with a message naming the file, exit 1 and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from tai_project.errors import DataValidationError
from tai_project.init_data import DESCRIPTION_KEYS, describe, group_candidates

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _image(path: Path, mode: str = "L", size: tuple[int, int] = (12, 10), value: int = 0) -> None:
    """An image of ``size`` (width, height) whose pixels run from ``value`` to 200."""
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    pixels = np.linspace(value, 200, size[0] * size[1] * (channels[0] if channels else 1)).astype(np.uint8)
    Image.fromarray(pixels.reshape(size[1], size[0], *channels)).convert(mode).save(path)


def _image_folder(root: Path, classes=("cat", "dog"), per_class: int = 3, **image: object) -> Path:
    for label in classes:
        for i in range(per_class):
            _image(root / label / f"{label}{i}.png", **image)
    return root


def _metadata_folder(root: Path, n: int = 12) -> Path:
    """metadata.csv + images/: RGB 24x24, word labels, a 3-valued ``scanner`` column."""
    rows = []
    for i in range(n):
        label, scanner = ("benign", "malign")[i % 2], ("s1", "s2", "s3")[i % 3]
        _image(root / "images" / label / f"im{i}.png", mode="RGB", size=(24, 24), value=10)
        rows.append({"image_id": f"im{i}", "path": f"{label}/im{i}.png", "label": label,
                     "scanner": scanner, "age": 30 + i})
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)
    return root


def _project(tmp_path: Path) -> Path:
    """A folder with the project's conf (no git): init-data writes conf/<env>/globals.yml."""
    project = tmp_path / "project"
    (project / "conf" / "base").mkdir(parents=True)
    (project / "conf" / "local").mkdir()
    return project


def _cli(project: Path, *args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), "DVC_NO_ANALYTICS": "1"}
    return subprocess.run([sys.executable, "-m", "tai_project", "init-data", *map(str, args)], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_image_folder_grayscale_is_described_and_its_metadata_written(tmp_path):
    project = _project(tmp_path)
    data = _image_folder(project / "data" / "scans", classes=("0", "1", "10"))

    result = _cli(project, data, "--name", "scans")

    assert result.returncode == 0, result.stderr
    dataset = yaml.safe_load((project / "conf" / "local" / "globals.yml").read_text())["dataset"]
    assert list(dataset) == list(DESCRIPTION_KEYS)
    assert dataset == {
        "name": "scans", "images": "data/scans", "metadata": "data/scans_metadata.csv",
        "production": "data/scans_production", "production_batch": "holdout", "production_holdout": 0.1,
        "classes": [0, 1, 10], "image_height": 10, "image_width": 12, "image_mode": "L",
        "pixel_range": [0, 255], "group_columns": [], "groups": {},
    }
    assert not (data / "metadata.csv").exists()     # every file in the images folder is an image
    metadata = pd.read_csv(project / "data" / "scans_metadata.csv")
    assert list(metadata.columns) == ["image_id", "path", "label"] and len(metadata) == 9
    assert "no group column found" in result.stdout            # absent group column: said
    assert "not a DVC project" in result.stdout                # no git/DVC here: dvc add skipped
    assert "intended use" in result.stdout                     # the checklist


def test_metadata_csv_rgb_with_a_scanner_column(tmp_path):
    project = _project(tmp_path)
    data = _metadata_folder(tmp_path / "outside")

    result = _cli(project, data, "--conf", "base")

    assert result.returncode == 0, result.stderr
    dataset = yaml.safe_load((project / "conf" / "base" / "globals.yml").read_text())["dataset"]
    assert dataset["images"] == (data / "images").as_posix()   # outside the project: absolute
    assert dataset["classes"] == ["benign", "malign"] and dataset["image_mode"] == "RGB"
    assert (dataset["image_height"], dataset["image_width"]) == (24, 24)
    assert dataset["group_columns"] == ["scanner"]             # numeric `age` is no group
    assert dataset["groups"] == {"scanner": ["s1", "s2", "s3"]}
    assert not (project / "conf" / "local" / "globals.yml").exists()


def test_other_globals_keys_are_kept(tmp_path):
    project = _project(tmp_path)
    (project / "conf" / "local" / "globals.yml").write_text("owner: me\n")
    data = _metadata_folder(tmp_path / "outside")

    assert _cli(project, data).returncode == 0
    content = yaml.safe_load((project / "conf" / "local" / "globals.yml").read_text())
    assert content["owner"] == "me" and content["dataset"]["name"] == "outside"


def test_group_candidates_are_low_cardinality_text_columns():
    frame = pd.DataFrame({"image_id": list("abcdefgh"), "path": list("abcdefgh"), "label": [0, 1] * 4,
                          "scanner": ["x", "y"] * 4, "patient": list("abcdefgh"), "age": range(8)})
    assert group_candidates(frame) == ["scanner"]


def _mixed_modes(root: Path) -> str:
    _image_folder(root)
    _image(root / "dog" / "odd.png", mode="RGB")
    return "dog/odd.png"


def _mixed_sizes(root: Path) -> str:
    _image_folder(root)
    _image(root / "cat" / "big.png", size=(20, 20))
    return "cat/big.png"


def _empty_class(root: Path) -> str:
    _image_folder(root)
    (root / "bird").mkdir()
    return "bird"


def _corrupt(root: Path) -> str:
    _image_folder(root)
    (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return "cat/broken.png"


def _rgba(root: Path) -> str:
    _image_folder(root, mode="RGBA")
    return "'RGBA'"


def _label_contradicts_folder(root: Path) -> str:
    _metadata_folder(root)
    metadata = pd.read_csv(root / "metadata.csv")
    metadata.loc[3, "label"] = "benign"   # the file sits in malign/
    metadata.to_csv(root / "metadata.csv", index=False)
    return "malign/im3.png"


def _missing_file(root: Path) -> str:
    _metadata_folder(root)
    (root / "images" / "benign" / "im0.png").unlink()
    return "benign/im0.png"


def _no_site_column(root: Path) -> str:
    _metadata_folder(root)
    return "metadata.csv"


@pytest.mark.parametrize(("make", "expected", "args"), [
    (_mixed_modes, "mixed image modes", ()),
    (_mixed_sizes, "mixed image sizes", ()),
    (_empty_class, "class folder(s) with no images", ()),
    (_corrupt, "unreadable image", ()),
    (_rgba, "allowed: ['L', 'RGB']", ()),
    (_label_contradicts_folder, "label contradicts the class folder", ()),
    (_missing_file, "name no file", ()),
    (_no_site_column, "--group-column 'site' is not a column", ("--group-column", "site")),
])
def test_bad_input_is_refused_naming_the_file_and_nothing_is_written(tmp_path, make, expected, args):
    project = _project(tmp_path)
    data = project / "data" / "mine"
    data.mkdir(parents=True)
    named = make(data)
    before = _files(project)

    result = _cli(project, data, *args)

    assert result.returncode == 1
    assert expected in result.stderr and named.strip("'") in result.stderr.replace(str(data) + "/", "")
    assert "Traceback" not in result.stderr
    assert _files(project) == before                          # no metadata.csv, no globals.yml


def test_describe_raises_the_project_error(tmp_path):
    with pytest.raises(DataValidationError, match="not a folder"):
        describe(tmp_path / "nowhere")


def _git_dvc(project: Path) -> None:
    for command in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        subprocess.run(command, cwd=project, check=True, capture_output=True,
                       env={**os.environ, "DVC_NO_ANALYTICS": "1"})


def test_in_a_git_dvc_project_the_folder_is_dvc_added(tmp_path):
    project = _project(tmp_path)
    _git_dvc(project)
    data = _metadata_folder(project / "data" / "mine")

    result = _cli(project, data, "--group-column", "scanner")

    assert result.returncode == 0, result.stderr
    assert "tracked by DVC: data/mine.dvc" in result.stdout
    assert yaml.safe_load((project / "data" / "mine.dvc").read_text())["outs"][0]["path"] == "mine"


def test_an_image_folder_and_its_written_metadata_are_dvc_added(tmp_path):
    project = _project(tmp_path)
    _git_dvc(project)
    data = _image_folder(project / "data" / "scans")

    result = _cli(project, data)

    assert result.returncode == 0, result.stderr
    assert "tracked by DVC: data/scans.dvc data/scans_metadata.csv.dvc" in result.stdout


def _data(project: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), "DVC_NO_ANALYTICS": "1"}
    return subprocess.run([sys.executable, "-m", "tai_project", "data"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_make_data_never_exports_digits_into_a_user_dataset(tmp_path):
    project = _project(tmp_path)
    (project / "conf" / "local" / "globals.yml").write_text(yaml.safe_dump({"dataset": {
        "name": "scans", "images": "data/scans/images", "metadata": "data/scans/metadata.csv"}}))

    result = _data(project)

    assert result.returncode == 1
    assert "make init-data DATA=" in result.stderr and "data/scans/images" in result.stderr
    assert not (project / "data").exists()


def test_make_data_exports_the_digits_example_and_dvc_adds_it(tmp_path):
    project = _project(tmp_path)
    _git_dvc(project)
    (project / "conf" / "base" / "globals.yml").write_text("dataset:\n  name: digits\n")

    result = _data(project)

    assert result.returncode == 0, result.stderr
    assert (project / "data" / "01_raw" / "metadata.csv").is_file()
    assert (project / "data" / "01_production" / "iid" / "metadata.csv").is_file()
    assert {p.name for p in (project / "data").glob("*.dvc")} == {"01_raw.dvc", "01_production.dvc"}
    assert _data(project).stdout.strip().endswith("digits example: present")

"""``tai-project init-data <folder>``: describe a user's image folder as the project's dataset.

Two layouts are read (the first is the one the default example exports)::

    <folder>/metadata.csv + <folder>/images/<path>    metadata: image_id, path, label[, group columns]
    <folder>/<label>/<file>                            an ImageFolder; <folder>_metadata.csv is written

(An ImageFolder's metadata goes next to the folder, not in it: the raw images dataset reads
every file under the images folder as an image.)

Every image is decoded. Mixed modes or sizes, a mode other than L or RGB, an empty class
folder, an unreadable file, a metadata row that contradicts the files or a named group column
that is absent stop the command with a ``DataValidationError`` naming the files and the fix;
then nothing is written. Otherwise the dataset description goes into
``conf/<env>/globals.yml`` under ``dataset:`` (keys ``DESCRIPTION_KEYS``), ``dvc add`` tracks
the folder, and a checklist says what the user still has to write.

``python -m tai_project data`` (``make data``) makes the described data present: the digits
example is exported when absent; a user's dataset is pulled with DVC or the user is told to
run ``make init-data``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from PIL import Image, UnidentifiedImageError

from tai_project.data_version import untracked_reason
from tai_project.errors import DataValidationError

DESCRIPTION_KEYS = ("name", "images", "metadata", "production", "production_batch",
                    "production_holdout", "classes", "image_height", "image_width", "image_mode",
                    "pixel_range", "group_columns", "groups")
# monitoring's default batch for a user's data: a slice of it held out from every split
DEFAULT_PRODUCTION_BATCH, DEFAULT_PRODUCTION_HOLDOUT = "holdout", 0.1
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
ALLOWED_MODES = ("L", "RGB")
RESERVED_COLUMNS = ("image_id", "path", "label")
MAX_GROUP_VALUES = 20  # a text column with at most this many values (and repeats) is a group candidate
DIGITS_EXAMPLE = "digits"  # dataset.name of the default example (make data exports it)
MAX_LISTED = 5  # files named in one error message


@dataclass
class ImageStats:
    """What decoding every image found: mode, (height, width) and pixel range per file."""

    modes: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    pixel_min: int = 255
    pixel_max: int = 0


def _listed(files: list[str]) -> str:
    more = f" (and {len(files) - MAX_LISTED} more)" if len(files) > MAX_LISTED else ""
    return ", ".join(files[:MAX_LISTED]) + more


def image_folder_metadata(folder: Path) -> pd.DataFrame:
    """Return ``image_id, path, label`` of an ImageFolder ``<folder>/<label>/<file>``; a class
    folder without images is an error."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataValidationError(
            f"{folder}: no metadata.csv and no class folders; expected <folder>/<label>/<image file> "
            "(an ImageFolder) or <folder>/metadata.csv with image_id, path, label columns.")
    empty = [str(c) for c in classes if not any(f.suffix.lower() in IMAGE_SUFFIXES for f in c.iterdir())]
    if empty:
        raise DataValidationError(
            f"class folder(s) with no images: {_listed(empty)}; add images "
            f"({', '.join(sorted(IMAGE_SUFFIXES))}) or remove the folder.")
    rows = [(f"{c.name}/{f.stem}", f"{c.name}/{f.name}", c.name)
            for c in classes for f in sorted(c.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    return pd.DataFrame(rows, columns=list(RESERVED_COLUMNS))


def check_metadata(metadata: pd.DataFrame, images: Path, source: str) -> None:
    """Raise unless ``metadata`` (read from ``source``) has the columns, unique ids and files
    it must have; a label that contradicts the file's class folder is an error too."""
    missing = [c for c in RESERVED_COLUMNS if c not in metadata.columns]
    if missing:
        raise DataValidationError(f"{source}: missing column(s) {missing}; expected {list(RESERVED_COLUMNS)} "
                                  "plus optional group columns.")
    duplicated = metadata.loc[metadata["image_id"].duplicated(), "image_id"].astype(str).tolist()
    if duplicated:
        raise DataValidationError(
            f"{source}: image_id not unique: {_listed(duplicated)}; give each row its own id.")
    absent = [p for p in metadata["path"].astype(str) if not (images / p).is_file()]
    if absent:
        raise DataValidationError(
            f"{source}: {len(absent)} path(s) name no file under {images}: {_listed(absent)}; "
            f"fix the paths (relative to {images}) or add the files.")
    folder = metadata["path"].astype(str).str.split("/").str[0]
    nested = metadata["path"].astype(str).str.contains("/")
    differs = metadata[nested & (folder != metadata["label"].astype(str)) & folder.isin(
        set(metadata["label"].astype(str)))]
    if len(differs):
        raise DataValidationError(
            f"{source}: label contradicts the class folder for {_listed(differs['path'].tolist())} "
            f"(e.g. label {differs['label'].iloc[0]!r}); correct the label or move the file.")


def decode_all(images: Path, paths: list[str]) -> ImageStats:
    """Decode every image; return their modes, sizes and pixel range. Unreadable files, mixed
    modes, mixed sizes or a mode other than L/RGB are errors naming the files."""
    stats, unreadable = ImageStats(), []
    for relative in paths:
        try:
            with Image.open(images / relative) as image:
                image.load()
                pixels = np.asarray(image)
                stats.modes[relative], stats.sizes[relative] = image.mode, (image.height, image.width)
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
            unreadable.append(f"{relative} ({type(error).__name__})")
            continue
        if pixels.size:
            stats.pixel_min = min(stats.pixel_min, int(pixels.min()))
            stats.pixel_max = max(stats.pixel_max, int(pixels.max()))
    if unreadable:
        raise DataValidationError(
            f"{len(unreadable)} unreadable image(s) under {images}: {_listed(unreadable)}; "
            "re-export or delete them (and their metadata rows).")
    for what, values, fix in (("modes", stats.modes, "convert them all to one mode (L or RGB)"),
                              ("sizes", stats.sizes, "resize them all to one height x width")):
        counts = Counter(values.values())
        if len(counts) > 1:
            common = counts.most_common(1)[0][0]
            odd = [p for p, v in values.items() if v != common]
            raise DataValidationError(
                f"mixed image {what} under {images}: {dict(counts)}; {len(odd)} file(s) differ from "
                f"{common}: {_listed(odd)}; {fix}.")
    mode = next(iter(stats.modes.values()), None)
    if mode not in ALLOWED_MODES:
        raise DataValidationError(
            f"image mode {mode!r} under {images} ({_listed(list(stats.modes))}); "
            f"allowed: {list(ALLOWED_MODES)}; convert the images (PIL .convert('RGB')).")
    return stats


def group_candidates(metadata: pd.DataFrame) -> list[str]:
    """Text columns other than image_id/path/label with at most ``MAX_GROUP_VALUES`` values,
    each value seen more than once on average: likely acquisition or sensitive groups."""
    out = []
    for column in metadata.columns:
        if column in RESERVED_COLUMNS or pd.api.types.is_numeric_dtype(metadata[column]):
            continue
        values = metadata[column].dropna().astype(str).nunique()
        if 1 < values <= MAX_GROUP_VALUES and values < len(metadata) / 2:
            out.append(column)
    return out


def _classes(labels: pd.Series) -> list:
    values = sorted(set(labels.astype(str)))
    if all(v.lstrip("-").isdigit() for v in values):
        return sorted(int(v) for v in values)
    return values


def describe(folder: Path, *, name: str | None = None, group_column: str | None = None
             ) -> tuple[dict[str, Any], pd.DataFrame | None, list[str]]:
    """Infer the dataset description of ``folder``; return it, the metadata to write (an
    ImageFolder's, else None) and notes for the user. Raises ``DataValidationError``."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise DataValidationError(f"{folder}: not a folder; give the folder of your images.")
    notes = []
    if (folder / "metadata.csv").is_file():
        images = folder / "images" if (folder / "images").is_dir() else folder
        metadata_path, written = folder / "metadata.csv", None
        metadata = pd.read_csv(metadata_path)
        check_metadata(metadata, images, str(metadata_path))
    else:
        images, metadata_path = folder, folder.with_name(f"{folder.name}_metadata.csv")
        metadata = written = image_folder_metadata(folder)
        notes.append(f"ImageFolder: labels from the folder names; metadata written to {metadata_path}")
    if metadata.empty:
        raise DataValidationError(f"{metadata_path}: no images listed; add images and rows.")
    stats = decode_all(images, metadata["path"].astype(str).tolist())
    candidates = group_candidates(metadata)
    if group_column is not None:
        if group_column not in metadata.columns:
            raise DataValidationError(
                f"--group-column {group_column!r} is not a column of {metadata_path} (columns: "
                f"{list(metadata.columns)}); add it to the metadata or name another column.")
        groups_columns = [group_column]
    else:
        groups_columns = candidates
        if not candidates:
            notes.append("no group column found (fairness is then measured on no group): add a column such "
                         "as scanner or site to metadata.csv and run init-data again, or pass --group-column")
        elif len(candidates) > 1:
            notes.append(f"several candidate group columns {candidates}: all kept; pass --group-column COL "
                         "to keep one")
    height, width = next(iter(stats.sizes.values()))
    description = {
        "name": name or folder.name,
        "images": images.as_posix(),
        "metadata": metadata_path.as_posix(),
        # new batches go in <folder>_production/<batch>/; until then monitoring scores the
        # held-out slice (production_batch: holdout)
        "production": (folder.parent / f"{folder.name}_production").as_posix(),
        "production_batch": DEFAULT_PRODUCTION_BATCH,
        "production_holdout": DEFAULT_PRODUCTION_HOLDOUT,
        "classes": _classes(metadata["label"]),
        "image_height": height,
        "image_width": width,
        "image_mode": next(iter(stats.modes.values())),
        "pixel_range": [0, 255],
        "group_columns": groups_columns,
        "groups": {c: sorted(metadata[c].dropna().astype(str).unique().tolist()) for c in groups_columns},
    }
    notes.append(f"observed pixel values {stats.pixel_min}..{stats.pixel_max} (8-bit range [0, 255] kept)")
    return description, written, notes


def _relative(path: str, project: Path) -> str:
    try:
        return Path(path).relative_to(project).as_posix()
    except ValueError:
        return path


def write_description(description: dict[str, Any], globals_file: Path, project: Path) -> None:
    """Set the ``dataset:`` key of ``globals_file`` (other keys kept); paths inside the project
    are written relative to it."""
    content = yaml.safe_load(globals_file.read_text(encoding="utf-8")) if globals_file.is_file() else None
    content = content or {}
    content["dataset"] = {**description, **{k: _relative(description[k], project)
                                            for k in ("images", "metadata", "production")
                                            if description[k]}}
    globals_file.parent.mkdir(parents=True, exist_ok=True)
    globals_file.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")


def dvc_add(paths: list[Path], project: Path) -> str:
    """``dvc add`` ``paths`` when they are inside the git + DVC project; return what happened."""
    reason = untracked_reason(project)
    if reason is not None:
        return f"warning: not tracked by DVC: {reason}"
    try:
        relative = [p.relative_to(project).as_posix() for p in paths]
    except ValueError:
        return f"warning: not tracked by DVC: {paths[0]} is outside the project {project}; move it to data/"
    done = subprocess.run([sys.executable, "-m", "dvc", "add", "--quiet", *relative], cwd=project,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"warning: `dvc add {' '.join(relative)}` failed: {done.stderr.strip()[-500:]}"
    pointers = " ".join(f"{r}.dvc" for r in relative)
    return f"tracked by DVC: {pointers} (commit with git; `dvc push` copies the data to the remote)"


CHECKLIST = """What you still have to write:
  1. conf/base/model_card.yml: the intended use, out-of-scope uses and limitations for YOUR images.
  2. {globals_file}: check dataset.group_columns (the groups fairness is measured on).
  3. conf/base/parameters/trust_requirements.yml: the thresholds your use needs.
  4. git add {globals_file} data && git commit, then `make run`."""


def init_data(folder: Path, *, project: Path, env: str = "local", group_column: str | None = None,
              name: str | None = None) -> str:
    """Describe ``folder`` (``describe``), write its metadata (an ImageFolder's) and the
    description, track it with DVC; return the report printed to the user."""
    description, metadata, notes = describe(folder, name=name, group_column=group_column)
    globals_file = project / "conf" / env / "globals.yml"
    if metadata is not None:
        metadata.to_csv(description["metadata"], index=False)
    write_description(description, globals_file, project)
    folder = folder.resolve()
    tracked = dvc_add([folder] + ([Path(description["metadata"])] if metadata is not None else []), project)
    shown = yaml.safe_dump({"dataset": yaml.safe_load(globals_file.read_text())["dataset"]},
                           sort_keys=False)
    return "\n".join([
        f"Dataset description written to {globals_file.relative_to(project)}:", shown.rstrip(),
        *(f"note: {n}" for n in notes), tracked,
        CHECKLIST.format(globals_file=globals_file.relative_to(project)),
    ])


def read_description(project: Path) -> dict[str, Any] | None:
    """The ``dataset:`` block of the project's globals (conf/base, overridden by conf/local)."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - only the data commands need it

    loader = OmegaConfigLoader(str(project / "conf"), base_env="base", default_run_env="local")
    try:
        return loader["globals"].get("dataset")
    except KeyError:
        return None


def prepare_data(project: Path) -> str:
    """Make the data the description names present (``make data``); return what was done.

    The digits example (no description, or ``name: digits``) is pulled with DVC or exported
    and then tracked; a user's dataset is pulled with DVC, never replaced by digits."""
    description = read_description(project) or {"name": DIGITS_EXAMPLE}
    if description.get("name") != DIGITS_EXAMPLE:
        missing = [description.get(k) for k in ("images", "metadata")
                   if not description.get(k) or not (project / description[k]).exists()]
        if missing:
            _dvc(project, "pull", "--quiet")
            missing = [m for m in missing if not m or not (project / m).exists()]
        if missing:
            raise DataValidationError(
                f"dataset {description.get('name')!r} (conf/*/globals.yml dataset:): {missing} not found "
                "and not pulled by DVC; run `make init-data DATA=<your image folder>` (or `dvc pull` from "
                "your remote).")
        return f"dataset {description['name']!r}: present"
    done = []
    production = ["--production-out", "data/01_production"]
    for out, extra in (("data/01_raw", []), ("data/01_production", production)):
        marker = project / out / ("metadata.csv" if not extra else "")
        if marker.exists():
            continue
        if (project / f"{out}.dvc").is_file() and _dvc(project, "pull", "--quiet", f"{out}.dvc"):
            done.append(f"{out}: pulled by DVC")
            continue
        subprocess.run([sys.executable, "-m", "tai_project.datasets.default_data", "--out", "data/01_raw",
                        *extra], cwd=project, check=True)
        tracked = untracked_reason(project) is None and _dvc(project, "add", "--quiet", out)
        done.append(f"{out}: digits example exported" + (f", tracked in {out}.dvc" if tracked else ""))
    return "; ".join(done) or "digits example: present"


def _dvc(project: Path, *args: str) -> bool:
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=project, capture_output=True, check=False)
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    """``init-data`` command line; returns the exit code (1 on bad data, nothing written)."""
    parser = argparse.ArgumentParser(prog="tai-project init-data", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="ImageFolder (<label>/<file>) or folder with metadata.csv")
    parser.add_argument("--conf", choices=["local", "base"], default="local",
                        help="conf/<env>/globals.yml receives the description")
    parser.add_argument("--group-column", help="the metadata column of the groups fairness compares")
    parser.add_argument("--name", help="dataset name (default: the folder's name)")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="project root (default: .)")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(init_data(args.folder, project=args.project.resolve(), env=args.conf,
                                   group_column=args.group_column, name=args.name) + "\n")
    except DataValidationError as error:
        sys.stderr.write(f"init-data: {error}\n")
        return 1
    return 0


def data_main() -> int:
    """``python -m tai_project data`` (``make data``)."""
    try:
        sys.stdout.write(prepare_data(Path.cwd()) + "\n")
    except DataValidationError as error:
        sys.stderr.write(f"make data: {error}\n")
        return 1
    return 0

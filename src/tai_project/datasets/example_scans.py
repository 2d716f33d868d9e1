"""Generate the second example data set, "scans": RGB shapes from three simulated scanners.

Unlike the default digits on purpose: RGB (PIL mode ``RGB``), 32 x 32 by default, word
labels, and a group column called ``scanner`` (not ``site``) with three values. Nothing is
downloaded; the same seed always gives the same files. Layout (the same as the digits and a
user's own data)::

    <out>/images/<label>/<image_id>.png
    <out>/metadata.csv      image_id, path (relative to images/), label, scanner

Each image is one coloured shape (``circle``, ``square``, ``triangle``, ``cross``) or a
striped texture (``stripes``) at a random position, size, foreground and background colour,
with mild sensor noise; the colours carry no class information. Scanner ``handheld`` (about
``handheld_fraction`` of the images) is the minority and has its own acquisition shift: a
warm colour cast (red up, blue down), lower contrast and a Gaussian blur. It gives the
fairness metrics a real group gap to find.

Production batches (new, held-out images; another seed)::

    <production_out>/<batch>/images/<image_id>.png
    <production_out>/<batch>/metadata.csv   image_id, path[, label], scanner

``iid`` (as the training data), ``scanner_shift`` (every image from ``handheld``) and
``iid_unlabelled`` (``iid`` without labels).

Run: ``python -m tai_project.datasets.example_scans --out data/scans/01_raw [--n-images N]
[--size 32] [--production-out data/scans/01_production]``.

The data description for it (``data_schema``)::

    classes: [circle, square, triangle, cross, stripes]
    group_column: scanner
    groups: [handheld, s100, s200]
    image_height: 32          # --size
    image_width: 32
    image_mode: RGB
    pixel_range: [0, 255]
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

logger = logging.getLogger(__name__)

CLASSES = ("circle", "square", "triangle", "cross", "stripes")
"""Labels, in class-index order."""
SCANNERS = ("s100", "s200", "handheld")
"""Values of the ``scanner`` group column; ``handheld`` is the shifted minority."""
GROUP_COLUMN = "scanner"
PRODUCTION_BATCHES = ("iid", "scanner_shift", "iid_unlabelled")
"""The batches ``export_production_batches`` writes; ``*_unlabelled`` ones have no label column."""

_SUPERSAMPLE = 4  # shapes are drawn at 4x the size, then downsampled (anti-aliased edges)


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    """Return a random RGB colour with every channel in ``[low, high)``."""
    return tuple(int(v) for v in rng.integers(low, high, size=3))


def _draw_shape(label: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Return one clean ``(size, size, 3)`` uint8 image of ``label``."""
    big = size * _SUPERSAMPLE
    background, foreground = _colour(rng, 0, 90), _colour(rng, 150, 256)
    image = Image.new("RGB", (big, big), background)
    draw = ImageDraw.Draw(image)
    if label == "stripes":
        period = int(rng.integers(3, 6)) * _SUPERSAMPLE
        width = period // 2
        offset = int(rng.integers(0, period))
        vertical = bool(rng.integers(0, 2))
        for start in range(-period + offset, big, period):
            box = ((start, 0, start + width, big) if vertical else (0, start, big, start + width))
            draw.rectangle(box, fill=foreground)
    else:
        half = rng.uniform(0.22, 0.38) * big
        cx, cy = rng.uniform(half, big - half, size=2)
        if label == "circle":
            draw.ellipse((cx - half, cy - half, cx + half, cy + half), fill=foreground)
        elif label == "square":
            draw.rectangle((cx - half, cy - half, cx + half, cy + half), fill=foreground)
        elif label == "triangle":
            draw.polygon([(cx, cy - half), (cx - half, cy + half), (cx + half, cy + half)],
                         fill=foreground)
        elif label == "cross":
            arm = half / 3
            draw.rectangle((cx - half, cy - arm, cx + half, cy + arm), fill=foreground)
            draw.rectangle((cx - arm, cy - half, cx + arm, cy + half), fill=foreground)
        else:
            raise ValueError(f"unknown label {label!r}; expected one of {CLASSES}")
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))


def _acquire(  # noqa: PLR0913 - every knob of the simulated acquisition is explicit
    clean: np.ndarray,
    *,
    handheld: bool,
    rng: np.random.Generator,
    noise_std: float,
    cast: tuple[float, float, float],
    contrast: float,
    blur_radius: float,
) -> np.ndarray:
    """Return ``clean`` as a scanner records it: sensor noise ``N(0, noise_std)`` for all;
    for ``handheld`` first a Gaussian blur of ``blur_radius`` pixels, contrast ``contrast``
    around the image mean and a per-channel gain ``cast`` (colour cast)."""
    pixels = clean.astype(np.float64)
    if handheld:
        blurred = Image.fromarray(clean).filter(ImageFilter.GaussianBlur(blur_radius))
        pixels = np.asarray(blurred).astype(np.float64)
        pixels = contrast * pixels + (1.0 - contrast) * pixels.mean()
        pixels = pixels * np.asarray(cast)
    pixels = pixels + rng.normal(0.0, noise_std, size=pixels.shape)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def render_scans(  # noqa: PLR0913 - every knob of the simulated acquisition is explicit
    *,
    n_images: int,
    seed: int,
    size: int = 32,
    handheld_fraction: float = 0.2,
    noise_std: float = 6.0,
    cast: tuple[float, float, float] = (1.25, 1.0, 0.7),
    contrast: float = 0.5,
    blur_radius: float = 1.5,
    classes: tuple[str, ...] = CLASSES,
    class_weights: tuple[float, ...] | None = None,
    handheld_only: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(pixels uint8 (n, size, size, 3), labels (n,) str, scanners (n,) str)``.

    Labels are balanced (``class_weights`` = None) or drawn with those weights; the scanner is
    ``handheld`` with probability ``handheld_fraction`` (1 with ``handheld_only``), else
    ``s100`` or ``s200`` with equal probability. See ``_acquire`` for the handheld shift.
    """
    rng = np.random.default_rng(seed)
    if class_weights is None:
        labels = np.array(classes)[np.arange(n_images) % len(classes)]
        labels = labels[rng.permutation(n_images)]
    else:
        weights = np.asarray(class_weights, dtype=float)
        labels = rng.choice(np.array(classes), size=n_images, p=weights / weights.sum())
    fraction = 1.0 if handheld_only else handheld_fraction
    is_handheld = rng.random(n_images) < fraction
    scanners = np.where(is_handheld, SCANNERS[2], np.where(rng.random(n_images) < 0.5,
                                                           SCANNERS[0], SCANNERS[1]))
    pixels = np.stack([
        _acquire(_draw_shape(label, size, rng), handheld=bool(hand), rng=rng, noise_std=noise_std,
                 cast=cast, contrast=contrast, blur_radius=blur_radius)
        for label, hand in zip(labels, is_handheld)
    ]) if n_images else np.empty((0, size, size, 3), dtype=np.uint8)
    return pixels, labels, scanners.astype(str)


def _refuse_existing(metadata_path: Path) -> None:
    if metadata_path.exists():
        raise FileExistsError(
            f"{metadata_path} already exists; raw data is immutable. Delete "
            f"{metadata_path.parent} first if you really want to generate it again."
        )


def export_scans(
    out_dir: str | Path, *, n_images: int = 1500, size: int = 32, seed: int = 20240701,
    handheld_fraction: float = 0.2,
) -> Path:
    """Write the scans data set under ``out_dir`` (``<label>/<image_id>.png`` + metadata.csv
    with image_id, path, label, scanner); return the metadata.csv path. Refuses to write
    into a folder that already has a ``metadata.csv`` (raw data is immutable)."""
    out_dir = Path(out_dir)
    metadata_path = out_dir / "metadata.csv"
    _refuse_existing(metadata_path)
    pixels, labels, scanners = render_scans(n_images=n_images, seed=seed, size=size,
                                            handheld_fraction=handheld_fraction)
    rows = []
    for number, (image, label, scanner) in enumerate(zip(pixels, labels, scanners)):
        image_id = f"scan_{number:05d}"
        relative = f"{label}/{image_id}.png"
        target = out_dir / "images" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, mode="RGB").save(target)
        rows.append({"image_id": image_id, "path": relative, "label": label, GROUP_COLUMN: scanner})
    _write_csv(metadata_path, ["image_id", "path", "label", GROUP_COLUMN], rows)
    logger.info("exported %d %dx%d RGB scans to %s", len(rows), size, size, out_dir)
    return metadata_path


def export_production_batches(
    out_dir: str | Path, *, n_images: int = 200, size: int = 32, seed: int = 20240801,
    batches: tuple[str, ...] = PRODUCTION_BATCHES,
) -> list[Path]:
    """Write each production batch (new images, seed ``seed + i`` for batch ``i``) under
    ``out_dir/<batch>/`` (``images/<image_id>.png`` + metadata.csv); return the metadata.csv
    paths. Refuses to overwrite a batch that already exists."""
    paths = []
    for index, kind in enumerate(batches):
        base = kind.removesuffix("_unlabelled")
        if base not in {"iid", "scanner_shift"}:
            raise ValueError(f"unknown production batch {kind!r}; expected one of {PRODUCTION_BATCHES}")
        batch_dir = Path(out_dir) / kind
        metadata_path = batch_dir / "metadata.csv"
        _refuse_existing(metadata_path)
        pixels, labels, scanners = render_scans(n_images=n_images, seed=seed + index, size=size,
                                                handheld_only=base == "scanner_shift")
        labelled = not kind.endswith("_unlabelled")
        rows = []
        for number, (image, label, scanner) in enumerate(zip(pixels, labels, scanners)):
            image_id = f"{kind}_{number:05d}"
            target = batch_dir / "images" / f"{image_id}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image, mode="RGB").save(target)
            row = {"image_id": image_id, "path": f"{image_id}.png"}
            rows.append({**row, **({"label": label} if labelled else {}), GROUP_COLUMN: scanner})
        fields = ["image_id", "path", *(["label"] if labelled else []), GROUP_COLUMN]
        _write_csv(metadata_path, fields, rows)
        paths.append(metadata_path)
    logger.info("exported production batches %s to %s", ", ".join(batches), out_dir)
    return paths


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder (images/ + metadata.csv)")
    parser.add_argument("--n-images", type=int, default=1500)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=20240701)
    parser.add_argument("--production-out", default=None,
                        help="also write the production batches here (new, held-out images)")
    parser.add_argument("--batch-size", type=int, default=200, help="images per production batch")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (Path(args.out) / "metadata.csv").exists() or args.production_out is None:
        export_scans(args.out, n_images=args.n_images, size=args.size, seed=args.seed)
    if args.production_out is not None:
        export_production_batches(args.production_out, n_images=args.batch_size, size=args.size)


if __name__ == "__main__":
    main()

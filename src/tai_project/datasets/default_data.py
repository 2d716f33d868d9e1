"""Export scikit-learn's bundled 8x8 digits as PNG files + ``metadata.csv`` (the default data).

Layout (the same a user's own data uses)::

    <out>/images/<label>/<image_id>.png
    <out>/metadata.csv      image_id, path (relative to images/), label, site

``site`` is a simulated acquisition site. Site ``B`` (about ``site_b_fraction`` of the
images, chosen by ``seed``) carries a deterministic acquisition shift: lower contrast and
Gaussian sensor noise. It gives the fairness metrics a real group gap to find.

Run: ``python -m tai_project.datasets.default_data --out data/01_raw``.

The scale benchmarks use a larger synthetic set in the same layout (``export_scaled_digits``:
upscaled, augmented digits): ``... --out <folder> --synthetic 100000 --size 28``.
"""

from __future__ import annotations

import argparse
import csv
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

logger = logging.getLogger(__name__)

SITES = ("A", "B")


def render_digits(
    *, seed: int, site_b_fraction: float, contrast: float, noise_std: float, max_images: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(pixels uint8 (n, 8, 8), labels (n,), sites (n,))`` from sklearn's digits.

    Site B pixels are ``contrast * x + (1 - contrast) * 128 + N(0, noise_std)``, clipped to
    [0, 255]; the same ``seed`` always gives the same images.
    """
    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))[:max_images]
    pixels = digits.images[order] / 16.0 * 255.0
    labels = digits.target[order]
    is_b = rng.random(len(order)) < site_b_fraction
    shifted = contrast * pixels + (1.0 - contrast) * 128.0
    shifted = shifted + rng.normal(0.0, noise_std, size=pixels.shape)
    pixels = np.where(is_b[:, None, None], shifted, pixels)
    sites = np.where(is_b, SITES[1], SITES[0])
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8), labels, sites


def export_digits(
    out_dir: str | Path,
    *,
    seed: int = 20240501,
    site_b_fraction: float = 0.25,
    contrast: float = 0.6,
    noise_std: float = 12.0,
    max_images: int | None = None,
) -> Path:
    """Write the default data set under ``out_dir``; return the metadata.csv path.

    Refuses to write into a folder that already has a ``metadata.csv`` (raw data is immutable).
    """
    out_dir = Path(out_dir)
    metadata_path = out_dir / "metadata.csv"
    if metadata_path.exists():
        raise FileExistsError(
            f"{metadata_path} already exists; raw data is immutable. Delete {out_dir} "
            "first if you really want to export the default data again."
        )
    pixels, labels, sites = render_digits(
        seed=seed, site_b_fraction=site_b_fraction, contrast=contrast,
        noise_std=noise_std, max_images=max_images,
    )
    rows = []
    for index, (image, label, site) in enumerate(zip(pixels, labels, sites)):
        image_id = f"digit_{index:05d}"
        relative = f"{label}/{image_id}.png"
        target = out_dir / "images" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target)
        rows.append({"image_id": image_id, "path": relative, "label": int(label), "site": site})
    with metadata_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image_id", "path", "label", "site"])
        writer.writeheader()
        writer.writerows(rows)
    logger.info("exported %d images to %s", len(rows), out_dir)
    return metadata_path


def render_scaled_digits(
    *,
    n_images: int,
    size: int = 28,
    seed: int = 20240501,
    site_b_fraction: float = 0.25,
    contrast: float = 0.6,
    noise_std: float = 12.0,
    max_rotation: float = 12.0,
    max_shift: float = 1.0,
    scale_range: tuple[float, float] = (0.8, 1.0),
    chunk_size: int = 2048,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield chunks of ``(pixels uint8 (m, size, size), labels (m,), sites (m,))``, ``n_images``
    in all: sklearn's digits drawn with replacement, upscaled bicubically to ``size`` x
    ``size`` and augmented by a random affine map (rotation up to ``max_rotation`` degrees,
    shift up to ``max_shift`` pixels of the 8 x 8 grid, zoom in ``scale_range``); site B gets
    the same acquisition shift as ``render_digits``. The synthetic set of the scale
    benchmarks: chunked, so memory stays bounded whatever ``n_images`` is; the same
    arguments always give the same images.
    """
    digits = load_digits()
    rng = np.random.default_rng(seed)
    base = np.rint(digits.images / 16.0 * 255.0).astype(np.uint8)
    for start in range(0, n_images, chunk_size):
        count = min(chunk_size, n_images - start)
        order = rng.integers(0, len(base), size=count)
        angles = rng.uniform(-max_rotation, max_rotation, size=count)
        shifts = rng.uniform(-max_shift, max_shift, size=(count, 2)) * size / 8
        scales = rng.uniform(*scale_range, size=count)
        pixels = np.stack([
            _augment(base[i], size=size, angle=a, shift=s, scale=z)
            for i, a, s, z in zip(order, angles, shifts, scales)
        ]).astype(np.float64)
        is_b = rng.random(count) < site_b_fraction
        shifted = contrast * pixels + (1.0 - contrast) * 128.0
        shifted = shifted + rng.normal(0.0, noise_std, size=pixels.shape)
        pixels = np.where(is_b[:, None, None], shifted, pixels)
        yield (np.clip(np.rint(pixels), 0, 255).astype(np.uint8), digits.target[order],
               np.where(is_b, SITES[1], SITES[0]))


def _augment(image: np.ndarray, *, size: int, angle: float, shift: np.ndarray,
             scale: float) -> np.ndarray:
    """Return ``image`` upscaled to ``size`` x ``size``, zoomed by ``scale`` and rotated by
    ``angle`` about the centre, then shifted by ``shift`` pixels (PIL's affine warp)."""
    upscaled = Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)
    centre = (size - 1) / 2
    radians = np.deg2rad(angle)
    cos, sin = np.cos(radians) / scale, np.sin(radians) / scale
    # PIL maps each output pixel (x, y) to the input pixel (a x + b y + c, d x + e y + f)
    coefficients = (
        cos, sin, centre - cos * (centre + shift[0]) - sin * (centre + shift[1]),
        -sin, cos, centre + sin * (centre + shift[0]) - cos * (centre + shift[1]),
    )
    warped = upscaled.transform((size, size), Image.Transform.AFFINE, coefficients,
                                resample=Image.Resampling.BILINEAR, fillcolor=0)
    return np.asarray(warped)


def export_scaled_digits(
    out_dir: str | Path,
    *,
    n_images: int,
    size: int = 28,
    seed: int = 20240501,
    chunk_size: int = 2048,
) -> Path:
    """Write ``n_images`` synthetic ``size`` x ``size`` digits (``render_scaled_digits``)
    under ``out_dir`` in the default data's layout (image ids ``synth_000000`` ...); return
    the metadata.csv path. Chunk by chunk: memory does not grow with ``n_images``.

    Refuses to write into a folder that already has a ``metadata.csv`` (raw data is immutable).
    """
    out_dir = Path(out_dir)
    metadata_path = out_dir / "metadata.csv"
    if metadata_path.exists():
        raise FileExistsError(
            f"{metadata_path} already exists; raw data is immutable. Delete {out_dir} "
            "first if you really want to export the synthetic data again."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for label in range(10):
        (out_dir / "images" / str(label)).mkdir(parents=True, exist_ok=True)
    index = 0
    with metadata_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image_id", "path", "label", "site"])
        writer.writeheader()
        for pixels, labels, sites in render_scaled_digits(
            n_images=n_images, size=size, seed=seed, chunk_size=chunk_size
        ):
            for image, label, site in zip(pixels, labels, sites):
                image_id = f"synth_{index:06d}"
                relative = f"{label}/{image_id}.png"
                Image.fromarray(image).save(out_dir / "images" / relative)
                writer.writerow({"image_id": image_id, "path": relative, "label": int(label),
                                 "site": site})
                index += 1
    logger.info("exported %d synthetic %dx%d images to %s", index, size, size, out_dir)
    return metadata_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/01_raw", help="output folder (default data/01_raw)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--max-images", type=int, default=None, help="export only the first N")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N",
                        help="instead: N synthetic upscaled, augmented digits (scale benchmarks)")
    parser.add_argument("--size", type=int, default=28, help="side of the synthetic images")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.synthetic is not None:
        export_scaled_digits(args.out, n_images=args.synthetic, size=args.size, seed=args.seed)
    else:
        export_digits(args.out, seed=args.seed, max_images=args.max_images)


if __name__ == "__main__":
    main()

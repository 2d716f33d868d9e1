"""Export scikit-learn's bundled 8x8 digits as PNG files + ``metadata.csv`` (the default data).

Layout (the same a user's own data uses)::

    <out>/images/<label>/<image_id>.png
    <out>/metadata.csv      image_id, path (relative to images/), label, site

``site`` is a simulated acquisition site. Site ``B`` (about ``site_b_fraction`` of the
images, chosen by ``seed``) carries a deterministic acquisition shift: lower contrast and
Gaussian sensor noise. It gives the fairness metrics a real group gap to find.

Production batches (monitoring stage) mimic what the deployed model sees later::

    <production_out>/<batch>/images/<image_id>.png
    <production_out>/<batch>/metadata.csv   image_id, path[, label], site

``iid`` (same distribution as the training data), ``site_shift`` (every image from site B),
``noise_drift`` (extra sensor noise on every image), ``label_shift`` (a few classes dominate)
and ``iid_unlabelled`` (``iid`` without labels) come from ``render_production_batch``.

Run: ``python -m tai_project.datasets.default_data --out data/01_raw``; add
``--production-out data/01_production`` to write the production batches too.

The scale benchmarks use a larger synthetic set in the same layout (``export_scaled_digits``:
upscaled, augmented digits): ``... --out <folder> --synthetic 100000 --size 28``.
"""

from __future__ import annotations

import argparse
import csv
import logging
from collections.abc import Iterable, Iterator
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


def _new_metadata_path(out_dir: Path, what: str) -> Path:
    """Return ``out_dir/metadata.csv``; raise if it exists (raw data is immutable)."""
    metadata_path = out_dir / "metadata.csv"
    if metadata_path.exists():
        raise FileExistsError(
            f"{metadata_path} already exists; raw data is immutable. Delete {out_dir} "
            f"first if you really want to export {what} again."
        )
    return metadata_path


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
    metadata_path = _new_metadata_path(out_dir, "the default data")
    pixels, labels, sites = render_digits(
        seed=seed, site_b_fraction=site_b_fraction, contrast=contrast,
        noise_std=noise_std, max_images=max_images,
    )
    count = _write_labelled_images(out_dir, metadata_path, [(pixels, labels, sites)], "digit_{:05d}")
    logger.info("exported %d images to %s", count, out_dir)
    return metadata_path


def _write_labelled_images(
    out_dir: Path,
    metadata_path: Path,
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    id_format: str,
) -> int:
    """Write every image of ``chunks`` (``pixels, labels, sites``) as
    ``out_dir/images/<label>/<image_id>.png`` and one metadata.csv row each (image_id, path,
    label, site), chunk by chunk; return how many were written."""
    index = 0
    out_dir.mkdir(parents=True, exist_ok=True)
    with metadata_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image_id", "path", "label", "site"])
        writer.writeheader()
        for pixels, labels, sites in chunks:
            for image, label, site in zip(pixels, labels, sites):
                image_id = id_format.format(index)
                relative = f"{label}/{image_id}.png"
                target = out_dir / "images" / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(target)
                writer.writerow({"image_id": image_id, "path": relative, "label": int(label),
                                 "site": site})
                index += 1
    return index


PRODUCTION_BATCHES = ("iid", "site_shift", "noise_drift", "label_shift", "iid_unlabelled")
"""The batches ``export_production_batches`` writes; ``*_unlabelled`` ones have no label column."""


def render_production_batch(  # noqa: PLR0913 - every knob of the simulated shifts is explicit
    kind: str,
    *,
    seed: int,
    n_images: int = 200,
    site_b_fraction: float = 0.25,
    contrast: float = 0.6,
    noise_std: float = 12.0,
    drift_noise_std: float = 64.0,
    prior_classes: tuple[int, ...] = (0, 1, 7),
    prior_share: float = 0.7,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(pixels uint8 (n, 8, 8), labels (n,), sites (n,))`` of one production batch.

    Images are drawn (without replacement) from sklearn's digits; site B images get the
    acquisition shift of ``render_digits`` with fresh noise. ``kind``: ``iid`` (as the
    training data), ``site_shift`` (every image from site B), ``noise_drift`` (``iid`` plus
    ``N(0, drift_noise_std)`` on every pixel), ``label_shift`` (``prior_share`` of the images
    from ``prior_classes``, the rest from the other classes). A ``*_unlabelled`` kind
    renders its base kind; the exporter drops the labels.
    """
    base = kind.removesuffix("_unlabelled")
    if base not in {"iid", "site_shift", "noise_drift", "label_shift"}:
        raise ValueError(f"unknown production batch kind {kind!r}; expected one of {PRODUCTION_BATCHES}")
    digits = load_digits()
    rng = np.random.default_rng(seed)
    weights = np.ones(len(digits.target))
    if base == "label_shift":
        favoured = np.isin(digits.target, prior_classes)
        weights = np.where(favoured, prior_share / favoured.sum(),
                           (1 - prior_share) / (~favoured).sum())
    order = rng.choice(len(digits.target), size=n_images, replace=False, p=weights / weights.sum())
    pixels = digits.images[order] / 16.0 * 255.0
    is_b = rng.random(n_images) < (1.0 if base == "site_shift" else site_b_fraction)
    shifted = contrast * pixels + (1.0 - contrast) * 128.0 + rng.normal(0.0, noise_std, pixels.shape)
    pixels = np.where(is_b[:, None, None], shifted, pixels)
    if base == "noise_drift":
        pixels = pixels + rng.normal(0.0, drift_noise_std, size=pixels.shape)
    sites = np.where(is_b, SITES[1], SITES[0])
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8), digits.target[order], sites


def export_production_batches(
    out_dir: str | Path,
    *,
    seed: int = 20240601,
    n_images: int = 200,
    batches: tuple[str, ...] = PRODUCTION_BATCHES,
) -> list[Path]:
    """Write each production batch under ``out_dir/<batch>/``; return the metadata.csv paths.

    Batch ``i`` uses seed ``seed + i``. Refuses to overwrite a batch that already exists.
    """
    paths = []
    for index, kind in enumerate(batches):
        batch_dir = Path(out_dir) / kind
        metadata_path = batch_dir / "metadata.csv"
        if metadata_path.exists():
            raise FileExistsError(
                f"{metadata_path} already exists; production batches are immutable raw data. "
                f"Delete {batch_dir} first to export it again."
            )
        pixels, labels, sites = render_production_batch(kind, seed=seed + index, n_images=n_images)
        labelled = not kind.endswith("_unlabelled")
        rows = []
        for number, (image, label, site) in enumerate(zip(pixels, labels, sites)):
            image_id = f"{kind}_{number:05d}"
            target = batch_dir / "images" / f"{image_id}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target)
            row = {"image_id": image_id, "path": f"{image_id}.png", "site": site}
            rows.append({**row, "label": int(label)} if labelled else row)
        fields = ["image_id", "path", *(["label"] if labelled else []), "site"]
        with metadata_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        paths.append(metadata_path)
    logger.info("exported production batches %s to %s", ", ".join(batches), out_dir)
    return paths


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
    metadata_path = _new_metadata_path(out_dir, "the synthetic data")
    chunks = render_scaled_digits(n_images=n_images, size=size, seed=seed, chunk_size=chunk_size)
    index = _write_labelled_images(out_dir, metadata_path, chunks, "synth_{:06d}")
    logger.info("exported %d synthetic %dx%d images to %s", index, size, size, out_dir)
    return metadata_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/01_raw", help="output folder (default data/01_raw)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--max-images", type=int, default=None, help="export only the first N")
    parser.add_argument("--production-out", default=None,
                        help="also write the production batches here (e.g. data/01_production)")
    parser.add_argument("--batch-size", type=int, default=200, help="images per production batch")
    parser.add_argument("--synthetic", type=int, default=None, metavar="N",
                        help="instead: N synthetic upscaled, augmented digits (scale benchmarks)")
    parser.add_argument("--size", type=int, default=28, help="side of the synthetic images")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.synthetic is not None:
        export_scaled_digits(args.out, n_images=args.synthetic, size=args.size, seed=args.seed)
        return
    if not (Path(args.out) / "metadata.csv").exists() or args.production_out is None:
        export_digits(args.out, seed=args.seed, max_images=args.max_images)
    if args.production_out is not None:
        export_production_batches(args.production_out, n_images=args.batch_size)


if __name__ == "__main__":
    main()

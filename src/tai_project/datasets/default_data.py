"""Export scikit-learn's bundled 8x8 digits as PNG files + ``metadata.csv`` (the default data).

Layout (the same a user's own data uses)::

    <out>/images/<label>/<image_id>.png
    <out>/metadata.csv      image_id, path (relative to images/), label, site

``site`` is a simulated acquisition site. Site ``B`` (about ``site_b_fraction`` of the
images, chosen by ``seed``) carries a deterministic acquisition shift: lower contrast and
Gaussian sensor noise. It gives the fairness metrics a real group gap to find.

Run: ``python -m tai_project.datasets.default_data --out data/01_raw``.
"""

from __future__ import annotations

import argparse
import csv
import logging
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/01_raw", help="output folder (default data/01_raw)")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--max-images", type=int, default=None, help="export only the first N")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    export_digits(args.out, seed=args.seed, max_images=args.max_images)


if __name__ == "__main__":
    main()

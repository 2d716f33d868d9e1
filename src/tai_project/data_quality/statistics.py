"""Per-image statistics, the table the image expectations run on."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from PIL import Image

from tai_project.image_layout import channels_last

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 5.0
"""Decoding logs how far it got at most this often (large sets take a minute)."""

STATISTICS_COLUMNS = [
    "path", "decode_ok", "decode_error", "file_size", "mode", "channels",
    "height", "width", "pixel_min", "pixel_max", "pixel_mean", "nan_pixels",
]


def image_statistics(
    images: Mapping[str, Callable[[], bytes | Image.Image]],
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Return a table with one row per image file (columns ``STATISTICS_COLUMNS``) and the
    decoded pixel arrays of the files that decode, by path, channels-last ``(height, width,
    channels)`` (a grayscale image has one channel; ``mode`` and ``channels`` are PIL's).

    A loader may give the encoded bytes (``file_size`` is then their length) or a PIL image
    (``file_size`` is missing). Bytes are checked with ``Image.verify()`` (chunk structure,
    checksums) and decoding forces ``Image.load()``, so corrupt and truncated files fail here.
    """
    rows, pixels = [], {}
    paths = sorted(images)
    started = last_report = time.monotonic()
    for number, path in enumerate(paths):
        if time.monotonic() - last_report >= PROGRESS_SECONDS:
            logger.info("Decoding and checking images: %d/%d", number, len(paths))
            last_report = time.monotonic()
        row: dict[str, object] = {"path": path, "decode_ok": False, "decode_error": ""}
        try:
            loaded = images[path]()
            if isinstance(loaded, bytes | bytearray):
                row["file_size"] = len(loaded)
                Image.open(io.BytesIO(loaded)).verify()  # chunk structure and CRCs
                loaded = Image.open(io.BytesIO(loaded))
            loaded.load()
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken files
            message = re.sub(r" <_io\.BytesIO object at 0x[0-9a-f]+>", "", str(exc))
            row["decode_error"] = f"{type(exc).__name__}: {message}"
            rows.append(row)
            continue
        array = channels_last(np.asarray(loaded))
        values = array.astype(np.float64)
        row.update(
            decode_ok=True, mode=loaded.mode, channels=len(loaded.getbands()),
            height=loaded.size[1], width=loaded.size[0],
            pixel_min=float(np.nanmin(values)) if values.size else np.nan,
            pixel_max=float(np.nanmax(values)) if values.size else np.nan,
            pixel_mean=float(np.nanmean(values)) if values.size else np.nan,
            nan_pixels=int(np.isnan(values).sum()),
        )
        rows.append(row)
        pixels[path] = array
    logger.info("Decoded and checked %d image files (%d decoded) in %.1f s", len(paths), len(pixels),
                time.monotonic() - started)
    table = pd.DataFrame(rows, columns=STATISTICS_COLUMNS)
    return table.astype({"decode_ok": bool, "decode_error": str}), pixels


def pixel_moments(pixels: np.ndarray, *, chunk_size: int = 4096) -> tuple[float, float]:
    """Return the mean and (population) standard deviation of every pixel value in ``pixels``,
    accumulated in float64 over chunks of ``chunk_size`` images, so memory stays at one
    chunk's float copy whatever the number of images (``np.std`` would make a float64 copy
    of the whole set). Equal to ``np.mean`` / ``np.std`` up to float64 rounding."""
    total, squares, count = 0.0, 0.0, 0
    for start in range(0, len(pixels), chunk_size):
        chunk = np.asarray(pixels[start:start + chunk_size], dtype=np.float64)
        total, squares, count = total + chunk.sum(), squares + np.square(chunk).sum(), count + chunk.size
    if count == 0:
        return float("nan"), float("nan")
    mean = total / count
    return mean, float(np.sqrt(max(squares / count - mean**2, 0.0)))


def channel_moments(pixels: np.ndarray, *, chunk_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-channel mean and (population) standard deviation, shape ``(channels,)``
    each, of channels-last ``pixels`` ``(n, height, width, channels)``: ``pixel_moments`` of
    each channel (chunked, float64), so a grayscale set gives exactly its ``pixel_moments``."""
    moments = [pixel_moments(pixels[..., channel], chunk_size=chunk_size)
               for channel in range(np.shape(pixels)[-1])]
    return np.array([m for m, _ in moments]), np.array([s for _, s in moments])

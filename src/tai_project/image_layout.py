"""The one pixel layout of the project: channels-last arrays ``(n, height, width, channels)``.

``channels`` comes from ``data_schema.image_mode`` (``IMAGE_MODES``); every stage (decoding,
network, corruptions, attacks, attributions, prototypes, drift, serving) uses this layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tai_project.errors import ParameterError

IMAGE_MODES = {"L": 1, "RGB": 3}
"""PIL modes the project reads, and their number of channels."""


def image_channels(data_schema: dict[str, Any]) -> int:
    """Return the number of channels of ``data_schema.image_mode`` (L -> 1, RGB -> 3); raise
    ``ParameterError`` naming the key and the valid values for any other mode."""
    mode = data_schema.get("image_mode")
    if mode not in IMAGE_MODES:
        raise ParameterError(
            f"data_schema.image_mode is {mode!r}; expected one of {sorted(IMAGE_MODES)} "
            "(L = 8-bit grayscale, RGB = 8-bit colour). Convert the images to one of them "
            "(e.g. PIL's Image.convert('RGB')) and set data_schema.image_mode accordingly."
        )
    return IMAGE_MODES[mode]


def image_shape(data_schema: dict[str, Any]) -> list[int]:
    """Return ``[height, width, channels]`` of one image as ``data_schema`` describes it."""
    return [int(data_schema["image_height"]), int(data_schema["image_width"]),
            image_channels(data_schema)]


def channels_last(image: np.ndarray) -> np.ndarray:
    """Return a decoded image as ``(height, width, channels)``: a grayscale ``(height, width)``
    array gains a trailing channel axis of 1 (a view, no copy)."""
    array = np.asarray(image)
    return array[..., np.newaxis] if array.ndim == 2 else array  # noqa: PLR2004


def displayable(image: np.ndarray, pixel_range: tuple[float, float] = (0, 255)) -> tuple[
        np.ndarray, dict[str, Any]]:
    """Return ``(array, imshow keyword arguments)`` that show one channels-last image as it
    is: a single channel in gray between the ``pixel_range`` bounds, RGB in colour (scaled
    from ``pixel_range`` to [0, 1])."""
    low, high = float(pixel_range[0]), float(pixel_range[1])
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3 and array.shape[-1] == 1:  # noqa: PLR2004
        array = array[..., 0]
    if array.ndim == 2:  # noqa: PLR2004
        return array, {"cmap": "gray", "vmin": low, "vmax": high}
    return np.clip((array - low) / (high - low), 0.0, 1.0), {}


def per_pixel(values: np.ndarray) -> np.ndarray:
    """Return one image's channels-last values (attributions) ``(height, width, channels)``
    summed over the channels, ``(height, width)``: one value per pixel, as Captum's
    ``visualize_image_attr`` shows them. A ``(height, width)`` array is returned as is."""
    array = np.asarray(values)
    return array.sum(axis=-1) if array.ndim == 3 else array  # noqa: PLR2004

import numpy as np
import pytest

from tai_project.data_quality.statistics import pixel_moments


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_pixel_moments_equal_numpy_on_uint8_images(chunk_size):
    pixels = np.random.default_rng(0).integers(0, 256, size=(50, 8, 8), dtype=np.uint8)
    mean, std = pixel_moments(pixels, chunk_size=chunk_size)
    assert mean == pytest.approx(pixels.astype(np.float64).mean(), rel=1e-12)
    assert std == pytest.approx(pixels.astype(np.float64).std(), rel=1e-9)


def test_pixel_moments_of_no_images_are_nan():
    assert all(np.isnan(pixel_moments(np.empty((0, 8, 8), dtype=np.uint8))))

"""The synthetic 28x28 digits of the scale benchmarks: deterministic, chunked, the raw layout."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tai_project.datasets.default_data import export_scaled_digits, render_scaled_digits


def _all(**args):
    chunks = list(render_scaled_digits(**{"n_images": 300, "chunk_size": 128, **args}))
    return [np.concatenate(part) for part in zip(*chunks)], len(chunks)


def test_chunks_add_up_to_n_images_of_the_asked_size():
    (pixels, labels, sites), n_chunks = _all()
    assert n_chunks == 3  # 128 + 128 + 44
    assert pixels.shape == (300, 28, 28) and pixels.dtype == np.uint8
    assert set(np.unique(labels)) <= set(range(10))
    assert 0.17 < np.mean(sites == "B") < 0.33


def test_same_arguments_same_images_other_seed_other_images():
    first, second, other = _all()[0][0], _all()[0][0], _all(seed=1)[0][0]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_site_b_is_shifted_towards_grey():
    (pixels, _, sites), _ = _all()
    background = pixels[:, :2, :2].reshape(len(pixels), -1).mean(axis=1)  # corners: no digit
    assert background[sites == "A"].mean() < 10 < background[sites == "B"].mean()


def test_export_writes_the_default_layout_and_refuses_to_overwrite(tmp_path):
    metadata_path = export_scaled_digits(tmp_path / "raw", n_images=50, size=16, chunk_size=20)
    metadata = pd.read_csv(metadata_path)
    assert list(metadata.columns) == ["image_id", "path", "label", "site"]
    assert len(metadata) == 50 and metadata["image_id"].is_unique
    first = metadata.iloc[0]
    assert first["path"] == f"{first['label']}/{first['image_id']}.png"
    image = Image.open(tmp_path / "raw" / "images" / first["path"])
    assert image.size == (16, 16) and image.mode == "L"
    with pytest.raises(FileExistsError, match="immutable"):
        export_scaled_digits(tmp_path / "raw", n_images=5)

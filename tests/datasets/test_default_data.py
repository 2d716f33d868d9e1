import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tai_project.datasets.default_data import export_digits, render_digits


def _render(**overrides):
    args = {"seed": 7, "site_b_fraction": 0.25, "contrast": 0.6, "noise_std": 12.0,
            "max_images": None}
    return render_digits(**{**args, **overrides})


def test_site_b_is_a_minority_of_about_a_quarter():
    _, _, sites = _render()
    assert 0.2 < np.mean(sites == "B") < 0.3


def test_same_seed_same_images_other_seed_other_images():
    first, second, other = _render()[0], _render()[0], _render(seed=8)[0]
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_site_b_has_lower_contrast():
    pixels, _, sites = _render()
    spread = pixels.reshape(len(pixels), -1).std(axis=1)
    assert spread[sites == "B"].mean() < 0.8 * spread[sites == "A"].mean()


def test_export_writes_images_and_metadata(tmp_path):
    metadata_path = export_digits(tmp_path / "raw", max_images=30)
    metadata = pd.read_csv(metadata_path)
    assert list(metadata.columns) == ["image_id", "path", "label", "site"]
    assert len(metadata) == 30 and metadata["image_id"].is_unique
    row = metadata.iloc[0]
    assert row["path"] == f"{row['label']}/{row['image_id']}.png"
    image = Image.open(tmp_path / "raw" / "images" / row["path"])
    assert image.mode == "L" and image.size == (8, 8)


def test_export_is_byte_identical_and_refuses_to_overwrite(tmp_path):
    export_digits(tmp_path / "a", max_images=20)
    export_digits(tmp_path / "b", max_images=20)

    def digest(root):
        return sorted(hashlib.md5(p.read_bytes()).hexdigest() for p in root.rglob("*.png"))

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    with pytest.raises(FileExistsError, match="raw data is immutable"):
        export_digits(tmp_path / "a", max_images=20)

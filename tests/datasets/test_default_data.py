import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tai_project.datasets.default_data import (
    export_digits,
    export_production_batches,
    render_digits,
    render_production_batch,
)


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


def test_production_batches_carry_their_shift(tmp_path):
    _, _, sites = render_production_batch("site_shift", seed=0, n_images=100)
    assert set(sites) == {"B"}
    _, labels, _ = render_production_batch("label_shift", seed=0, n_images=400)
    assert 0.6 < np.isin(labels, (0, 1, 7)).mean() < 0.8  # 0.7 by construction; 0.3 in iid
    iid, _, _ = render_production_batch("iid", seed=0, n_images=200)
    noisy, _, _ = render_production_batch("noise_drift", seed=0, n_images=200)
    added = noisy.astype(float) - iid  # same seed: same images, then N(0, 64) (clipped)
    assert 45 < added.std() < 64
    export_production_batches(tmp_path, n_images=5, batches=("iid", "iid_unlabelled"))
    assert list(pd.read_csv(tmp_path / "iid_unlabelled" / "metadata.csv").columns) == [
        "image_id", "path", "site"]
    with pytest.raises(FileExistsError, match="immutable"):
        export_production_batches(tmp_path, n_images=5, batches=("iid",))

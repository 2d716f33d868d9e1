import hashlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tai_project.datasets.example_scans import (
    CLASSES,
    SCANNERS,
    export_production_batches,
    export_scans,
    render_scans,
)


def test_rgb_word_labels_three_scanners_handheld_minority():
    pixels, labels, scanners = render_scans(n_images=300, seed=3, size=24)
    assert pixels.shape == (300, 24, 24, 3) and pixels.dtype == np.uint8
    assert set(labels) == set(CLASSES) and set(scanners) == set(SCANNERS)
    assert 0.12 < np.mean(scanners == "handheld") < 0.28


def test_handheld_carries_a_warm_colour_cast_and_blur():
    pixels, _, scanners = render_scans(n_images=400, seed=4)
    pixels = pixels.astype(float)
    handheld, others = pixels[scanners == "handheld"], pixels[scanners != "handheld"]
    red_over_blue = {name: group[..., 0].mean() / group[..., 2].mean()
                     for name, group in (("handheld", handheld), ("others", others))}
    assert red_over_blue["handheld"] > 1.4 * red_over_blue["others"]
    sharpness = {name: np.abs(np.diff(group, axis=2)).mean()   # mean horizontal gradient
                 for name, group in (("handheld", handheld), ("others", others))}
    assert sharpness["handheld"] < 0.8 * sharpness["others"]


def test_export_layout_is_the_digits_layout_and_deterministic(tmp_path):
    metadata = pd.read_csv(export_scans(tmp_path / "a", n_images=20, size=24))
    assert list(metadata.columns) == ["image_id", "path", "label", "scanner"]
    row = metadata.iloc[0]
    assert row["path"] == f"{row['label']}/{row['image_id']}.png"
    image = Image.open(tmp_path / "a" / "images" / row["path"])
    assert image.mode == "RGB" and image.size == (24, 24)
    export_scans(tmp_path / "b", n_images=20, size=24)

    def digest(root):
        return sorted(hashlib.md5(p.read_bytes()).hexdigest() for p in root.rglob("*.png"))

    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    with pytest.raises(FileExistsError, match="immutable"):
        export_scans(tmp_path / "a", n_images=20)


def test_production_batches_are_new_images(tmp_path):
    paths = export_production_batches(tmp_path, n_images=10, size=24)
    assert [p.parent.name for p in paths] == ["iid", "scanner_shift", "iid_unlabelled"]
    shift = pd.read_csv(tmp_path / "scanner_shift" / "metadata.csv")
    assert set(shift["scanner"]) == {"handheld"}
    assert list(pd.read_csv(tmp_path / "iid_unlabelled" / "metadata.csv").columns) == [
        "image_id", "path", "scanner"]
    image = Image.open(tmp_path / "iid" / "images" / "iid_00000.png")
    assert image.mode == "RGB" and image.size == (24, 24)

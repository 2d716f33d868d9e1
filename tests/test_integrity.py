import hashlib

import pytest

from tai_project.errors import IntegrityError
from tai_project.integrity import file_manifest, manifest_digest, sha256_file, verify_folder


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "MLmodel").write_bytes(b"flavors: {}\n")
    (tmp_path / "artifacts" / "network.pt").write_bytes(b"\x00weights" * 100)
    return tmp_path


def test_manifest_matches_hashlib(folder):
    manifest = file_manifest(folder)
    assert manifest == {
        "MLmodel": hashlib.sha256(b"flavors: {}\n").hexdigest(),
        "artifacts/network.pt": hashlib.sha256(b"\x00weights" * 100).hexdigest(),
    }
    assert sha256_file(folder / "MLmodel") == manifest["MLmodel"]
    assert len(manifest_digest(manifest)) == 64
    assert manifest_digest(dict(reversed(manifest.items()))) == manifest_digest(manifest)


def test_untouched_folder_verifies(folder):
    verify_folder(folder, file_manifest(folder), label="m")
    (folder / "registered_model_meta").write_text("written by mlflow on download")
    verify_folder(folder, file_manifest(folder), label="m")


def test_tampered_missing_and_extra_files_are_named(folder):
    manifest = file_manifest(folder)
    (folder / "artifacts" / "network.pt").write_bytes(b"evil")
    (folder / "MLmodel").unlink()
    (folder / "artifacts" / "extra.py").write_text("import os")
    with pytest.raises(IntegrityError) as error:
        verify_folder(folder, manifest, label="version 2 of model 'm'")
    message = str(error.value)
    assert "Refusing to load version 2 of model 'm'" in message
    assert "artifacts/network.pt: SHA-256" in message
    assert "MLmodel: missing" in message
    assert "artifacts/extra.py: not in the recorded manifest" in message

"""SHA-256 manifests of model artifacts: recorded at registration, verified before loading.

A manifest maps each file's path (relative to the model folder, POSIX separators) to the
SHA-256 of its bytes (``hashlib``, FIPS 180-4). The artifact digest is the SHA-256 of the
manifest's canonical JSON, so one short value names the whole artifact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from tai_project.errors import IntegrityError

# Written by MLflow itself when a ``models:/`` URI is downloaded; not part of the artifact.
IGNORED_FILES = frozenset({"registered_model_meta"})
_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_manifest(folder: str | Path) -> dict[str, str]:
    """Return ``{relative path: sha256}`` for every file under ``folder``, sorted by path."""
    root = Path(folder)
    return {
        path.relative_to(root).as_posix(): sha256_file(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in IGNORED_FILES
    }


def manifest_digest(manifest: Mapping[str, str]) -> str:
    """Return the SHA-256 of the manifest as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(dict(manifest), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify_folder(folder: str | Path, manifest: Mapping[str, str], *, label: str) -> None:
    """Raise ``IntegrityError`` naming every file under ``folder`` that is changed, missing
    or not in ``manifest``; return ``None`` when the folder matches byte for byte."""
    found = file_manifest(folder)
    problems = [f"{path}: SHA-256 {found[path]} differs from the recorded {expected}"
                for path, expected in manifest.items() if path in found and found[path] != expected]
    problems += [f"{path}: missing" for path in manifest if path not in found]
    problems += [f"{path}: not in the recorded manifest" for path in found if path not in manifest]
    if problems:
        raise IntegrityError(
            f"Refusing to load {label}: its files differ from what was recorded at registration:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nThe artifact store was changed after registration (tampering or corruption). "
            "Do not serve it: restore the artifact from a backup, or roll 'champion' back to a "
            "verified version (make rollback VERSION=<n> ...) and investigate."
        )

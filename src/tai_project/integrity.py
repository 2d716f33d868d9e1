"""SHA-256 manifests of model artifacts, evidence hashes and Ed25519 signatures.

A manifest maps each file's path (relative to the model folder, POSIX separators) to the
SHA-256 of its bytes (``hashlib``, FIPS 180-4). The artifact digest is the SHA-256 of the
manifest's canonical JSON, so one short value names the whole artifact. The evidence
hashes (network state, model input, requirements) bind a gate report to what it measured;
the inference-code manifest names the installed modules a registered model runs; Ed25519
(``cryptography``) signs manifests and audit events with a key kept in ``conf/local``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def folder_problems(folder: str | Path, manifest: Mapping[str, str]) -> list[str]:
    """Return one line per file under ``folder`` that is changed, missing or not in
    ``manifest`` (``[]``: the folder matches byte for byte)."""
    found = file_manifest(folder)
    problems = [f"{path}: SHA-256 {found[path]} differs from the recorded {expected}"
                for path, expected in manifest.items() if path in found and found[path] != expected]
    problems += [f"{path}: missing" for path in manifest if path not in found]
    problems += [f"{path}: not in the recorded manifest" for path in found if path not in manifest]
    return problems


def verify_folder(folder: str | Path, manifest: Mapping[str, str], *, label: str) -> None:
    """Raise ``IntegrityError`` naming every file under ``folder`` that is changed, missing
    or not in ``manifest``; return ``None`` when the folder matches byte for byte."""
    problems = folder_problems(folder, manifest)
    if problems:
        raise IntegrityError(
            f"Refusing to load {label}: its files differ from what was recorded at registration:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + "\nThe artifact store was changed after registration (tampering or corruption). "
            "Do not serve it: restore the artifact from a backup, or roll 'champion' back to a "
            "verified version (make rollback VERSION=<n> ...) and investigate."
        )


# --- evidence hashes: what the trust gate measured, as one SHA-256 each -------------------

def canonical_json(value: Any) -> str:
    """Return ``value`` as canonical JSON (sorted keys, no spaces): the bytes every digest
    and signature here is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256_json(value: Any) -> str:
    """Return the hex SHA-256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def network_sha256(network: Any) -> str:
    """Return the SHA-256 of a torch network's state: its ``config`` (canonical JSON) and
    every tensor of its ``state_dict`` (name, dtype, shape and bytes, in name order). The
    same weights give the same digest whether held in memory or reloaded from a checkpoint."""
    digest = hashlib.sha256(canonical_json(getattr(network, "config", None)).encode("utf-8"))
    for name, tensor in sorted(network.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"\n{name}:{array.dtype.str}:{list(array.shape)}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def arrays_sha256(arrays: Mapping[str, Any]) -> str:
    """Return the SHA-256 of named numpy arrays (name, dtype, shape and bytes, in name
    order): the version of the model input the gate measured on."""
    import numpy as np  # noqa: PLC0415 - integrity checks of files need no numpy

    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        if array.dtype.kind == "O":
            array = np.asarray([str(item) for item in array.ravel()]).reshape(array.shape)
        digest.update(f"\n{name}:{array.dtype.str}:{list(array.shape)}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# --- the inference code a registered model runs ------------------------------------------

INFERENCE_ENTRY = "tai_project.models.inference"
"""The module the model-from-code file imports: its ``tai_project`` imports, transitively,
are the code that runs at serving and at load time."""


def inference_code_manifest(entry: str = INFERENCE_ENTRY) -> dict[str, str]:
    """Return ``{path relative to the package root's parent: sha256}`` of the installed
    ``tai_project`` modules ``entry`` imports, transitively, with their packages'
    ``__init__.py`` (found by reading the import statements, without importing anything)."""
    import importlib.util  # noqa: PLC0415

    root_package = entry.split(".", maxsplit=1)[0]
    origin = importlib.util.find_spec(root_package).origin
    base = Path(origin).parent.parent
    seen: dict[str, Path] = {}
    todo = [entry]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        path = _module_file(base, module)
        if path is None:
            continue
        seen[module] = path
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]   # parent packages
        todo += [name for name in _imported(path) if name.split(".")[0] == root_package]
    return {path.relative_to(base).as_posix(): sha256_file(path)
            for path in sorted(set(seen.values()))}


def _module_file(base: Path, module: str) -> Path | None:
    stem = base.joinpath(*module.split("."))
    for candidate in (stem / "__init__.py", stem.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path) -> list[str]:
    import ast  # noqa: PLC0415

    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def verify_inference_code(recorded: Mapping[str, str], *, label: str) -> None:
    """Raise ``IntegrityError`` naming each installed inference module whose SHA-256
    differs from ``recorded`` (what was signed at registration), or that is missing."""
    import importlib.util  # noqa: PLC0415

    if not recorded:
        raise IntegrityError(f"Refusing to load {label}: its signed manifest records no "
                             "inference code. Register it again (kedro run).")
    base = Path(importlib.util.find_spec(INFERENCE_ENTRY.split(".", maxsplit=1)[0]).origin).parent.parent
    problems = []
    for relative, expected in sorted(recorded.items()):
        path = base / relative
        if not path.is_file():
            problems.append(f"{relative}: missing from the installed package ({base})")
        elif (found := sha256_file(path)) != expected:
            problems.append(f"{relative}: SHA-256 {found} differs from the signed {expected}")
    if problems:
        raise IntegrityError(
            f"Refusing to load {label}: the inference code installed now is not the code "
            "signed at registration:\n" + "\n".join(f"  - {p}" for p in problems)
            + "\nRestore the signed code (git checkout the commit named in the model's "
            "git_commit tag and reinstall), or register a new version from this code (kedro run)."
        )


# --- Ed25519 signatures (cryptography) ---------------------------------------------------

def load_signing_key(private_path: str | Path, public_path: str | Path) -> Any:
    """Return the Ed25519 private key at ``private_path``, creating it (mode 0600) and its
    public key at ``public_path`` on first use. Raise ``IntegrityError`` when a public key is
    already recorded but the private key is missing or does not match it."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415

    private_path, public_path = Path(private_path), Path(public_path)
    if not private_path.exists():
        if public_path.exists():
            raise IntegrityError(
                f"The signing key {private_path} is missing, but {public_path} records the "
                "public key the audit log and manifests were signed with. Restore the key "
                "from your backup (a new key could not sign anything the old one vouched for)."
            )
        key = Ed25519PrivateKey.generate()
        private_path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public = public_pem(key)
    if not public_path.exists():
        public_path.parent.mkdir(parents=True, exist_ok=True)
        public_path.write_text(public, encoding="ascii")
    elif public_path.read_text(encoding="ascii") != public:
        raise IntegrityError(
            f"The signing key {private_path} does not match the public key recorded in "
            f"{public_path}: it is not the key the audit log was signed with. Restore the "
            "original key."
        )
    return key


def public_pem(private_key: Any) -> str:
    """Return the PEM text of ``private_key``'s public key."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def sign(private_key: Any, digest: str) -> str:
    """Return the hex Ed25519 signature of the hex ``digest``'s ASCII bytes."""
    return private_key.sign(digest.encode("ascii")).hex()


def signature_valid(public_key_pem: str, digest: str, signature: str) -> bool:
    """Return whether ``signature`` is a valid Ed25519 signature of ``digest`` by the key
    whose public PEM is ``public_key_pem`` (``False`` for malformed input too)."""
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
        key.verify(bytes.fromhex(signature), digest.encode("ascii"))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True

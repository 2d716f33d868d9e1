"""A tamper-evident record (issue 16, finding 3): the audit log is its own hash-chained,
signed SQLite file; each version's manifest (files and inference code) is signed with a key
kept in conf/local; ``make verify`` names the file, event or version that broke."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import mlflow
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tai_project import registry
from tai_project.audit import AuditLog, content_sha256
from tai_project.errors import IntegrityError
from tai_project.integrity import (
    canonical_json,
    file_manifest,
    inference_code_manifest,
    load_signing_key,
    public_pem,
    sha256_json,
    sign,
    verify_inference_code,
)
from tests.test_registry import client, register, release, store  # noqa: F401


def _name() -> str:
    from tests import test_registry  # noqa: PLC0415

    return test_registry.NAME


def _folder(client, version: str) -> Path:  # noqa: F811
    source = client.get_model_version_download_uri(_name(), version)
    return Path(source.removeprefix("file://"))


def _edit(db: Path, sql: str, *args) -> None:
    """What anyone with write access to the file can do: drop the guards, then edit."""
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER IF EXISTS events_no_update")
        connection.execute("DROP TRIGGER IF EXISTS events_no_delete")
        connection.execute(sql, args)


def test_key_is_created_once_private_and_checked_against_the_public_key(tmp_path):
    private, public = tmp_path / "conf/local/key.pem", tmp_path / "audit/key.pub"
    key = load_signing_key(private, public)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.read_text() == public_pem(key)
    assert public_pem(load_signing_key(private, public)) == public_pem(key)   # reused
    private.unlink()
    with pytest.raises(IntegrityError, match="key.pem is missing, but .*key.pub records"):
        load_signing_key(private, public)


def test_append_only_chain_names_the_edited_and_the_deleted_event(tmp_path):
    key = Ed25519PrivateKey.generate()
    log = AuditLog(tmp_path / "audit.db")
    for n in range(4):
        log.append(key, model="m", event="promoted", version=str(n), actor="a", reason="r")
    assert log.verify(public_pem(key)) == []
    with sqlite3.connect(log.path) as connection, pytest.raises(sqlite3.DatabaseError,
                                                                match="append-only"):
        connection.execute("UPDATE events SET reason = 'x' WHERE seq = 2")

    _edit(log.path, "UPDATE events SET reason = 'nothing to see' WHERE seq = 2")
    [problem] = log.verify(public_pem(key))
    assert problem.startswith("event 2 (promoted v1 of 'm'") and "content was changed" in problem

    _edit(log.path, "DELETE FROM events WHERE seq = 3")
    problems = log.verify(public_pem(key))
    assert "event 4 (promoted v3 of 'm'" in problems[1] and "events 3..3 are missing" in problems[1]
    assert "broken link" in problems[2]

    # rewriting the whole chain consistently needs the private key: another key is refused
    forged = AuditLog(tmp_path / "forged.db")
    forged.append(Ed25519PrivateKey.generate(), model="m", event="promoted", version="9",
                  actor="a", reason="r")
    assert forged.verify(public_pem(key)) == [
        f"{forged.events()[0].label()}: bad signature: not signed by the project key"]


def test_inference_code_is_the_installed_modules_the_model_imports():
    code = inference_code_manifest()
    assert {"tai_project/__init__.py", "tai_project/models/__init__.py",
            "tai_project/models/inference.py", "tai_project/models/network.py",
            "tai_project/models/training.py"} <= set(code)
    assert not [path for path in code if "/pipelines/" in path]
    verify_inference_code(code, label="m")
    with pytest.raises(IntegrityError, match=r"tai_project/models/network\.py: SHA-256 \w+ "
                                             r"differs from the signed 0{64}"):
        verify_inference_code({**code, "tai_project/models/network.py": "0" * 64}, label="m")


def test_rewritten_file_and_manifest_tag_are_caught_by_the_signature(client):  # noqa: F811
    register(release())
    assert registry.verify(client, _name()) == []
    manifest = registry.signed_manifest(_name(), "1")
    assert manifest["inference_code"] == inference_code_manifest()
    assert manifest["evidence"]["network_sha256"] and manifest["version"] == "1"

    # the attacker: new weights on disk, a manifest tag recomputed to match them
    folder = _folder(client, "1")
    weights = folder / "artifacts" / "network.pt"
    weights.write_bytes(weights.read_bytes() + b"\x00")
    forged = {**manifest, "files": file_manifest(folder)}
    client.set_model_version_tag(_name(), "1", registry.MANIFEST_TAG, canonical_json(forged))
    client.set_model_version_tag(_name(), "1", registry.SHA_TAG, sha256_json(forged["files"]))

    problems = registry.verify(client, _name())
    assert len(problems) == 1
    assert "artifacts/network.pt: SHA-256" in problems[0]
    assert f"registry tag '{registry.MANIFEST_TAG}' differs from the signed manifest and " \
           "carries a bad signature" in problems[0]
    with pytest.raises(IntegrityError, match=r"artifacts/network\.pt"):
        registry.load_verified_model(_name(), client=client)


def test_a_manifest_signed_with_another_key_is_refused(client):  # noqa: F811
    register(release())
    folder = _folder(client, "1")
    code = folder / "pyfunc_code.py"
    code.write_text(code.read_text() + "\nimport os  # injected\n")
    intruder = Ed25519PrivateKey.generate()
    forged = {**registry.signed_manifest(_name(), "1"), "files": file_manifest(folder)}
    signature = sign(intruder, sha256_json(forged))
    client.set_model_version_tag(_name(), "1", registry.MANIFEST_TAG, canonical_json(forged))
    client.set_model_version_tag(_name(), "1", registry.SIGNATURE_TAG, signature)
    # ... and a forged "registered" row, chained correctly but signed with the intruder's key
    AuditLog(Path("audit/audit.db")).append(
        intruder, model=_name(), event="registered", version="1", actor="x", reason="r",
        manifest=forged, manifest_sha256=sha256_json(forged), signature=signature)

    with pytest.raises(IntegrityError, match="bad signature"):
        registry.load_verified_model(_name(), client=client)
    problems = registry.verify(client, _name())
    assert any(p.endswith("bad signature: not signed by the project key") for p in problems)
    assert any("the manifest in event" in p and "bad signature" in p for p in problems)


def test_make_verify_names_an_edited_audit_row_and_exits_non_zero(client, store, capsys):  # noqa: F811
    import shutil  # noqa: PLC0415

    from tests.conftest import PROJECT_ROOT, TINY_MODEL, write_test_configuration  # noqa: PLC0415

    project = store / "verify_cli"
    shutil.copytree(PROJECT_ROOT / "conf" / "base", project / "conf" / "base")
    (project / "conf" / "local").mkdir()
    write_test_configuration(project)   # the test's own dataset description: TINY_MODEL
    (project / "conf" / "local" / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: {mlflow.get_tracking_uri()}\n")
    os.chdir(project)
    register(release(), TINY_MODEL)
    assert registry.main(["verify"]) == 0
    head = json.loads(capsys.readouterr().out)
    assert head["champion"] == "1" and len(head["audit_head_sha256"]) == 64

    promoted = [e for e in AuditLog(Path("audit/audit.db")).events() if e.event == "promoted"][0]
    _edit(Path("audit/audit.db"), "UPDATE events SET actor = 'someone else' WHERE seq = ?",
          promoted.seq)
    assert registry.main(["verify"]) == 1
    err = capsys.readouterr().err
    assert f"event {promoted.seq} (promoted v1 of '{TINY_MODEL}'" in err
    assert "content was changed" in err
    assert content_sha256(promoted.content()) == promoted.sha256   # the original still hashes

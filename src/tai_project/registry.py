"""Promotion, human approval, rollback, the audit log and verified loading on the MLflow registry.

The aliases say which version is ``champion`` and ``challenger``. The audit log is an
append-only, hash-chained SQLite file (``audit/audit.db``, ``tai_project.audit``), every
event signed with the project's Ed25519 key (``conf/local/audit_signing_key.pem``, created
on first use; its public key is ``audit/audit_signing_key.pub``). Each registered version has
a signed manifest (the SHA-256 of every model file and of the installed inference code) in
its ``registered`` event. Tags on the registered model and its versions are a readable
mirror of all this, never trusted.

Every path to ``champion`` (deployment, approve, rollback) goes through ``promote``, whose
first step is ``check_promotion``: verify the signed manifest, the files and the code, hash
the stored network and compare it with the gate report stored with it
(``tai_project.evidence.decide_promotion``). ``promote`` writes an intent event before moving
the alias and a completion event after; ``reconcile`` (run first by every command) completes
or aborts an intent a killed process left open, so the aliases and the audit always agree.

Command line (from the project root, run by ``make approve``/``rollback``/``audit``/``verify``)::

    python -m tai_project.registry approve --version 3 --approver "A. Reviewer" --reason "..."
    python -m tai_project.registry rollback --version 1 --actor "A. Reviewer" --reason "..."
    python -m tai_project.registry audit
    python -m tai_project.registry verify
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from tai_project.audit import AuditEvent, AuditLog
from tai_project.errors import EvidenceError, IntegrityError, RegistryError, TaiProjectError
from tai_project.evidence import Decision, decide_promotion
from tai_project.integrity import (
    canonical_json,
    folder_problems,
    inference_code_manifest,
    load_signing_key,
    network_sha256,
    sha256_json,
    sign,
    signature_valid,
    verify_inference_code,
)

logger = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
AUDIT_PREFIX = "audit."
MANIFEST_TAG, SHA_TAG, STATE_TAG = "artifact_manifest", "artifact_sha256", "promotion_state"
SIGNATURE_TAG = "manifest_signature"
PROMOTIONS = frozenset({"promoted", "approved", "rollback"})
"""Audit events that move ``champion``."""
DECISIONS = PROMOTIONS | {"rejected", "awaiting_approval"}
CRASH_ENV = "TAI_PROJECT_CRASH_AT"
"""Test hook: the name of a promotion step at which the process SIGKILLs itself."""


@dataclass(frozen=True)
class Trail:
    """Where the audit log and the signing keys live, relative to the project root."""

    root: Path = Path()

    @property
    def log(self) -> AuditLog:
        return AuditLog(self.root / "audit" / "audit.db")

    @property
    def public_key_path(self) -> Path:
        return self.root / "audit" / "audit_signing_key.pub"

    @property
    def private_key_path(self) -> Path:
        return self.root / "conf" / "local" / "audit_signing_key.pem"

    def signing_key(self) -> Any:
        """Return the private key (created with its public key on first use)."""
        return load_signing_key(self.private_key_path, self.public_key_path)

    def public_key(self) -> str:
        """Return the recorded public key (PEM), or raise ``IntegrityError``."""
        if not self.public_key_path.is_file():
            raise IntegrityError(
                f"No public key at {self.public_key_path}: nothing can be verified. It is "
                "written with the audit log on the first registration; restore it from backup.")
        return self.public_key_path.read_text(encoding="ascii")


def current_actor() -> str:
    """Return who runs this process (the OS user name): the actor of automatic decisions."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def _crash_point(step: str) -> None:
    """Kill this process with SIGKILL at ``step`` when ``TAI_PROJECT_CRASH_AT`` names it
    (used only by the crash-consistency tests)."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def record_event(
    client: mlflow.MlflowClient, name: str, *, event: str, version: str | None, actor: str,
    reason: str, trail: Trail | None = None, **details: Any,
) -> dict[str, Any]:
    """Append one signed event to the audit log, mirror it as a tag on the registered
    model (readable, not trusted) and return it."""
    trail = trail or Trail()
    row = trail.log.append(trail.signing_key(), model=name, event=event, version=version,
                           actor=actor, reason=reason, **details)
    entry = row.as_dict()
    stamp = datetime.fromisoformat(row.at).strftime("%Y%m%dT%H%M%S.%fZ")
    mirror = {k: v for k, v in entry.items() if k != "manifest"}   # that one is a version tag
    try:
        client.set_registered_model_tag(name, f"{AUDIT_PREFIX}{stamp}.{event}",
                                        json.dumps(mirror, sort_keys=True)[:4900])
    except MlflowException:
        logger.warning("Could not mirror audit event %s as a tag of '%s'.", row.seq, name)
    return entry


def audit_log(client: mlflow.MlflowClient | None, name: str, trail: Trail | None = None,  # noqa: ARG001
              ) -> list[dict[str, Any]]:
    """Return every audit event of ``name``, oldest first ([] when nothing is recorded)."""
    return [row.as_dict() for row in (trail or Trail()).log.events(name)]


def alias_version(client: mlflow.MlflowClient, name: str, alias: str) -> str | None:
    """Return the version ``alias`` points to, or ``None``."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def reconcile(client: mlflow.MlflowClient, name: str, trail: Trail | None = None) -> list[dict]:
    """Bring the audit log in line with the aliases after a process died mid-way; return
    the events recorded. The alias is the truth: an open promotion intent whose version is
    the champion is completed (its promotion event recorded once), any other is aborted;
    a version still ``registered`` is ``complete`` when a decision about it was recorded,
    else ``interrupted`` (it never became champion and cannot be approved)."""
    trail = trail or Trail()
    events = trail.log.events(name)
    if not events and not trail.public_key_path.exists():
        return []
    recorded: list[dict] = []
    closed = {row.details.get("intent") for row in events}
    champion = alias_version(client, name, CHAMPION)
    for intent in [e for e in events if e.event == "promotion_intent" and e.seq not in closed]:
        if champion == intent.version:
            recorded.append(record_event(
                client, name, event=intent.details["promotion"], version=intent.version,
                actor=intent.actor, reason=intent.reason, trail=trail, intent=intent.seq,
                previous_champion=intent.details.get("previous_champion"),
                recovered="the process ended after moving 'champion'; completed by the next run"))
        else:
            recorded.append(record_event(
                client, name, event="promotion_aborted", version=intent.version,
                actor=current_actor(), trail=trail, intent=intent.seq,
                reason=f"the process ended before moving 'champion' (still version {champion})"))
    events = trail.log.events(name)
    decided = {e.version for e in events if e.event in DECISIONS}
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        versions = []
    for version in [str(v.version) for v in versions if v.tags.get(STATE_TAG) == "registered"]:
        if version in decided or version == champion:
            client.set_model_version_tag(name, version, STATE_TAG, "complete")
            continue
        client.set_model_version_tag(name, version, STATE_TAG, "interrupted")
        recorded.append(record_event(
            client, name, event="interrupted", version=version, actor=current_actor(),
            trail=trail, reason="the registering process ended before a decision was recorded; "
                                "this version was never promoted"))
    return recorded


reconcile_interrupted = reconcile   # the name earlier callers used


# --- signed manifests ---------------------------------------------------------------------

def sign_version(
    client: mlflow.MlflowClient, name: str, version: str, files: Mapping[str, str], *,
    evidence: Mapping[str, str], actor: str, trail: Trail | None = None,
) -> dict[str, Any]:
    """Sign the manifest of a freshly registered version (its files, the installed
    inference code it runs, the evidence of its gate report, its name, version and source),
    record it in a ``registered`` audit event and mirror it in the version's tags; return
    the signed manifest."""
    trail = trail or Trail()
    source = client.get_model_version(name, version).source
    manifest = {"model": name, "version": str(version), "source": source, "files": dict(files),
                "inference_code": inference_code_manifest(), "evidence": dict(evidence)}
    digest = sha256_json(manifest)
    signature = sign(trail.signing_key(), digest)
    record_event(client, name, event="registered", version=version, actor=actor, trail=trail,
                 reason="registered with its signed manifest", manifest=manifest,
                 manifest_sha256=digest, signature=signature)
    client.set_model_version_tag(name, version, MANIFEST_TAG, canonical_json(manifest))
    client.set_model_version_tag(name, version, SIGNATURE_TAG, signature)
    return manifest


def signed_manifest(name: str, version: str, trail: Trail | None = None) -> dict[str, Any]:
    """Return the manifest signed for ``version`` of ``name`` in the audit log after checking
    its signature with the recorded public key; raise ``IntegrityError`` otherwise."""
    trail = trail or Trail()
    rows = [e for e in trail.log.events(name) if e.event == "registered" and e.version == str(version)]
    if not rows:
        raise IntegrityError(
            f"Version {version} of '{name}' has no signed manifest in the audit log "
            f"({trail.log.path}): it was registered before signed manifests, or its "
            "registration never finished. Register the model again (kedro run).")
    return _checked_manifest(rows[-1], name, str(version), trail.public_key())


def _checked_manifest(row: AuditEvent, name: str, version: str, public_key: str) -> dict[str, Any]:
    manifest, signature = row.details.get("manifest") or {}, row.details.get("signature", "")
    problems = []
    if not signature_valid(public_key, sha256_json(manifest), signature):
        problems.append(f"the manifest in {row.label()}: bad signature (not signed by the "
                        "project key)")
    if (manifest.get("model"), manifest.get("version")) != (name, version):
        problems.append(f"the manifest in {row.label()} is for version "
                        f"{manifest.get('version')} of '{manifest.get('model')}'")
    if problems:
        raise IntegrityError(f"Refusing version {version} of '{name}': " + "; ".join(problems))
    return manifest


def download_verified(
    client: mlflow.MlflowClient, name: str, version: str, dst: str | Path,
    trail: Trail | None = None,
) -> Path:
    """Download version ``version`` of ``name`` into ``dst`` and return its folder after
    checking the signed manifest (signature, name, version, source), every file against it,
    the registry's tag mirror and the installed inference code; raise ``IntegrityError``
    naming each file, tag or module that differs."""
    trail = trail or Trail()
    manifest = signed_manifest(name, version, trail)
    model_version = client.get_model_version(name, version)
    label = f"version {version} of model '{name}'"
    problems = []
    if model_version.source != manifest["source"]:
        problems.append(f"the registry points it at {model_version.source}, the signed "
                        f"manifest at {manifest['source']}")
    tags = model_version.tags
    mirrored = tags.get(MANIFEST_TAG)
    if mirrored is not None and mirrored != canonical_json(manifest):
        valid = signature_valid(trail.public_key(), sha256_json(json.loads(mirrored)),
                                tags.get(SIGNATURE_TAG, ""))
        problems.append(f"registry tag '{MANIFEST_TAG}' differs from the signed manifest"
                        + ("" if valid else " and carries a bad signature (edited in the registry)"))
    source = client.get_model_version_download_uri(name, version)
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst)))
    problems += folder_problems(folder, manifest["files"])
    if problems:
        raise IntegrityError(
            f"Refusing to load {label} (stored at {source}): it differs from the manifest "
            "signed at registration:\n" + "\n".join(f"  - {p}" for p in problems)
            + "\nThe registry or artifact store was changed after registration (tampering or "
            "corruption). Do not serve it: restore it from a backup, or roll 'champion' back "
            "to a verified version (make rollback VERSION=<n> ...) and investigate.")
    verify_inference_code(manifest["inference_code"], label=label)
    return folder


def load_verified_model(
    name: str, alias: str = CHAMPION, *, client: mlflow.MlflowClient | None = None,
    trail: Trail | None = None,
) -> mlflow.pyfunc.PyFuncModel:
    """Return the pyfunc model ``models:/<name>@<alias>`` after ``download_verified``:
    what the monitoring stage and serving load (never an unverified copy)."""
    client = client or mlflow.MlflowClient()
    version = alias_version(client, name, alias)
    if version is None:
        raise RegistryError(f"Model '{name}' has no alias '{alias}' yet: run the pipeline "
                            "(kedro run) or approve a challenger (make approve) first.")
    with tempfile.TemporaryDirectory() as tmp:
        folder = download_verified(client, name, version, tmp, trail)
        return mlflow.pyfunc.load_model(str(folder))


# --- the one way to champion ---------------------------------------------------------------

def check_promotion(
    client: mlflow.MlflowClient, name: str, version: str, *, human_approval_required: bool,
    approved_by: str | None = None, requirements_sha256: str | None = None,
    trail: Trail | None = None,
) -> Decision:
    """The check every path to ``champion`` goes through: verify the version (signed
    manifest, files, inference code), hash the network stored in it and decide with the gate
    report stored beside it (``decide_promotion``); return the decision if it is ``promote``,
    else raise ``EvidenceError`` (evidence mismatch) or ``RegistryError`` saying why."""
    from tai_project.models.network import load_checkpoint  # noqa: PLC0415 - torch on use

    with tempfile.TemporaryDirectory() as tmp:
        folder = download_verified(client, name, version, tmp, trail)
        report = json.loads((folder / "artifacts" / "gate_report.json").read_text(encoding="utf-8"))
        network = load_checkpoint(str(folder / "artifacts" / "network.pt"))
    found = {"network_sha256": network_sha256(network), "requirements_sha256": requirements_sha256}
    decision = decide_promotion(report, found, human_approval_required=human_approval_required,
                                approved_by=approved_by)
    reasons = "\n".join(f"  - {reason}" for reason in decision.reasons)
    if decision.action == "refuse":
        raise EvidenceError(f"Version {version} of '{name}' cannot become champion: it is not "
                            f"what its trust gate measured:\n{reasons}")
    if decision.action != "promote":
        raise RegistryError(f"Version {version} of '{name}' cannot become champion "
                            f"({decision.action}):\n{reasons}")
    return decision


def promote(
    client: mlflow.MlflowClient, name: str, version: str, *, event: str, actor: str, reason: str,
    human_approval_required: bool = False, approved_by: str | None = None,
    requirements_sha256: str | None = None, trail: Trail | None = None,
) -> dict[str, Any]:
    """Point ``champion`` at ``version`` once ``check_promotion`` allows it, crash-safely:
    an intent event, the alias move, then the ``event`` (``previous_champion`` names the old
    one, ``intent`` the intent event). Return the completion event."""
    trail = trail or Trail()
    check_promotion(client, name, version, human_approval_required=human_approval_required,
                    approved_by=approved_by, requirements_sha256=requirements_sha256, trail=trail)
    previous = alias_version(client, name, CHAMPION)
    _crash_point("before_intent")
    intent = record_event(client, name, event="promotion_intent", version=version, actor=actor,
                          reason=reason, trail=trail, promotion=event, previous_champion=previous)
    _crash_point("after_intent")
    client.set_registered_model_alias(name, CHAMPION, version)
    _crash_point("after_alias")
    done = record_event(client, name, event=event, version=version, actor=actor, reason=reason,
                        trail=trail, previous_champion=previous, intent=intent["seq"])
    _crash_point("after_completion")
    return done


def _require_who_and_why(who: str, why: str, message: str) -> None:
    if not who.strip() or not why.strip():
        raise RegistryError(message)


def _passed_version_tags(
    client: mlflow.MlflowClient, name: str, version: str, advice: str
) -> dict[str, str]:
    """Return the version's tags; raise unless it passed the trust gate."""
    tags = _version_tags(client, name, version)
    if tags.get("trust_gate") != "passed":
        raise RegistryError(f"Version {version} of '{name}' did not pass the trust gate "
                            f"(trust_gate={tags.get('trust_gate')!r}); {advice}.")
    return tags


def approve(
    client: mlflow.MlflowClient, name: str, version: str, *, approver: str, reason: str,
    requirements: Mapping[str, Any] | None = None, trail: Trail | None = None,
) -> dict[str, Any]:
    """Human oversight: make a challenger that passed the gate and waits for approval the
    champion, recording who approved it, when and why. Refuses a version that failed, is not
    waiting, was compared with another champion than today's, was measured against other
    ``requirements`` than today's (when given), or fails ``check_promotion``."""
    version = str(version)
    _require_who_and_why(approver, reason, "An approval needs the approver's name and a reason "
                         "(make approve VERSION=<n> APPROVER='<name>' REASON='<why>').")
    reconcile(client, name, trail)
    tags = _passed_version_tags(client, name, version, "it cannot be approved")
    if tags.get("approval") != "pending" or tags.get(STATE_TAG) == "interrupted":
        raise RegistryError(f"Version {version} of '{name}' is not waiting for approval "
                            f"(approval={tags.get('approval')!r}, {STATE_TAG}={tags.get(STATE_TAG)!r}).")
    champion = alias_version(client, name, CHAMPION)
    compared = tags.get("compared_with_champion", "none")
    if compared != (champion or "none"):
        raise RegistryError(
            f"Version {version} was checked for non-regression against champion {compared}, but "
            f"the champion is now {champion}. Run the pipeline again to compare it with today's.")
    event = promote(client, name, version, event="approved", actor=approver, reason=reason,
                    human_approval_required=True, approved_by=approver, trail=trail,
                    requirements_sha256=None if requirements is None else requirements_sha256(requirements))
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in {"approval": "approved", "approved_by": approver, "approved_at": at,
                       "approval_reason": reason}.items():
        client.set_model_version_tag(name, version, key, value)
    return event


def rollback(
    client: mlflow.MlflowClient, name: str, version: str, *, actor: str, reason: str,
    trail: Trail | None = None,
) -> dict[str, Any]:
    """Move ``champion`` back to an earlier ``version`` that passed the gate (measured under
    the requirements of its day), through ``check_promotion``; recorded on the version and
    in the audit log."""
    version = str(version)
    _require_who_and_why(actor, reason, "A rollback needs who does it and why "
                         "(make rollback VERSION=<n> ACTOR='<name>' REASON='<why>').")
    reconcile(client, name, trail)
    _passed_version_tags(client, name, version, "roll back to one that did")
    if alias_version(client, name, CHAMPION) == version:
        raise RegistryError(f"Version {version} of '{name}' is already the champion.")
    event = promote(client, name, version, event="rollback", actor=actor, reason=reason,
                    approved_by=actor, trail=trail)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in {"rolled_back_by": actor, "rolled_back_at": at,
                       "rollback_reason": reason}.items():
        client.set_model_version_tag(name, version, key, value)
    return event


def requirements_sha256(requirements: Mapping[str, Any]) -> str:
    """Return the SHA-256 of the validated trust requirements (as the gate hashes them)."""
    from tai_project.trust.requirements import parse_requirements  # noqa: PLC0415

    return sha256_json(parse_requirements(requirements).model_dump(mode="json"))


def verify(client: mlflow.MlflowClient, name: str, trail: Trail | None = None) -> list[str]:
    """Return every problem ``make verify`` finds (``[]``: all good): the audit chain and
    its signatures; each version's signed manifest; the files and inference code of the
    versions an alias points to; and the aliases against the audit's promotions."""
    trail = trail or Trail()
    try:
        problems = trail.log.verify(trail.public_key())
    except IntegrityError as error:
        return [str(error)]
    try:
        versions = sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))
    except MlflowException:
        versions = []
    aliases = {alias: alias_version(client, name, alias) for alias in (CHAMPION, CHALLENGER)}
    for version in versions:
        try:
            if version in aliases.values():
                with tempfile.TemporaryDirectory() as tmp:
                    download_verified(client, name, version, tmp, trail)
            else:
                signed_manifest(name, version, trail)
        except IntegrityError as error:
            if client.get_model_version(name, version).tags.get(STATE_TAG) != "interrupted":
                problems.append(str(error))
    problems += alias_problems(client, name, trail)
    return problems


def alias_problems(client: mlflow.MlflowClient, name: str, trail: Trail | None = None) -> list[str]:
    """Return the disagreements between ``champion`` and the audit log: the alias must point
    to the version of the last promotion event, and no promotion intent may be left open."""
    events = (trail or Trail()).log.events(name)
    closed = {e.details.get("intent") for e in events}
    problems = [f"{e.label()} is still open (a process died mid-promotion; the next "
                "registry command reconciles it)"
                for e in events if e.event == "promotion_intent" and e.seq not in closed]
    promotions = [e for e in events if e.event in PROMOTIONS]
    recorded = promotions[-1].version if promotions else None
    champion = alias_version(client, name, CHAMPION)
    if champion != recorded:
        problems.append(f"alias 'champion' points to version {champion}, but the audit log's "
                        f"last promotion is of version {recorded}: the alias was moved outside "
                        "the registry commands")
    return problems


def _version_tags(client: mlflow.MlflowClient, name: str, version: str) -> dict[str, str]:
    try:
        return dict(client.get_model_version(name, version).tags)
    except MlflowException:
        known = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        raise RegistryError(f"Model '{name}' has no version {version}; it has {known}.") from None


def project_settings(project_path: str | Path = ".") -> tuple[str, str]:
    """Return (tracking URI, registered model name) as the project's configuration says
    (``conf/base`` overridden by ``conf/local``, as ``kedro run`` reads them)."""
    loader = _config_loader(project_path)
    uri = loader["mlflow"]["server"]["mlflow_tracking_uri"]
    return uri, loader["catalog"]["model_registry"]["registered_model_name"]


def project_requirements(project_path: str | Path = ".") -> dict[str, Any]:
    """Return the project's ``trust_requirements`` parameters as ``kedro run`` reads them."""
    return _config_loader(project_path)["parameters"]["trust_requirements"]


def _config_loader(project_path: str | Path) -> Any:
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - only the CLI needs kedro

    return OmegaConfigLoader(
        conf_source=str(Path(project_path) / "conf"), base_env="base", default_run_env="local",
        config_patterns={"mlflow": ["mlflow*", "mlflow*/**"]},
    )


def main(argv: list[str] | None = None) -> int:
    """The command line above; returns the exit code (1 with the reason on a refusal)."""
    parser = argparse.ArgumentParser(prog="python -m tai_project.registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for command, who in (("approve", "--approver"), ("rollback", "--actor")):
        sub = commands.add_parser(command)
        sub.add_argument("--version", required=True)
        sub.add_argument(who, dest="who", required=True)
        sub.add_argument("--reason", required=True)
    commands.add_parser("audit")
    commands.add_parser("verify")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uri, name = project_settings()
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        if args.command == "approve":
            _emit(approve(client, name, args.version, approver=args.who, reason=args.reason,
                          requirements=project_requirements()))
        elif args.command == "rollback":
            _emit(rollback(client, name, args.version, actor=args.who, reason=args.reason))
        elif args.command == "audit":
            for entry in audit_log(client, name):
                _emit(entry)
        else:
            problems = verify(client, name)
            if problems:
                sys.stderr.write(f"make verify: {len(problems)} problem(s):\n"
                                 + "\n".join(f"  - {p}" for p in problems) + "\n")
                return 1
            events = Trail().log.events()
            _emit({"verified": name, "champion": alias_version(client, name, CHAMPION),
                   "audit_events": len(events),
                   "audit_head_sha256": events[-1].sha256 if events else None})
    except (TaiProjectError, MlflowException) as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1
    return 0


def _emit(entry: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(entry, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())

"""Promotion, human approval, rollback, audit log and verified loading on the MLflow registry.

The registry is the one source of truth: the aliases say which version is ``champion`` and
``challenger``; tags on each model version record its verdict, hashes and approvals; and the
audit log is a series of tags ``audit.<UTC time>`` on the registered model, one JSON event
each (who, when, what, which version, why). Every command here records an event.

Command line (from the project root, run by ``make approve``/``rollback``/``audit``)::

    python -m tai_project.registry approve --version 3 --approver "A. Reviewer" --reason "..."
    python -m tai_project.registry rollback --version 1 --actor "A. Reviewer" --reason "..."
    python -m tai_project.registry audit
    python -m tai_project.registry verify [--alias champion]
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from tai_project.errors import RegistryError, TaiProjectError
from tai_project.integrity import manifest_digest, verify_folder

logger = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
AUDIT_PREFIX = "audit."
MANIFEST_TAG, SHA_TAG, STATE_TAG = "artifact_manifest", "artifact_sha256", "promotion_state"


def current_actor() -> str:
    """Return who runs this process (the OS user name): the actor of automatic decisions."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def record_event(
    client: mlflow.MlflowClient, name: str, *, event: str, version: str | None, actor: str,
    reason: str, **details: Any,
) -> dict[str, Any]:
    """Append one event to the audit log of ``name`` and return it."""
    now = datetime.now(UTC)
    entry = {"at": now.isoformat(timespec="microseconds"), "event": event,
             "version": None if version is None else str(version), "actor": actor,
             "reason": reason, **details}
    key = f"{AUDIT_PREFIX}{now.strftime('%Y%m%dT%H%M%S.%fZ')}.{event}"
    client.set_registered_model_tag(name, key, json.dumps(entry, sort_keys=True)[:4900])
    return entry


def audit_log(client: mlflow.MlflowClient, name: str) -> list[dict[str, Any]]:
    """Return every audit event of ``name``, oldest first ([] when nothing is registered)."""
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException:
        return []
    return [json.loads(tags[key]) for key in sorted(tags) if key.startswith(AUDIT_PREFIX)]


def alias_version(client: mlflow.MlflowClient, name: str, alias: str) -> str | None:
    """Return the version ``alias`` points to, or ``None``."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def reconcile_interrupted(client: mlflow.MlflowClient, name: str) -> list[str]:
    """Mark versions whose registration never finished (the process ended between
    registering and moving the aliases) as ``interrupted`` and log it; return them.

    Such a version never became champion: ``champion`` is moved last, so the registry stays
    consistent and a rerun simply registers a new version."""
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return []
    stale = [str(v.version) for v in versions if v.tags.get(STATE_TAG) == "registered"]
    for version in stale:
        client.set_model_version_tag(name, version, STATE_TAG, "interrupted")
        record_event(client, name, event="interrupted", version=version, actor=current_actor(),
                     reason="the registering process ended before the aliases were moved; "
                            "this version was never promoted")
    return stale


def download_verified(
    client: mlflow.MlflowClient, name: str, version: str, dst: str | Path
) -> Path:
    """Download version ``version`` of ``name`` into ``dst`` and return its folder after
    checking every file against the SHA-256 manifest recorded at registration (raises
    ``IntegrityError`` naming each changed file, ``RegistryError`` if none was recorded)."""
    tags = client.get_model_version(name, version).tags
    if MANIFEST_TAG not in tags:
        raise RegistryError(
            f"Version {version} of '{name}' has no '{MANIFEST_TAG}' tag, so its files cannot be "
            "verified. Register models through the deployment stage (kedro run), which records it."
        )
    manifest = json.loads(tags[MANIFEST_TAG])
    if manifest_digest(manifest) != tags.get(SHA_TAG):
        raise RegistryError(f"Version {version} of '{name}': tag '{MANIFEST_TAG}' does not match "
                            f"tag '{SHA_TAG}'; the registry entry was edited after registration.")
    source = client.get_model_version_download_uri(name, version)
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst)))
    verify_folder(folder, manifest, label=f"version {version} of model '{name}' (stored at {source})")
    return folder


def load_verified_model(
    name: str, alias: str = CHAMPION, *, client: mlflow.MlflowClient | None = None
) -> mlflow.pyfunc.PyFuncModel:
    """Return the pyfunc model ``models:/<name>@<alias>`` after verifying its SHA-256
    manifest: what the monitoring stage and serving load (never an unverified copy)."""
    client = client or mlflow.MlflowClient()
    version = alias_version(client, name, alias)
    if version is None:
        raise RegistryError(f"Model '{name}' has no alias '{alias}' yet: run the pipeline "
                            "(kedro run) or approve a challenger (make approve) first.")
    with tempfile.TemporaryDirectory() as tmp:
        folder = download_verified(client, name, version, tmp)
        return mlflow.pyfunc.load_model(str(folder))


def promote(
    client: mlflow.MlflowClient, name: str, version: str, *, event: str, actor: str, reason: str,
) -> dict[str, Any]:
    """Point ``champion`` at ``version`` and record the event (``from`` names the old one)."""
    previous = alias_version(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, version)
    return record_event(client, name, event=event, version=version, actor=actor, reason=reason,
                        previous_champion=previous)


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
    client: mlflow.MlflowClient, name: str, version: str, *, approver: str, reason: str
) -> dict[str, Any]:
    """Human oversight: make a challenger that passed the gate and waits for approval the
    champion, recording on the version who approved it, when and why. Refuses a version
    that failed, is not waiting, was compared with another champion than today's, or whose
    files fail verification."""
    version = str(version)
    _require_who_and_why(approver, reason, "An approval needs the approver's name and a reason "
                         "(make approve VERSION=<n> APPROVER='<name>' REASON='<why>').")
    tags = _passed_version_tags(client, name, version, "it cannot be approved")
    if tags.get("approval") != "pending":
        raise RegistryError(f"Version {version} of '{name}' is not waiting for approval "
                            f"(approval={tags.get('approval')!r}).")
    champion = alias_version(client, name, CHAMPION)
    compared = tags.get("compared_with_champion", "none")
    if compared != (champion or "none"):
        raise RegistryError(
            f"Version {version} was checked for non-regression against champion {compared}, but "
            f"the champion is now {champion}. Run the pipeline again to compare it with today's.")
    with tempfile.TemporaryDirectory() as tmp:
        download_verified(client, name, version, tmp)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in {"approval": "approved", "approved_by": approver, "approved_at": at,
                       "approval_reason": reason}.items():
        client.set_model_version_tag(name, version, key, value)
    return promote(client, name, version, event="approved", actor=approver, reason=reason)


def rollback(
    client: mlflow.MlflowClient, name: str, version: str, *, actor: str, reason: str
) -> dict[str, Any]:
    """Move ``champion`` back to an earlier ``version`` that passed the gate, after
    verifying its files; the rollback is recorded on the version and in the audit log."""
    version = str(version)
    _require_who_and_why(actor, reason, "A rollback needs who does it and why "
                         "(make rollback VERSION=<n> ACTOR='<name>' REASON='<why>').")
    _passed_version_tags(client, name, version, "roll back to one that did")
    if alias_version(client, name, CHAMPION) == version:
        raise RegistryError(f"Version {version} of '{name}' is already the champion.")
    with tempfile.TemporaryDirectory() as tmp:
        download_verified(client, name, version, tmp)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    for key, value in {"rolled_back_by": actor, "rolled_back_at": at,
                       "rollback_reason": reason}.items():
        client.set_model_version_tag(name, version, key, value)
    return promote(client, name, version, event="rollback", actor=actor, reason=reason)


def _version_tags(client: mlflow.MlflowClient, name: str, version: str) -> dict[str, str]:
    try:
        return dict(client.get_model_version(name, version).tags)
    except MlflowException:
        known = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        raise RegistryError(f"Model '{name}' has no version {version}; it has {known}.") from None


def project_settings(project_path: str | Path = ".") -> tuple[str, str]:
    """Return (tracking URI, registered model name) as the project's configuration says
    (``conf/base`` overridden by ``conf/local``, as ``kedro run`` reads them)."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - only the CLI needs kedro

    loader = OmegaConfigLoader(
        conf_source=str(Path(project_path) / "conf"), base_env="base", default_run_env="local",
        config_patterns={"mlflow": ["mlflow*", "mlflow*/**"]},
    )
    uri = loader["mlflow"]["server"]["mlflow_tracking_uri"]
    return uri, loader["catalog"]["model_registry"]["registered_model_name"]


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
    commands.add_parser("verify").add_argument("--alias", default=CHAMPION)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    uri, name = project_settings()
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        if args.command == "approve":
            _emit(approve(client, name, args.version, approver=args.who, reason=args.reason))
        elif args.command == "rollback":
            _emit(rollback(client, name, args.version, actor=args.who, reason=args.reason))
        elif args.command == "audit":
            for entry in audit_log(client, name):
                _emit(entry)
        else:
            version = alias_version(client, name, args.alias)
            if version is None:
                raise RegistryError(f"Model '{name}' has no alias '{args.alias}'.")
            with tempfile.TemporaryDirectory() as tmp:
                download_verified(client, name, version, tmp)
            _emit({"verified": f"{name}@{args.alias}", "version": version})
    except (TaiProjectError, MlflowException) as error:
        sys.stderr.write(f"{type(error).__name__}: {error}\n")
        return 1
    return 0


def _emit(entry: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(entry, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())

"""The append-only, hash-chained, signed audit log of the model registry (its own SQLite file).

One row per event (registered, promotion intent, promoted, rejected, approved, rollback,
...). Each row stores the SHA-256 of the previous row (``prev_sha256``), its own SHA-256
over its canonical content (``sha256``) and an Ed25519 signature of that hash by the key in
``conf/local``. Editing a row breaks its hash and signature; deleting one breaks the next
row's link; rewriting the whole chain needs the private key. SQLite triggers refuse UPDATE
and DELETE, so an honest process cannot change history by mistake.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tai_project.integrity import canonical_json, sign, signature_valid

GENESIS = "0" * 64
"""The ``prev_sha256`` of the first row."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, model TEXT NOT NULL, event TEXT NOT NULL,
    version TEXT, actor TEXT NOT NULL, reason TEXT NOT NULL, details TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL, sha256 TEXT NOT NULL, signature TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
_FIELDS = ("seq", "at", "model", "event", "version", "actor", "reason", "details",
           "prev_sha256")


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit log."""

    seq: int
    at: str
    model: str
    event: str
    version: str | None
    actor: str
    reason: str
    details: dict[str, Any]
    prev_sha256: str
    sha256: str
    signature: str

    def content(self) -> dict[str, Any]:
        """Return what the row's hash covers (every field but the hash and signature)."""
        return {name: getattr(self, name) for name in _FIELDS}

    def as_dict(self) -> dict[str, Any]:
        """Return the event flat, as ``make audit`` prints it: details merged in."""
        return {**self.details, "seq": self.seq, "at": self.at, "model": self.model,
                "event": self.event, "version": self.version, "actor": self.actor,
                "reason": self.reason, "sha256": self.sha256}

    def label(self) -> str:
        version = "" if self.version is None else f" v{self.version}"
        return f"event {self.seq} ({self.event}{version} of '{self.model}', {self.at})"


def content_sha256(content: dict[str, Any]) -> str:
    """Return the SHA-256 of a row's canonical content."""
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


class AuditLog:
    """The audit log in the SQLite file ``path`` (created on first append)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            connection.executescript(_SCHEMA)
            yield connection
        finally:
            connection.close()

    def append(self, private_key: Any, *, model: str, event: str, version: str | None,
               actor: str, reason: str, **details: Any) -> AuditEvent:
        """Append one signed event chained to the last one, in one transaction (a
        concurrent writer waits), and return it."""
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                last = connection.execute(
                    "SELECT seq, sha256 FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev = (1, GENESIS) if last is None else (last[0] + 1, last[1])
                content = {"seq": seq, "at": datetime.now(UTC).isoformat(timespec="microseconds"),
                           "model": model, "event": event,
                           "version": None if version is None else str(version),
                           "actor": actor, "reason": reason,
                           "details": json.loads(canonical_json(details)), "prev_sha256": prev}
                digest = content_sha256(content)
                row = AuditEvent(**content, sha256=digest, signature=sign(private_key, digest))
                connection.execute(
                    f"INSERT INTO events ({', '.join(_FIELDS)}, sha256, signature) "
                    f"VALUES ({', '.join('?' * (len(_FIELDS) + 2))})",
                    (*[canonical_json(row.details) if name == "details" else getattr(row, name)
                       for name in _FIELDS], row.sha256, row.signature))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return row

    def events(self, model: str | None = None) -> list[AuditEvent]:
        """Return the events (of ``model``, or all), oldest first; [] without a log file."""
        if not self.path.exists():
            return []
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT {', '.join(_FIELDS)}, sha256, signature FROM events ORDER BY seq").fetchall()
        events = [AuditEvent(*row[:7], json.loads(row[7]), *row[8:]) for row in rows]
        return [e for e in events if model is None or e.model == model]

    def verify(self, public_key_pem: str) -> list[str]:
        """Return one sentence per broken link, changed row or bad signature (``[]``: the
        chain is intact and every row is signed by ``public_key_pem``'s key)."""
        problems, previous = [], None
        for row in self.events():
            expected_seq = 1 if previous is None else previous.seq + 1
            expected_prev = GENESIS if previous is None else previous.sha256
            after = "the start of the log" if previous is None else previous.label()
            if row.seq != expected_seq:
                problems.append(f"{row.label()}: events {expected_seq}..{row.seq - 1} are missing "
                                f"(deleted) after {after}")
            if row.prev_sha256 != expected_prev:
                problems.append(f"{row.label()}: broken link: it records the previous hash "
                                f"{row.prev_sha256}, but {after} hashes to {expected_prev}")
            if content_sha256(row.content()) != row.sha256:
                problems.append(f"{row.label()}: its content was changed after it was written "
                                f"(it no longer hashes to its recorded SHA-256 {row.sha256})")
            elif not signature_valid(public_key_pem, row.sha256, row.signature):
                problems.append(f"{row.label()}: bad signature: not signed by the project key")
            previous = row
        return problems

"""Versions that come from another brain (a bundle, scheduler.services.bundles), stored in one
transaction, and the reads an export needs beyond the registry's.

`import_versions` differs from brain.registry.add_version in what a move needs and a training
does not: many versions at once, all or nothing (a process killed halfway leaves the brain as it
was); the version's own history kept (its training time, status and metric timestamps, not the
moment of the import); its number kept where the slot has none yet; and versions the slot already
holds (the same artifact and the same spec) matched rather than stored twice, so importing a
bundle again adds nothing. It never changes a champion: promotions go through the lifecycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from brain.audit import insert_audit
from brain.errors import BrainError
from brain.oos_predictions import insert_oos_predictions
from brain.part import BrainPart
from brain.records import AuditRecord, OutOfSampleRecord
from brain.registry import _metric_rows, slot_key
from brain.rows import inserted_id
from brain.schema import artifacts, audit_log, model_metrics, model_versions, slots
from brain.upsert import insert_on_conflict


@dataclass(frozen=True)
class ImportedSlot:
    symbol: str
    timeframe: str
    target: str
    horizon: int

    @property
    def key(self) -> str:
        return slot_key(self.symbol, self.timeframe, self.target)


@dataclass(frozen=True)
class ImportedVersion:
    """One version as another brain stored it; `manifest` already carries its artifact sha256."""

    source_number: int
    model_kind: str
    status: str  # trained | pruned: a version pruned at the source stays pruned
    manifest: dict[str, Any]
    artifact: bytes
    artifact_format: str
    companions: tuple[tuple[bytes, str], ...]  # (bytes, format) of its fitted preprocessing
    metrics: tuple[dict[str, Any], ...]  # rows of name, value, fold, ts, scope
    out_of_sample: OutOfSampleRecord | None
    data_start: datetime | None
    data_end: datetime | None
    created_at: datetime
    notes: str | None

    @property
    def artifact_sha256(self) -> str:
        return hashlib.sha256(self.artifact).hexdigest()

    @property
    def identity(self) -> tuple[str, str | None]:
        """What makes two versions the same model: its artifact and its spec."""
        return self.artifact_sha256, self.manifest.get("spec_sha256")


@dataclass(frozen=True)
class VersionMapping:
    source_number: int
    number: int  # its number in this brain
    created: bool  # False: the slot already held it (same artifact and spec), nothing was stored


def _slot_id(conn: Connection, slot: ImportedSlot) -> int:
    """The slot's id, created on first use, locked for this transaction (as add_version does)."""
    conn.execute(
        insert_on_conflict(conn, slots)
        .values(key=slot.key, symbol=slot.symbol, timeframe=slot.timeframe, target=slot.target,
                horizon=int(slot.horizon), created_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = conn.execute(
        select(slots.c.id, slots.c.horizon).where(slots.c.key == slot.key).with_for_update()
    ).one()
    if row.horizon != int(slot.horizon):
        raise BrainError(f"slot {slot.key} exists with horizon {row.horizon}, not {slot.horizon}")
    return int(row.id)


def _store_artifact(conn: Connection, data: bytes, data_format: str, now: datetime) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    conn.execute(
        insert_on_conflict(conn, artifacts)
        .values(sha256=sha256, format=data_format, size=len(data), data=data, created_at=now)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return sha256


def import_versions(
    brain: BrainPart,
    slot: ImportedSlot,
    versions: Sequence[ImportedVersion],
    *,
    actor: str,
    origin: str | None = None,
    details: dict[str, Any] | None = None,
) -> list[VersionMapping]:
    """Store `versions` (in source order) in `slot`, created if new, with one audit row
    ("bundle.import", carrying `details` and the mapping), in one transaction; returns each
    version's number here. Numbers are kept when the slot has no version yet, else the versions
    follow its newest. A version whose artifact and spec the slot already holds is matched to
    that version (one to one) and not stored again."""
    now = datetime.now(UTC)
    with brain._write() as conn:
        slot_id = _slot_id(conn, slot)
        existing = conn.execute(
            select(model_versions.c.number, model_versions.c.artifact_sha256, model_versions.c.manifest)
            .where(model_versions.c.slot_id == slot_id).order_by(model_versions.c.number)
        ).all()
        unmatched: dict[tuple[str, str | None], list[int]] = {}
        for row in existing:
            identity = (row.artifact_sha256, row.manifest.get("spec_sha256"))
            unmatched.setdefault(identity, []).append(row.number)
        keep_numbers = not existing
        if keep_numbers and len({v.source_number for v in versions}) != len(versions):
            raise BrainError("the versions to import repeat a version number")
        next_number = 1 + max((row.number for row in existing), default=0)
        mapping: list[VersionMapping] = []
        for version in versions:
            same = unmatched.get(version.identity)
            if same:
                mapping.append(VersionMapping(version.source_number, same.pop(0), created=False))
                continue
            for data, data_format in version.companions:
                _store_artifact(conn, data, data_format, now)
            sha256 = _store_artifact(conn, version.artifact, version.artifact_format, now)
            if version.manifest.get("artifact_sha256") != sha256:
                raise BrainError(f"v{version.source_number}: its manifest names another artifact "
                                 f"than the bytes given ({sha256[:12]}…)")
            number = version.source_number if keep_numbers else next_number
            next_number = max(next_number, number) + 1
            version_id = inserted_id(conn.execute(insert(model_versions).values(
                slot_id=slot_id, number=number, model_kind=version.model_kind, status=version.status,
                artifact_sha256=sha256, manifest=version.manifest, data_start=version.data_start,
                data_end=version.data_end, created_at=version.created_at, notes=version.notes,
            )))
            if version.metrics:
                conn.execute(insert(model_metrics), _metric_rows(version_id, list(version.metrics), now))
            if version.out_of_sample is not None and len(version.out_of_sample):
                insert_oos_predictions(conn, version_id, version.out_of_sample)
            mapping.append(VersionMapping(version.source_number, number, created=True))
        created = sum(item.created for item in mapping)
        insert_audit(
            conn, "bundle.import", actor=actor, origin=origin, target=slot.key,
            outcome="ok" if created else "ok: nothing new",
            details={**(details or {}),
                     "versions": {f"v{item.source_number}": item.number for item in mapping},
                     "created": [item.number for item in mapping if item.created]},
        )
    return mapping


def prune_events(brain: BrainPart, slot: str) -> list[AuditRecord]:
    """The audit rows of the slot's prunes, oldest first (a prune leaves only the version's
    status and this row: brain.queues)."""
    query = (
        select(audit_log)
        .where(audit_log.c.action == "prune", audit_log.c.outcome == "ok",
               audit_log.c.target.startswith(f"{slot} v", autoescape=True))
        .order_by(audit_log.c.ts, audit_log.c.id)
    )
    with brain._read() as conn:
        return [AuditRecord(**row._mapping) for row in conn.execute(query)]

"""Slots, model versions, their artifacts and metrics, and the per-slot status overview."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, bindparam, func, insert, select, union
from sqlalchemy.engine import Row

from brain.audit import insert_audit
from brain.column_types import nan_to_null
from brain.errors import BrainError
from brain.oos_predictions import insert_oos_predictions
from brain.part import BrainPart
from brain.records import ChangeMarks, MetricRecord, OutOfSampleRecord, SlotRecord, SlotStatus, VersionRecord
from brain.rows import inserted_id
from brain.schema import (
    artifacts,
    drift_results,
    model_metrics,
    model_versions,
    predictions,
    promotions,
    queue_items,
    slots,
)
from brain.upsert import insert_on_conflict
from brain.versions import select_versions, version_record

_METRIC_KEYS = {"name", "value", "fold", "ts", "scope"}


def slot_key(symbol: str, timeframe: str, target: str) -> str:
    return f"{symbol}:{timeframe}:{target}"


def _short(sha256: str) -> str:
    return f"{sha256[:12]}…"


def _slot_record(row: Row) -> SlotRecord:
    return SlotRecord(**row._mapping)


# Statements the console's poll builds are cached: building one costs more than running it at
# a few slots. With `only_chosen`, they take the slot keys as the expanding parameter CHOSEN_SLOTS.
CHOSEN_SLOTS = "chosen_slot_keys"


def chosen_slots() -> BindParameter:
    return bindparam(CHOSEN_SLOTS, expanding=True)


def chosen(slot_keys: Collection[str] | None) -> dict[str, list[str]]:
    """The execute() parameters of a statement built with only_chosen = slot_keys is not None."""
    return {} if slot_keys is None else {CHOSEN_SLOTS: sorted(slot_keys)}


@cache
def champion_versions(only_chosen: bool = False):
    """Each slot's current champion (slot_key, version_id, number, model_kind): the newest row of
    its promotion history; with `only_chosen`, the slots named by CHOSEN_SLOTS only."""
    history = select(
        promotions.c.slot_key, promotions.c.version_id,
        func.row_number().over(partition_by=promotions.c.slot_key,
                               order_by=(promotions.c.ts.desc(), promotions.c.id.desc())).label("rank"),
    )
    if only_chosen:
        history = history.where(promotions.c.slot_key.in_(chosen_slots()))
    ranked = history.subquery()
    return (
        select(ranked.c.slot_key, ranked.c.version_id, model_versions.c.number, model_versions.c.model_kind)
        .join(model_versions, model_versions.c.id == ranked.c.version_id)
        .where(ranked.c.rank == 1)
    )


def _metric_rows(version_id: int, rows: list[dict[str, Any]], now: datetime) -> list[dict]:
    prepared = []
    for row in rows:
        unknown = set(row) - _METRIC_KEYS
        if unknown:
            raise BrainError(
                f"metric row {row!r} has unknown keys {sorted(unknown)}; allowed: {sorted(_METRIC_KEYS)}"
            )
        prepared.append(
            dict(
                version_id=version_id,
                name=row.get("name"),
                value=nan_to_null(row.get("value")),
                fold=row.get("fold"),
                ts=row.get("ts") or now,
                scope=row.get("scope") or "oos",
            )
        )
    return prepared


class RegistryMixin(BrainPart):
    # ---- slots -------------------------------------------------------------------------

    def ensure_slot(self, symbol: str, timeframe: str, target: str, horizon: int) -> SlotRecord:
        """The slot for (symbol, timeframe, target), created on first use."""
        for part, label in ((symbol, "symbol"), (timeframe, "timeframe"), (target, "target")):
            if not part or ":" in part:
                # ':' separates the parts of the key, so it would make keys ambiguous.
                raise BrainError(f"slot {label} {part!r} must be non-empty and contain no ':'")
        if int(horizon) < 1:
            raise BrainError(f"slot horizon must be a positive number of bars, not {horizon!r}")
        key = slot_key(symbol, timeframe, target)
        with self._write() as conn:
            # ON CONFLICT: two processes may create the same slot at once; both get one row.
            conn.execute(
                insert_on_conflict(conn, slots)
                .values(
                    key=key,
                    symbol=symbol,
                    timeframe=timeframe,
                    target=target,
                    horizon=int(horizon),
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=["key"])
            )
            slot = _slot_record(conn.execute(select(slots).where(slots.c.key == key)).one())
        if slot.horizon != int(horizon):
            raise BrainError(f"slot {key} exists with horizon {slot.horizon}, not {horizon}")
        return slot

    def get_slot(self, key: str) -> SlotRecord | None:
        with self._read() as conn:
            row = conn.execute(select(slots).where(slots.c.key == key)).one_or_none()
        return None if row is None else _slot_record(row)

    def list_slots(self) -> list[SlotRecord]:
        with self._read() as conn:
            return [_slot_record(r) for r in conn.execute(select(slots).order_by(slots.c.key))]

    # ---- versions ----------------------------------------------------------------------

    def add_version(
        self,
        slot_key: str,
        *,
        model_kind: str,
        manifest: dict[str, Any],
        artifact: bytes,
        artifact_format: str,
        metrics: list[dict[str, Any]],
        data_start: datetime | None,
        data_end: datetime | None,
        actor: str = "system",
        companions: Sequence[tuple[bytes, str]] = (),
        out_of_sample: OutOfSampleRecord | None = None,
    ) -> VersionRecord:
        """Register a trained model: artifact, version row, metrics, out-of-sample predictions and
        audit, all or nothing. `companions` are (bytes, format) of further artifacts the version
        needs (its fitted preprocessing), stored by address in the same transaction; the manifest
        names them. `out_of_sample`: its walk-forward predictions (brain.oos_predictions)."""
        sha256 = hashlib.sha256(artifact).hexdigest()
        stored_manifest = {**manifest, "artifact_sha256": sha256}
        now = datetime.now(UTC)
        with self._write() as conn:
            for data, data_format in companions:
                conn.execute(
                    insert_on_conflict(conn, artifacts)
                    .values(
                        sha256=hashlib.sha256(data).hexdigest(),
                        format=data_format,
                        size=len(data),
                        data=data,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["sha256"])
                )
            # FOR UPDATE serialises concurrent writers of one slot on PostgreSQL so they can't
            # both pick the same next number; on SQLite BEGIN IMMEDIATE already did that.
            slot_id = conn.execute(
                select(slots.c.id).where(slots.c.key == slot_key).with_for_update()
            ).scalar()
            if slot_id is None:
                raise BrainError(f"unknown slot {slot_key!r}; create it with ensure_slot first")
            conn.execute(
                insert_on_conflict(conn, artifacts)
                .values(
                    sha256=sha256,
                    format=artifact_format,
                    size=len(artifact),
                    data=artifact,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["sha256"])
            )
            number = (
                1
                + conn.execute(
                    select(func.coalesce(func.max(model_versions.c.number), 0)).where(
                        model_versions.c.slot_id == slot_id
                    )
                ).scalar_one()
            )
            values = dict(
                number=number,
                model_kind=model_kind,
                status="trained",
                artifact_sha256=sha256,
                manifest=stored_manifest,
                data_start=data_start,
                data_end=data_end,
                created_at=now,
                notes=None,
            )
            version_id = inserted_id(conn.execute(
                insert(model_versions).values(slot_id=slot_id, **values)
            ))
            if metrics:
                conn.execute(insert(model_metrics), _metric_rows(version_id, metrics, now))
            if out_of_sample is not None:
                insert_oos_predictions(conn, version_id, out_of_sample)
            insert_audit(
                conn,
                "version.add",
                actor=actor,
                outcome="ok",
                target=f"{slot_key} v{number}",
                details={"model_kind": model_kind, "artifact_sha256": sha256},
            )
            # Read back so the record carries exactly what was stored (e.g. timestamp precision).
            row = conn.execute(select_versions().where(model_versions.c.id == version_id)).one()
        return version_record(row)

    def list_versions(self, slot_key: str) -> list[VersionRecord]:
        query = select_versions().where(slots.c.key == slot_key).order_by(model_versions.c.number)
        with self._read() as conn:
            return [version_record(row) for row in conn.execute(query)]

    def get_version(self, slot_key: str, number: int) -> VersionRecord:
        query = select_versions().where(slots.c.key == slot_key, model_versions.c.number == number)
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        if row is None:
            raise BrainError(f"slot {slot_key!r} has no version {number}")
        return version_record(row)

    def latest_version(self, slot_key: str) -> VersionRecord | None:
        query = (
            select_versions()
            .where(slots.c.key == slot_key)
            .order_by(model_versions.c.number.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else version_record(row)

    # ---- artifacts ---------------------------------------------------------------------

    def load_artifact(self, sha256: str) -> bytes:
        """The artifact's bytes, refused unless they still hash to their address."""
        with self._read() as conn:
            data = conn.execute(select(artifacts.c.data).where(artifacts.c.sha256 == sha256)).scalar()
        if data is None:
            raise BrainError(f"artifact {_short(sha256)} is not in the brain")
        data = bytes(data)  # PostgreSQL hands back a memoryview
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BrainError(f"artifact {_short(sha256)} failed its sha256 check (tampered or corrupt)")
        return data

    # ---- metrics -----------------------------------------------------------------------

    def record_metrics(self, version_id: int, rows: list[dict[str, Any]]) -> int:
        """Append metric rows (name, value, fold?, ts?, scope?) to a version; returns the count."""
        if not rows:
            return 0
        prepared = _metric_rows(version_id, rows, datetime.now(UTC))
        with self._write() as conn:
            if (
                conn.execute(select(model_versions.c.id).where(model_versions.c.id == version_id)).scalar()
                is None
            ):
                raise BrainError(f"no model version with id {version_id}")
            conn.execute(insert(model_metrics), prepared)
        return len(prepared)

    def version_metrics(self, version_id: int, *, scope: str | None = None) -> list[MetricRecord]:
        """All measurements of a version in the order they were recorded."""
        query = (
            select(
                model_metrics.c.version_id,
                model_metrics.c.name,
                model_metrics.c.value,
                model_metrics.c.fold,
                model_metrics.c.ts,
                model_metrics.c.scope,
            )
            .where(model_metrics.c.version_id == version_id)
            .order_by(model_metrics.c.ts, model_metrics.c.id)
        )
        if scope is not None:
            query = query.where(model_metrics.c.scope == scope)
        with self._read() as conn:
            return [MetricRecord(**row._mapping) for row in conn.execute(query)]

    # ---- overview ----------------------------------------------------------------------

    def status(self, slot_keys: Collection[str] | None = None) -> list[SlotStatus]:
        """One summary per slot (latest version, champion, their overall out-of-sample metrics),
        ordered by key, in four queries whatever the slot count; with `slot_keys`, those slots'
        only (what a console re-reads after overview_changes named them)."""
        chosen_rows, latest, champions, overall_metrics = _status_queries(slot_keys is not None)
        parameters = chosen(slot_keys)
        with self._read() as conn:
            slot_rows = conn.execute(chosen_rows, parameters).all()
            latest_by_slot = {row.slot_id: row for row in conn.execute(latest, parameters)}
            champion_by_slot = {row.slot_key: row for row in conn.execute(champions, parameters)}
            metrics_by_version: dict[int, dict[str, float | None]] = {}
            for row in conn.execute(overall_metrics, parameters):
                # Ordered by time, so a re-measured metric ends up with its newest value.
                metrics_by_version.setdefault(row.version_id, {})[row.name] = row.value
        summaries = []
        for slot in slot_rows:
            version = latest_by_slot.get(slot.id)
            champion = champion_by_slot.get(slot.key)
            summaries.append(SlotStatus(
                slot=slot.key, symbol=slot.symbol, timeframe=slot.timeframe, target=slot.target,
                horizon=slot.horizon,
                versions=version.versions if version else 0,
                latest_version=version.number if version else None,
                model_kind=version.model_kind if version else None,
                trained_at=version.created_at if version else None,
                metrics=metrics_by_version.get(version.id, {}) if version else {},
                champion=champion.number if champion else None,
                champion_kind=champion.model_kind if champion else None,
                champion_metrics=metrics_by_version.get(champion.version_id, {}) if champion else {},
            ))
        return summaries

    def overview_changes(self, since: ChangeMarks | tuple[()]) -> set[str] | None:
        """The slots whose status() and live rows may differ from when change_marks() returned
        `since`: those with a new version, a new metric row, a promotion or a new forecast since.
        None when only a whole read can tell (a slot was added, or `since` is no ChangeMarks).
        Drift and queue parts are not covered: they are cheap to read whole."""
        if not isinstance(since, ChangeMarks):
            return None
        versions_mark, metrics_mark = since.newest_version or 0, since.newest_metric or 0
        promotions_mark = since.newest_promotion or 0
        with self._read() as conn:
            if (conn.execute(select(func.max(slots.c.id))).scalar() or 0) != (since.newest_slot or 0):
                return None
            new_versions = (select(slots.c.key).join(model_versions, model_versions.c.slot_id == slots.c.id)
                            .where(model_versions.c.id > versions_mark))
            measured = (select(slots.c.key)
                        .join(model_versions, model_versions.c.slot_id == slots.c.id)
                        .join(model_metrics, model_metrics.c.version_id == model_versions.c.id)
                        .where(model_metrics.c.id > metrics_mark))
            promoted = select(promotions.c.slot_key).where(promotions.c.id > promotions_mark)
            forecast = select(predictions.c.slot_key).where(predictions.c.id > (since.newest_prediction or 0))
            return set(conn.execute(union(new_versions, measured, promoted, forecast)).scalars())

    def change_marks(self) -> ChangeMarks:
        """A cheap fingerprint of everything the per-slot overview reads (newest ids of slots,
        versions, metrics, promotions, drift checks and queue items, the newest queue decision and
        the open item count): equal marks, equal overview. Each part is an index lookup, so a console can ask
        every refresh and skip the overview's queries when nothing changed."""
        newest = [select(func.max(table.c.id)).scalar_subquery()
                  for table in (slots, model_versions, model_metrics, promotions, drift_results, queue_items)]
        decided = select(func.max(queue_items.c.decided_at)).scalar_subquery()
        still_open = (select(func.count()).select_from(queue_items)
                      .where(queue_items.c.state.in_(("pending", "approved"))).scalar_subquery())
        forecast = select(func.max(predictions.c.id)).scalar_subquery()
        with self._read() as conn:
            return ChangeMarks._make(conn.execute(select(*newest, decided, still_open, forecast)).one())


@cache
def _status_queries(only_chosen: bool):
    """status()'s four statements: slots, each slot's latest version, champions, and the overall
    out-of-sample metrics of both."""
    chosen_rows = select(slots).order_by(slots.c.key)
    per_slot = select(
        model_versions.c.slot_id,
        func.count().label("versions"),
        func.max(model_versions.c.number).label("latest_number"),
    ).group_by(model_versions.c.slot_id)
    if only_chosen:
        chosen_rows = chosen_rows.where(slots.c.key.in_(chosen_slots()))
        per_slot = per_slot.where(model_versions.c.slot_id.in_(chosen_rows.with_only_columns(slots.c.id)))
    counts = per_slot.subquery()
    latest = select(
        model_versions.c.id,
        model_versions.c.slot_id,
        model_versions.c.number,
        model_versions.c.model_kind,
        model_versions.c.created_at,
        counts.c.versions,
    ).join(
        counts,
        (counts.c.slot_id == model_versions.c.slot_id)
        & (counts.c.latest_number == model_versions.c.number),
    )
    latest_ids = latest.with_only_columns(model_versions.c.id)
    champions = champion_versions(only_chosen)
    champion_ids = select(champions.subquery().c.version_id)
    overall_metrics = (
        select(model_metrics.c.version_id, model_metrics.c.name, model_metrics.c.value)
        .where(
            model_metrics.c.version_id.in_(latest_ids.union(champion_ids).scalar_subquery()),
            model_metrics.c.fold.is_(None),
            model_metrics.c.scope == "oos",
        )
        .order_by(model_metrics.c.ts, model_metrics.c.id)
    )
    return chosen_rows, latest, champions, overall_metrics

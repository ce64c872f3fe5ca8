"""Champions, promotions and rollbacks: the promotion history answers "which version was live at T".

Every change of champion is one row in `promotions` (kind promote, rollback or auto_rollback),
written in the same transaction as its audit entry (and, for rollbacks, its `rollback_logs` row),
so the history, the rollback log and the audit log can never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from brain.audit import insert_audit
from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import PromotionRecord, RollbackRecord, VersionRecord
from brain.registry import champion_versions
from brain.rows import inserted_id
from brain.schema import model_comparisons, model_metrics, model_versions, promotions, rollback_logs, slots
from brain.versions import champion_row, select_versions, version_record

# The tests whose verdicts a promotion rests on: every test of the newest comparison run.
PASSING_VERDICT = "challenger_better"

_from_version = model_versions.alias("from_version")
_to_version = model_versions.alias("to_version")
_previous = model_versions.alias("previous_version")


def _require_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise BrainError(f"{what} needs a reason (it goes to the audit log)")
    return reason.strip()


def _version_in(conn: Connection, slot_key: str, number: int) -> VersionRecord:
    row = conn.execute(
        select_versions().where(slots.c.key == slot_key, model_versions.c.number == int(number))
    ).one_or_none()
    if row is None:
        raise BrainError(f"{slot_key} has no version {number}")
    return version_record(row)


def _lock_slot(conn: Connection, slot_key: str) -> None:
    """Serialise champion changes of one slot (SQLite's BEGIN IMMEDIATE already does)."""
    query = select(slots.c.id).where(slots.c.key == slot_key)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    if conn.execute(query).one_or_none() is None:
        raise BrainError(f"no slot {slot_key}")


def _version_by_id(conn: Connection, version_id: int) -> VersionRecord:
    return version_record(conn.execute(select_versions().where(model_versions.c.id == version_id)).one())


def _overall_metrics(conn: Connection, version_id: int) -> dict[str, float | None]:
    """A version's overall (not per-fold) out-of-sample metrics: the snapshot a promotion keeps."""
    rows = conn.execute(
        select(model_metrics.c.name, model_metrics.c.value).where(
            model_metrics.c.version_id == version_id, model_metrics.c.fold.is_(None),
            model_metrics.c.scope == "oos",
        )
    )
    return {name: value for name, value in rows}


def overall_verdict(verdicts: list[str]) -> str:
    """One word for a challenger's tests: the finding they agree on, 'mixed' when they disagree,
    'no_difference' when none found one. Only 'challenger_better' lets a promotion through."""
    found = {verdict for verdict in verdicts if verdict != "no_difference"}
    if not found:
        return "no_difference"
    return found.pop() if len(found) == 1 else "mixed"


def latest_verdict(conn: Connection, slot_key: str, champion: int, challenger: int) -> dict[str, Any] | None:
    """The newest comparison run of challenger against champion, summed up.

    It passes when at least one test finds the challenger better (after the correction) and none
    finds the champion better (overall_verdict: 'challenger_better').
    """
    newest = conn.execute(
        select(func.max(model_comparisons.c.ts)).where(
            model_comparisons.c.slot_key == slot_key,
            model_comparisons.c.champion_version == champion,
            model_comparisons.c.challenger_version == challenger,
        )
    ).scalar()
    if newest is None:
        return None
    rows = conn.execute(
        select(model_comparisons.c.test, model_comparisons.c.verdict, model_comparisons.c.p_adjusted).where(
            model_comparisons.c.slot_key == slot_key,
            model_comparisons.c.champion_version == champion,
            model_comparisons.c.challenger_version == challenger,
            model_comparisons.c.ts == newest,
        )
    ).all()
    verdicts = {test: verdict for test, verdict, _ in rows}
    overall = overall_verdict(list(verdicts.values()))
    return {"ts": newest, "verdict": overall, "passes": overall == PASSING_VERDICT, "tests": verdicts}


def _promotion_query():
    return (
        select(
            promotions.c.id, promotions.c.ts, promotions.c.slot_key,
            _to_version.c.number.label("version"), _previous.c.number.label("previous_version"),
            promotions.c.kind, promotions.c.forced, promotions.c.verdict, promotions.c.actor,
            promotions.c.origin, promotions.c.reason, promotions.c.metrics,
        )
        .join(_to_version, _to_version.c.id == promotions.c.version_id)
        .outerjoin(_previous, _previous.c.id == promotions.c.previous_version_id)
    )


def _promotion_record(row) -> PromotionRecord:
    values = dict(row._mapping)
    values["forced"] = bool(values["forced"])
    return PromotionRecord(**values)


def _rollback_query():
    return (
        select(
            rollback_logs.c.id, rollback_logs.c.ts, rollback_logs.c.slot_key,
            _from_version.c.number.label("from_version"), _to_version.c.number.label("to_version"),
            rollback_logs.c.automatic, rollback_logs.c.actor, rollback_logs.c.origin, rollback_logs.c.reason,
            rollback_logs.c.evidence,
        )
        .join(_from_version, _from_version.c.id == rollback_logs.c.from_version_id)
        .join(_to_version, _to_version.c.id == rollback_logs.c.to_version_id)
    )


def _rollback_record(row) -> RollbackRecord:
    values = dict(row._mapping)
    values["automatic"] = bool(values["automatic"])
    return RollbackRecord(**values)


class LifecycleMixin(BrainPart):
    # ---- reading ---------------------------------------------------------------------------

    def champion(self, slot_key: str, *, at: datetime | None = None) -> VersionRecord | None:
        """The version that was live at `at` (default: now); None before the first promotion."""
        with self._read() as conn:
            row = champion_row(conn, slot_key, at)
            return None if row is None else _version_by_id(conn, row.version_id)

    def champions(self) -> dict[str, int]:
        """Every slot's current champion version number, in one query (for the console's poll)."""
        with self._read() as conn:
            return {row.slot_key: row.number for row in conn.execute(champion_versions())}

    def promotion_history(self, slot_key: str, *, limit: int | None = None) -> list[PromotionRecord]:
        """Newest first."""
        query = (_promotion_query().where(promotions.c.slot_key == slot_key)
                 .order_by(promotions.c.ts.desc(), promotions.c.id.desc()))
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [_promotion_record(row) for row in conn.execute(query)]

    def get_promotion(self, promotion_id: int) -> PromotionRecord:
        with self._read() as conn:
            row = conn.execute(_promotion_query().where(promotions.c.id == promotion_id)).one_or_none()
        if row is None:
            raise BrainError(f"no promotion {promotion_id}")
        return _promotion_record(row)

    def list_rollbacks(self, slot_key: str | None = None, *, limit: int = 200) -> list[RollbackRecord]:
        """Newest first, of one slot or all."""
        query = _rollback_query().order_by(rollback_logs.c.ts.desc(), rollback_logs.c.id.desc()).limit(limit)
        if slot_key is not None:
            query = query.where(rollback_logs.c.slot_key == slot_key)
        with self._read() as conn:
            return [_rollback_record(row) for row in conn.execute(query)]

    def promotion_verdict(self, slot_key: str, challenger: int) -> dict[str, Any] | None:
        """The newest A/B verdict of `challenger` against the current champion (None if never compared)."""
        with self._read() as conn:
            current = champion_row(conn, slot_key, None)
            if current is None:
                return None
            return latest_verdict(conn, slot_key, _version_by_id(conn, current.version_id).number, challenger)

    # ---- changing the champion -----------------------------------------------------------------

    def promote_version(
        self,
        slot_key: str,
        number: int,
        *,
        actor: str,
        reason: str,
        origin: str | None = None,
        force: bool = False,
        at: datetime | None = None,
    ) -> PromotionRecord:
        """Make version `number` the slot's champion.

        Needs a passing A/B verdict against the current champion, or `force` (recorded as such).
        A slot's first champion needs none: there is nothing to compare it with.
        """
        reason = _require_reason(reason, "a promotion")
        now = at or datetime.now(UTC)
        with self._write() as conn:
            _lock_slot(conn, slot_key)
            version = _version_in(conn, slot_key, number)
            if version.status == "pruned":
                raise BrainError(f"{slot_key} v{number} is pruned; it cannot be promoted")
            current_row = champion_row(conn, slot_key, None)
            current = None if current_row is None else _version_by_id(conn, current_row.version_id)
            if current is not None and current.id == version.id:
                raise BrainError(f"{slot_key} v{number} is already the champion")
            verdict = None
            if current is None:
                verdict = "first_champion"
            else:
                summary = latest_verdict(conn, slot_key, current.number, version.number)
                verdict = None if summary is None else summary["verdict"]
                if not (summary and summary["passes"]) and not force:
                    found = "no comparison" if summary is None else f"latest verdict: {summary['verdict']}"
                    raise BrainError(
                        f"{slot_key} v{number} has no passing A/B verdict against champion "
                        f"v{current.number} ({found}); compare them first or force it with a reason"
                    )
            metrics = {f"v{version.number}": _overall_metrics(conn, version.id)}
            if current is not None:
                metrics[f"v{current.number}"] = _overall_metrics(conn, current.id)
            forced = bool(force and current is not None and verdict != PASSING_VERDICT)
            promotion_id = inserted_id(conn.execute(insert(promotions).values(
                ts=now, slot_key=slot_key, version_id=version.id,
                previous_version_id=None if current is None else current.id, kind="promote",
                forced=int(forced), verdict=verdict, actor=actor, origin=origin, reason=reason,
                metrics=metrics,
            )))
            insert_audit(
                conn, "promote", actor=actor, origin=origin, target=f"{slot_key} v{number}", reason=reason,
                outcome="forced" if forced else "ok",
                details={"previous": None if current is None else current.number,
                         "verdict": verdict, "forced": forced, "metrics": metrics},
            )
            row = conn.execute(_promotion_query().where(promotions.c.id == promotion_id)).one()
            return _promotion_record(row)

    def rollback(
        self,
        slot_key: str,
        *,
        actor: str,
        reason: str,
        to: int | None = None,
        origin: str | None = None,
        automatic: bool = False,
        evidence: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> RollbackRecord:
        """Put back the previous champion (or version `to`) in one step, logged with its evidence."""
        reason = _require_reason(reason, "a rollback")
        now = at or datetime.now(UTC)
        with self._write() as conn:
            _lock_slot(conn, slot_key)
            current_row = champion_row(conn, slot_key, None)
            if current_row is None:
                raise BrainError(f"{slot_key} has no champion to roll back")
            current = _version_by_id(conn, current_row.version_id)
            if to is not None:
                target = _version_in(conn, slot_key, to)
            elif current_row.previous_version_id is not None:
                target = _version_by_id(conn, current_row.previous_version_id)
            else:
                raise BrainError(f"{slot_key}: champion v{current.number} has no previous champion; name one")
            if target.id == current.id:
                raise BrainError(f"{slot_key} v{target.number} is already the champion")
            if target.status == "pruned":
                raise BrainError(f"{slot_key} v{target.number} is pruned; it cannot be put back")
            metrics = {f"v{current.number}": _overall_metrics(conn, current.id),
                       f"v{target.number}": _overall_metrics(conn, target.id)}
            evidence = {**(evidence or {}), "metrics": metrics}
            kind = "auto_rollback" if automatic else "rollback"
            conn.execute(insert(promotions).values(
                ts=now, slot_key=slot_key, version_id=target.id, previous_version_id=current.id, kind=kind,
                forced=0, verdict=None, actor=actor, origin=origin, reason=reason,
                metrics=metrics,
            ))
            rollback_id = inserted_id(conn.execute(insert(rollback_logs).values(
                ts=now, slot_key=slot_key, from_version_id=current.id, to_version_id=target.id,
                automatic=int(automatic), actor=actor, origin=origin, reason=reason, evidence=evidence,
            )))
            insert_audit(
                conn, kind, actor=actor, origin=origin, reason=reason, outcome="ok", details=evidence,
                target=f"{slot_key} v{current.number}→v{target.number}",
            )
            row = conn.execute(_rollback_query().where(rollback_logs.c.id == rollback_id)).one()
            return _rollback_record(row)

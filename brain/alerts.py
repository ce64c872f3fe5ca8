"""Alerts: changes of state the leader tells webhooks and commands of, and each sink's delivery.

An alert is written once per change: its dedupe key is unique, so two leaders that detect the same
change (in succession, or at once during a handover) store one row, and its deliveries (one per
sink that wants its kind) are written in the same transaction. The newest alert of a (kind,
subject) is the state last told; the detection (scheduler/services/alerts.py) compares the brain's
state with it. A delivery is claimed before it is attempted (the attempt count must still be the
one read), so one attempt is in flight at a time whoever delivers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from brain.errors import BrainError
from brain.part import BrainPart
from brain.schema import alert_deliveries, alerts
from brain.upsert import insert_on_conflict

DELIVERY_STATES = ("pending", "delivered", "undeliverable")


@dataclass(frozen=True)
class DeliveryRecord:
    """One alert's delivery to one sink."""

    id: int
    alert_id: int
    sink: str  # the sink's name in the config
    state: str  # pending | delivered | undeliverable
    attempts: int
    next_attempt_at: datetime  # when a pending delivery is tried next
    last_error: str | None
    delivered_at: datetime | None
    updated_at: datetime  # when an attempt last changed it


@dataclass(frozen=True)
class AlertRecord:
    """One change of state, the document sent for it, and its deliveries."""

    id: int
    kind: str  # drift, rollback, job_failed, feed_stale, leader_change
    subject: str  # the slot, job, feed or lease it is about
    condition: str  # the subject's state by this alert: on, resolved, failed, ended, failing, stale...
    dedupe_key: str
    message: str
    payload: dict[str, Any]
    created_at: datetime
    deliveries: tuple[DeliveryRecord, ...] = ()

    @property
    def state(self) -> str:
        """undeliverable if a sink never got it, pending while one may still, else delivered."""
        states = {delivery.state for delivery in self.deliveries}
        for state in ("undeliverable", "pending"):
            if state in states:
                return state
        return "delivered"


@dataclass(frozen=True)
class NewAlert:
    """What the detection found, before it is stored."""

    kind: str
    subject: str
    condition: str
    dedupe_key: str
    message: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class LastTold:
    """The newest alert of a (kind, subject): the state last told of it."""

    alert_id: int
    condition: str


@dataclass(frozen=True)
class AlertsSummary:
    """What a console shows of alerts: how many a sink never got, and the newest of those."""

    undeliverable: int = 0
    newest: tuple[AlertRecord, ...] = ()


def _delivery(row) -> DeliveryRecord:
    return DeliveryRecord(**row._mapping)


def _alert(row, deliveries: Sequence[DeliveryRecord] = ()) -> AlertRecord:
    return AlertRecord(**row._mapping, deliveries=tuple(deliveries))


class AlertsMixin(BrainPart):
    # ---- writing: the leader ------------------------------------------------------------------

    def record_alert(self, alert: NewAlert, sinks: Sequence[str], *,
                     at: datetime | None = None) -> int | None:
        """Store `alert` with a pending delivery per sink, in one transaction; returns its id, or
        None when its dedupe key is stored already (the change was told before)."""
        now = at or datetime.now(UTC)
        values = {"kind": alert.kind, "subject": alert.subject, "condition": alert.condition,
                  "dedupe_key": alert.dedupe_key, "message": alert.message,
                  "payload": dict(alert.payload), "created_at": now}
        with self._write() as conn:
            # RETURNING says whether the row was added on both backends (no id when it was not).
            alert_id = conn.execute(
                insert_on_conflict(conn, alerts).values(**values)
                .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(alerts.c.id)
            ).scalar_one_or_none()
            if alert_id is None:
                return None
            if sinks:
                conn.execute(insert(alert_deliveries), [
                    {"alert_id": alert_id, "sink": sink, "state": "pending", "attempts": 0,
                     "next_attempt_at": now, "updated_at": now} for sink in sinks])
        return int(alert_id)

    def claim_delivery(self, delivery_id: int, attempts: int, *, hold_until: datetime) -> bool:
        """Take a pending delivery for one attempt: true only for the one caller that still saw
        `attempts` attempts. Until `hold_until` (past the attempt's timeout) nobody else tries it;
        a deliverer that dies mid-attempt leaves it to be tried again then."""
        with self._write() as conn:
            result = conn.execute(
                update(alert_deliveries)
                .where(alert_deliveries.c.id == delivery_id, alert_deliveries.c.state == "pending",
                       alert_deliveries.c.attempts == attempts)
                .values(attempts=attempts + 1, next_attempt_at=hold_until, updated_at=datetime.now(UTC))
            )
            return result.rowcount == 1

    def delivery_done(self, delivery_id: int, *, at: datetime | None = None) -> None:
        now = at or datetime.now(UTC)
        with self._write() as conn:
            conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == delivery_id)
                         .values(state="delivered", delivered_at=now, updated_at=now))

    def delivery_failed(self, delivery_id: int, error: str, *, retry_at: datetime | None) -> None:
        """An attempt failed with `error`: tried again at `retry_at`, or, with None (the retries
        are spent), undeliverable for good, the error kept."""
        values: dict[str, Any] = {"last_error": error, "updated_at": datetime.now(UTC)}
        if retry_at is None:
            values["state"] = "undeliverable"
        else:
            values["next_attempt_at"] = retry_at
        with self._write() as conn:
            conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == delivery_id)
                         .values(**values))

    # ---- reading -------------------------------------------------------------------------------

    def last_told(self, kinds: Collection[str]) -> dict[tuple[str, str], LastTold]:
        """(kind, subject) -> the newest alert told of it, for the kinds given."""
        newest = (select(func.max(alerts.c.id).label("id"))
                  .where(alerts.c.kind.in_(list(kinds))).group_by(alerts.c.kind, alerts.c.subject)
                  .subquery())
        query = select(alerts.c.id, alerts.c.kind, alerts.c.subject, alerts.c.condition).join(
            newest, newest.c.id == alerts.c.id)
        with self._read() as conn:
            return {(row.kind, row.subject): LastTold(row.id, row.condition) for row in conn.execute(query)}

    def stored_dedupe_keys(self, keys: Collection[str]) -> set[str]:
        """Which of `keys` are stored already (a detection pass skips writing those)."""
        if not keys:
            return set()
        query = select(alerts.c.dedupe_key).where(alerts.c.dedupe_key.in_(list(keys)))
        with self._read() as conn:
            return set(conn.execute(query).scalars())

    def due_deliveries(self, *, now: datetime | None = None,
                       limit: int = 50) -> list[tuple[DeliveryRecord, AlertRecord]]:
        """Pending deliveries whose next attempt is due, oldest first, each with its alert."""
        query = (select(alert_deliveries)
                 .where(alert_deliveries.c.state == "pending",
                        alert_deliveries.c.next_attempt_at <= (now or datetime.now(UTC)))
                 .order_by(alert_deliveries.c.next_attempt_at, alert_deliveries.c.id).limit(limit))
        with self._read() as conn:
            due = [_delivery(row) for row in conn.execute(query)]
            ids = sorted({delivery.alert_id for delivery in due})
            by_id = {row.id: _alert(row) for row in conn.execute(select(alerts).where(alerts.c.id.in_(ids)))}
        return [(delivery, by_id[delivery.alert_id]) for delivery in due]

    def list_alerts(self, *, undeliverable: bool = False, limit: int = 100) -> list[AlertRecord]:
        """Newest first, each with its deliveries; `undeliverable`: only alerts a sink never got."""
        if limit < 1:
            raise BrainError(f"limit must be >= 1, got {limit}")
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if undeliverable:
            query = query.where(alerts.c.id.in_(_undeliverable_ids()))
        with self._read() as conn:
            rows = list(conn.execute(query))
            deliveries: dict[int, list[DeliveryRecord]] = {}
            if rows:
                for row in conn.execute(select(alert_deliveries)
                                        .where(alert_deliveries.c.alert_id.in_([r.id for r in rows]))
                                        .order_by(alert_deliveries.c.id)):
                    deliveries.setdefault(row.alert_id, []).append(_delivery(row))
        return [_alert(row, deliveries.get(row.id, ())) for row in rows]

    def alerts_summary(self, *, newest: int = 3) -> AlertsSummary:
        """The count of undeliverable alerts and the newest `newest` of them (a console's poll:
        one count, and a short list read only when the count is not zero)."""
        with self._read() as conn:
            counted = select(func.count()).select_from(_undeliverable_ids().subquery())
            count = conn.execute(counted).scalar_one()
        if not count:
            return AlertsSummary()
        return AlertsSummary(int(count), tuple(self.list_alerts(undeliverable=True, limit=newest)))


def _undeliverable_ids():
    return (select(alert_deliveries.c.alert_id).where(alert_deliveries.c.state == "undeliverable")
            .distinct())


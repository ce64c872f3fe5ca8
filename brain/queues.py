"""The retrain and prune queues: policies put items in (with the rule and the evidence), operators
approve or reject them. Approving an item and carrying it out (the train job queued, the version
pruned) is one transaction: a refusal (the slot is already training, the version is the
champion) changes nothing, and the item stays pending, to approve later or reject. An item left
'approved' with nothing carried out (by an older Huracan) can still be decided.

A rule's cooldown is enforced here, in the same transaction as the insert, so one bad hour
cannot put a slot in the queue ten times whichever process evaluates the policy.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from brain.audit import insert_audit
from brain.errors import BrainError
from brain.jobs import insert_job
from brain.part import BrainPart
from brain.records import ACTIVE_JOB_STATES, QueueItemRecord
from brain.rows import inserted_id
from brain.schema import jobs, model_versions, queue_items, slots
from brain.versions import champion_row, select_versions

QUEUES = ("retrain", "prune")
OPEN_STATES = ("pending", "approved")
_version = model_versions.alias("queued_version")


def _select_items():
    return select(
        queue_items.c.id, queue_items.c.queue, queue_items.c.slot_key, _version.c.number.label("version"),
        queue_items.c.rule, queue_items.c.reason, queue_items.c.evidence, queue_items.c.state,
        queue_items.c.created_at, queue_items.c.decided_at, queue_items.c.decided_by,
        queue_items.c.decision_reason, queue_items.c.job_id,
    ).outerjoin(_version, _version.c.id == queue_items.c.version_id)


def _item(conn, item_id: int) -> QueueItemRecord:
    row = conn.execute(_select_items().where(queue_items.c.id == item_id)).one_or_none()
    if row is None:
        raise BrainError(f"no queue item {item_id}")
    return QueueItemRecord(**row._mapping)


def _decidable(conn, item_id: int, queue: str | None = None) -> QueueItemRecord:
    """The item, if an operator can still decide it: pending, or approved with nothing carried
    out (no job), which an older Huracan left behind when carrying it out was refused."""
    item = _item(conn, item_id)
    if queue is not None and item.queue != queue:
        raise BrainError(f"queue item {item_id} is a {item.queue} item, not a {queue} item")
    if not (item.state == "pending" or (item.state == "approved" and item.job_id is None)):
        raise BrainError(f"queue item {item_id} is {item.state}, not pending")
    return item


def _decision_reason(reason: str) -> str:
    if not reason or not reason.strip():
        raise BrainError("approving or rejecting a queue item needs a reason (it goes to the audit log)")
    return reason.strip()


def _decide(conn, item: QueueItemRecord, *, state: str, actor: str, reason: str, origin: str | None,
            job_id: int | None = None) -> None:
    """Close (or approve) an item as it was read, audited alongside; a concurrent decision wins."""
    changed = conn.execute(
        update(queue_items).where(queue_items.c.id == item.id, queue_items.c.state == item.state)
        .values(state=state, decided_at=datetime.now(UTC), decided_by=actor, decision_reason=reason,
                job_id=job_id)
    ).rowcount
    if not changed:
        raise BrainError(f"queue item {item.id} was decided meanwhile; it is no longer {item.state}")
    what = f"{item.slot_key}" + (f" v{item.version}" if item.version is not None else "")
    insert_audit(conn, f"queue.{'reject' if state == 'rejected' else 'approve'}", actor=actor, origin=origin,
                 target=f"{item.queue} #{item.id} {what}", reason=reason, outcome="ok",
                 details={"rule": item.rule, "item_reason": item.reason})


def _training_job(conn, slot_key: str) -> int | None:
    """The train job queued or running for a slot, if any (the slot row locked, on PostgreSQL, so
    two approvals for one slot cannot both find none)."""
    conn.execute(select(slots.c.key).where(slots.c.key == slot_key).with_for_update())
    return conn.execute(
        select(jobs.c.id).where(jobs.c.slot_key == slot_key, jobs.c.kind == "train",
                                jobs.c.state.in_(ACTIVE_JOB_STATES))
        .order_by(jobs.c.id).limit(1)
    ).scalar()


def _prune(conn, slot_key: str, number: int, *, actor: str, reason: str, origin: str | None,
           item_id: int | None) -> None:
    row = conn.execute(select_versions().where(
        slots.c.key == slot_key, model_versions.c.number == int(number))).one_or_none()
    if row is None:
        raise BrainError(f"{slot_key} has no version {number}")
    champion = champion_row(conn, slot_key, None)
    if champion is not None and champion.version_id == row.id:
        raise BrainError(f"{slot_key} v{number} is the champion; roll back or promote another first")
    if row.status == "pruned":
        raise BrainError(f"{slot_key} v{number} is already pruned")
    conn.execute(update(model_versions).where(model_versions.c.id == row.id).values(status="pruned"))
    if item_id is not None:
        conn.execute(update(queue_items).where(queue_items.c.id == item_id).values(state="done"))
    insert_audit(conn, "prune", actor=actor, origin=origin, target=f"{slot_key} v{number}",
                 reason=reason, outcome="ok", details={"queue_item": item_id})


class QueuesMixin(BrainPart):
    def enqueue(
        self,
        queue: str,
        slot_key: str,
        *,
        rule: str,
        reason: str,
        evidence: dict[str, Any] | None = None,
        version: int | None = None,
        cooldown: timedelta | None = None,
        now: datetime | None = None,
    ) -> QueueItemRecord | None:
        """Add an item unless the same one is already open, or the rule fired for this slot (and
        version) within its cooldown; returns the new item, or None when nothing was added."""
        if queue not in QUEUES:
            raise BrainError(f"unknown queue {queue!r}; known: {', '.join(QUEUES)}")
        if queue == "prune" and version is None:
            raise BrainError("a prune queue item names the version to prune")
        now = now or datetime.now(UTC)
        with self._write() as conn:
            version_id = None
            if version is not None:
                row = conn.execute(select_versions().where(
                    slots.c.key == slot_key, model_versions.c.number == int(version))).one_or_none()
                if row is None:
                    raise BrainError(f"{slot_key} has no version {version}")
                version_id = row.id
            same = select(queue_items.c.id).where(
                queue_items.c.queue == queue, queue_items.c.slot_key == slot_key,
                (queue_items.c.version_id.is_(None) if version_id is None
                 else queue_items.c.version_id == version_id),
            )
            if conn.execute(same.where(queue_items.c.state.in_(OPEN_STATES)).limit(1)).first() is not None:
                return None
            if cooldown is not None:
                recent = same.where(queue_items.c.rule == rule, queue_items.c.created_at > now - cooldown)
                if conn.execute(recent.limit(1)).first() is not None:
                    return None
            item_id = inserted_id(conn.execute(insert(queue_items).values(
                queue=queue, slot_key=slot_key, version_id=version_id, rule=rule, reason=reason,
                evidence=evidence, state="pending", created_at=now,
            )))
            return _item(conn, item_id)

    def list_queue(
        self, queue: str | None = None, *, states: list[str] | None = None, slot_key: str | None = None,
        limit: int = 200,
    ) -> list[QueueItemRecord]:
        """Newest first."""
        newest_first = (queue_items.c.created_at.desc(), queue_items.c.id.desc())
        query = _select_items().order_by(*newest_first).limit(limit)
        if queue is not None:
            query = query.where(queue_items.c.queue == queue)
        if states:
            query = query.where(queue_items.c.state.in_(states))
        if slot_key is not None:
            query = query.where(queue_items.c.slot_key == slot_key)
        with self._read() as conn:
            return [QueueItemRecord(**row._mapping) for row in conn.execute(query)]

    def get_queue_item(self, item_id: int) -> QueueItemRecord:
        with self._read() as conn:
            return _item(conn, item_id)

    def decide_queue_item(
        self, item_id: int, *, approve: bool, actor: str, reason: str, origin: str | None = None,
    ) -> QueueItemRecord:
        """Approve or reject an item; audited in the same transaction. An approval made here leaves
        the item 'approved' for the caller to carry out (`finish_queue_item`); operators approve
        through approve_retrain_item / approve_prune_item, which carry it out in the same transaction."""
        reason = _decision_reason(reason)
        with self._write() as conn:
            item = _decidable(conn, item_id)
            if approve and item.state != "pending":
                raise BrainError(f"queue item {item_id} is {item.state}, not pending")
            _decide(conn, item, state="approved" if approve else "rejected", actor=actor, reason=reason,
                    origin=origin)
            return _item(conn, item_id)

    def approve_retrain_item(
        self, item_id: int, *, params: dict[str, Any], device: str, actor: str, reason: str,
        origin: str | None = None, details: dict[str, Any] | None = None,
    ) -> QueueItemRecord:
        """Approve a retrain item, queue its train job and mark the item done, in one transaction
        (audited as the approval and the retrain). Refused, changing nothing, while the slot already
        has a train job queued or running: the item stays pending."""
        reason = _decision_reason(reason)
        with self._write() as conn:
            item = _decidable(conn, item_id, "retrain")
            busy = _training_job(conn, item.slot_key)
            if busy is not None:
                raise BrainError(f"{item.slot_key} is already being trained by job {busy}; "
                                 f"queue item {item_id} stays pending")
            job_id = insert_job(conn, "train", item.slot_key, params, device, "queued")
            _decide(conn, item, state="done", actor=actor, reason=reason, origin=origin, job_id=job_id)
            insert_audit(conn, "retrain", actor=actor, origin=origin, target=item.slot_key, reason=reason,
                         outcome="ok", details={"job": job_id, **(details or {})})
            return _item(conn, item_id)

    def approve_prune_item(
        self, item_id: int, *, actor: str, reason: str, origin: str | None = None,
    ) -> QueueItemRecord:
        """Approve a prune item, prune its version and mark the item done, in one transaction.
        Refused, changing nothing, when the version is the champion or already pruned."""
        reason = _decision_reason(reason)
        with self._write() as conn:
            item = _decidable(conn, item_id, "prune")
            if item.version is None:  # a prune item always names its version
                raise BrainError(f"queue item {item_id} names no version to prune")
            _decide(conn, item, state="done", actor=actor, reason=reason, origin=origin)
            _prune(conn, item.slot_key, item.version, actor=actor, reason=reason, origin=origin,
                   item_id=item_id)
            return _item(conn, item_id)

    def finish_queue_item(self, item_id: int, *, job_id: int | None = None) -> bool:
        """Mark an approved item carried out (with the job that does it, for retrains)."""
        with self._write() as conn:
            return bool(conn.execute(
                update(queue_items).where(queue_items.c.id == item_id, queue_items.c.state == "approved")
                .values(state="done", job_id=job_id)
            ).rowcount)

    def prune_version(
        self, slot_key: str, number: int, *, actor: str, reason: str, origin: str | None = None,
        item_id: int | None = None,
    ) -> None:
        """Retire a version: it stays in the history (its manifest and metrics are kept) but can no
        longer be promoted. The champion cannot be pruned."""
        if not reason or not reason.strip():
            raise BrainError("pruning needs a reason (it goes to the audit log)")
        with self._write() as conn:
            _prune(conn, slot_key, number, actor=actor, reason=reason.strip(), origin=origin, item_id=item_id)

    def open_queue_counts(self, slot_keys: Collection[str] | None = None) -> dict[str, dict[str, int]]:
        """Per slot (of `slot_keys`, or every one), how many items wait in each queue (pending or
        approved)."""
        scope = [queue_items.c.state.in_(OPEN_STATES)]
        if slot_keys is not None:
            scope.append(queue_items.c.slot_key.in_(list(slot_keys)))
        query = (
            select(queue_items.c.slot_key, queue_items.c.queue, func.count().label("items"))
            .where(*scope)
            .group_by(queue_items.c.slot_key, queue_items.c.queue)
        )
        counts: dict[str, dict[str, int]] = {}
        with self._read() as conn:
            for row in conn.execute(query):
                counts.setdefault(row.slot_key, {})[row.queue] = row.items
        return counts

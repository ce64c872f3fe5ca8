"""Operator requests as rows in `operator_requests`: a console or the CLI records what its
operator asked for; the leader (or, with no leader alive, the asking process itself) claims the
row, checks role and state again, carries it out and records the outcome, which the asker then
shows. A request whose handler died after claiming it is failed by the leader's reaper
(`interrupt_request`), never run again: its effect may have committed before the handler died."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from brain.audit import insert_audit
from brain.column_types import clean_json
from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import RequestRecord
from brain.rows import inserted_id
from brain.schema import operator_requests

FINAL_STATES = ("done", "failed", "refused")


def _record(row) -> RequestRecord:
    return RequestRecord(**row._mapping)


class RequestsMixin(BrainPart):
    def submit_request(
        self, action: str, args: dict[str, Any], *, actor: str, role: str, origin: str | None = None,
    ) -> RequestRecord:
        if not action:
            raise BrainError("an operator request needs an action")
        values = dict(ts=datetime.now(UTC), actor=actor, origin=origin, role=role, action=action,
                      args=clean_json(args) or {}, state="pending")
        with self._write() as conn:
            request_id = inserted_id(conn.execute(insert(operator_requests).values(**values)))
            return _record(conn.execute(
                select(operator_requests).where(operator_requests.c.id == request_id)).one())

    def claim_request(self, request_id: int, *, handler: str) -> RequestRecord | None:
        """Take a pending request to carry it out; None if someone else already took it."""
        with self._write() as conn:
            taken = conn.execute(
                update(operator_requests)
                .where(operator_requests.c.id == request_id, operator_requests.c.state == "pending")
                .values(state="running", handled_by=handler, handled_at=datetime.now(UTC))
            ).rowcount
            if not taken:
                return None
            return _record(conn.execute(
                select(operator_requests).where(operator_requests.c.id == request_id)).one())

    def pending_requests(self, *, limit: int = 50) -> list[RequestRecord]:
        """Oldest first: requests are carried out in the order they were asked for."""
        query = (select(operator_requests).where(operator_requests.c.state == "pending")
                 .order_by(operator_requests.c.ts, operator_requests.c.id).limit(limit))
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def running_requests(self, *, limit: int = 100) -> list[RequestRecord]:
        """Requests claimed and not finished: oldest claim first (what the reaper looks at)."""
        query = (select(operator_requests).where(operator_requests.c.state == "running")
                 .order_by(operator_requests.c.handled_at, operator_requests.c.id).limit(limit))
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def interrupt_request(
        self, request_id: int, *, outcome: str, audit_action: str, target: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> bool:
        """A running request whose handler is gone: failed with `outcome`, audited in the same
        transaction. False if it is no longer running (its handler finished it, or another reaper
        was first)."""
        with self._write() as conn:
            request = conn.execute(select(operator_requests).where(
                operator_requests.c.id == request_id)).one_or_none()
            if request is None:
                raise BrainError(f"no operator request {request_id}")
            taken = conn.execute(
                update(operator_requests)
                .where(operator_requests.c.id == request_id, operator_requests.c.state == "running")
                .values(state="failed", outcome=outcome, handled_at=datetime.now(UTC))
            ).rowcount
            if taken:
                insert_audit(conn, audit_action, actor=request.actor, origin=request.origin, target=target,
                             reason=(request.args or {}).get("reason"), outcome=f"failed: {outcome}",
                             details={"request": request_id, "executed_by": request.handled_by,
                                      **(details or {})})
            return bool(taken)

    def finish_request(
        self, request_id: int, *, state: str, outcome: str, result: dict[str, Any] | None = None,
    ) -> None:
        if state not in FINAL_STATES:
            raise BrainError(f"a finished request is one of {', '.join(FINAL_STATES)}, not {state!r}")
        with self._write() as conn:
            conn.execute(
                update(operator_requests).where(operator_requests.c.id == request_id)
                .values(state=state, outcome=outcome, result=clean_json(result),
                        handled_at=datetime.now(UTC))
            )

    def get_request(self, request_id: int) -> RequestRecord:
        with self._read() as conn:
            row = conn.execute(
                select(operator_requests).where(operator_requests.c.id == request_id)).one_or_none()
        if row is None:
            raise BrainError(f"no operator request {request_id}")
        return _record(row)

    def list_requests(self, *, limit: int = 100, since_id: int | None = None) -> list[RequestRecord]:
        """Newest first; `since_id` keeps those after it (what a console has not seen yet)."""
        query = select(operator_requests).order_by(operator_requests.c.id.desc()).limit(limit)
        if since_id is not None:
            query = query.where(operator_requests.c.id > since_id)
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

"""Console actions as rows in `commands`: a console records what its operator asked for; the
leader (or, with no leader alive, the console's own embedded executor) claims the row, checks
role and state again, carries it out and records the outcome, which the console then shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update

from brain.errors import BrainError
from brain.monitoring import _clean_json
from brain.records import CommandRecord
from brain.schema import commands

FINAL_STATES = ("done", "failed", "refused")


def _record(row) -> CommandRecord:
    return CommandRecord(**row._mapping)


class CommandsMixin:
    def submit_command(
        self, action: str, args: dict[str, Any], *, actor: str, role: str, origin: str | None = None,
    ) -> CommandRecord:
        if not action:
            raise BrainError("a command needs an action")
        values = dict(ts=datetime.now(UTC), actor=actor, origin=origin, role=role, action=action,
                      args=_clean_json(args) or {}, state="pending")
        with self._write() as conn:
            command_id = conn.execute(insert(commands).values(**values)).inserted_primary_key[0]
            return _record(conn.execute(select(commands).where(commands.c.id == command_id)).one())

    def claim_command(self, command_id: int, *, handler: str) -> CommandRecord | None:
        """Take a pending command for execution; None if someone else already took it."""
        with self._write() as conn:
            taken = conn.execute(
                update(commands).where(commands.c.id == command_id, commands.c.state == "pending")
                .values(state="running", handled_by=handler, handled_at=datetime.now(UTC))
            ).rowcount
            if not taken:
                return None
            return _record(conn.execute(select(commands).where(commands.c.id == command_id)).one())

    def pending_commands(self, *, limit: int = 50) -> list[CommandRecord]:
        """Oldest first: commands are carried out in the order they were asked for."""
        query = (select(commands).where(commands.c.state == "pending")
                 .order_by(commands.c.ts, commands.c.id).limit(limit))
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

    def finish_command(
        self, command_id: int, *, state: str, outcome: str, result: dict[str, Any] | None = None,
    ) -> None:
        if state not in FINAL_STATES:
            raise BrainError(f"a finished command is one of {', '.join(FINAL_STATES)}, not {state!r}")
        with self._write() as conn:
            conn.execute(
                update(commands).where(commands.c.id == command_id)
                .values(state=state, outcome=outcome, result=_clean_json(result),
                        handled_at=datetime.now(UTC))
            )

    def get_command(self, command_id: int) -> CommandRecord:
        with self._read() as conn:
            row = conn.execute(select(commands).where(commands.c.id == command_id)).one_or_none()
        if row is None:
            raise BrainError(f"no command {command_id}")
        return _record(row)

    def list_commands(self, *, limit: int = 100, since_id: int | None = None) -> list[CommandRecord]:
        """Newest first; `since_id` keeps those after it (what a console has not seen yet)."""
        query = select(commands).order_by(commands.c.id.desc()).limit(limit)
        if since_id is not None:
            query = query.where(commands.c.id > since_id)
        with self._read() as conn:
            return [_record(row) for row in conn.execute(query)]

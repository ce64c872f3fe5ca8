"""What the lifecycle commands (promote, rollback, queue approve/reject, prune) share: they take
the console's path. The action is recorded in the brain's `commands` table as the OS user (with
the SSH origin) and the role the config gives them, then carried out here and now by the same
executor the leader runs (scheduler.services.requests), which checks the role again and audits it. So a
viewer is refused by the CLI as by the console, and every attempt lands in the audit log."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime

from huracan_tui.cli.output import CommandError


def require_reason(reason: str | None, what: str) -> str:
    """Checked before anything is written: a missing reason is bad input, not a failed action."""
    if reason is None or not reason.strip():
        raise CommandError(f"{what} needs --reason TEXT (it goes to the audit log)")
    return reason.strip()


def require_slot(brain, slot_key: str) -> None:
    if brain.get_slot(slot_key) is None:
        known = ", ".join(slot.key for slot in brain.list_slots()) or "none yet"
        raise CommandError(f"no slot {slot_key} (slots: {known})")


def require_version(brain, slot_key: str, number: int) -> None:
    require_slot(brain, slot_key)
    if number not in {version.number for version in brain.list_versions(slot_key)}:
        raise CommandError(f"{slot_key} has no version {number}")


def parse_utc(text: str, option: str) -> datetime:
    """ISO-8601; a time without an offset is taken as UTC, one with an offset is converted."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(f"{option}: not an ISO-8601 time: {text!r} (e.g. 2026-01-05T12:00:00Z)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def carry_out(brain, brain_url: str, config, action: str, arguments: dict):
    """Record the action as a command, execute it in this process, and return the finished
    command; a refused or failed one becomes the CLI's one-line error (exit 1)."""
    from brain import BrainError
    from brain.identity import current_actor
    from scheduler.services.requests import CommandContext, execute_command

    actor, origin = current_actor()
    command = brain.submit_command(action, arguments, actor=actor, origin=origin,
                                   role=config.roles.role_of(actor))
    context = CommandContext(brain, config, handler=f"cli {socket.gethostname()}:{os.getpid()}",
                             start_job=_job_starter(brain, brain_url))
    finished = execute_command(context, command)
    if finished.state != "done":
        raise BrainError(f"{action} {finished.state}: {finished.outcome}")
    return finished


def _job_starter(brain, brain_url: str):
    """A retrain approved here needs a worker: the leader's dispatch loop starts queued jobs when
    one is alive; otherwise this process starts it (the worker outlives the CLI)."""
    if brain.current_leader() is not None:
        return None
    from scheduler.services.worker_process import start_worker

    return lambda job_id: start_worker(brain_url, job_id)


def command_document(finished) -> dict:
    return {"command": finished.id, "action": finished.action, "state": finished.state,
            "outcome": finished.outcome, "result": finished.result, "actor": finished.actor,
            "origin": finished.origin, "args": finished.args}

"""What the lifecycle commands (promote, rollback, queue approve/reject, prune) share: they take
the console's path. The action is recorded as an operator request (the brain's
`operator_requests`) as the OS user (with the SSH origin) and their role (the brain's, which the
config can only lower: scheduler.services.roles),
then carried out by the same executor the leader runs (scheduler.services.requests): by the
leader when one is alive, else here and now. It checks the role again and audits it, so a viewer
is refused by the CLI as by the console, and every attempt lands in the audit log."""

from __future__ import annotations

import os
import socket

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


def carry_out(brain, brain_url: str, config, action: str, arguments: dict):
    """Record the action as an operator request and see it through (a live leader carries it out,
    else this process does), and return the finished request; a refused or failed one, or one
    still unfinished when the wait is over, becomes the CLI's one-line error (exit 1)."""
    from brain import BrainError
    from brain.identity import current_actor
    from scheduler.services.requests import REQUEST_WAIT_SECONDS, submit_request
    from scheduler.services.roles import effective_role, require_operator
    from scheduler.services.worker_process import start_worker

    actor, origin = current_actor()
    if brain.read_only:  # a request could not even be recorded: refused here, in one line
        require_operator(brain, config, actor, action, origin=origin)
    # A job it queues needs a worker only when this process carries it out: with no leader alive.
    finished = submit_request(brain, config, action, arguments, actor=actor, origin=origin,
                              role=effective_role(brain, config, actor),
                              handler=f"cli {socket.gethostname()}:{os.getpid()}",
                              start_job=lambda job_id: start_worker(brain_url, job_id))
    if finished.state in ("pending", "running"):
        raise BrainError(f"{action} {finished.state}: handed to {finished.handled_by or 'the leader'}, "
                         f"no outcome within {REQUEST_WAIT_SECONDS:g}s (request {finished.id})")
    if finished.state != "done":
        raise BrainError(f"{action} {finished.state}: {finished.outcome}")
    return finished


def request_document(finished) -> dict:
    """The CLI's JSON of a request: "request" is its id, and so is "command" (the older key)."""
    return {"command": finished.id, "request": finished.id, "action": finished.action,
            "state": finished.state, "outcome": finished.outcome, "result": finished.result,
            "actor": finished.actor, "origin": finished.origin, "args": finished.args}

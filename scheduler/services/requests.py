"""Carrying out console commands: the leader's side of the `commands` table.

A console records what its operator asked for; whoever executes it (the headless leader, or the
console's embedded executor when no leader is alive) claims the row, checks the role again
against its own config (a viewer's command is refused, whatever the console let through), runs
the handler, and records the outcome in the row and in the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from brain import Brain, BrainError
from brain.records import CommandRecord
from scheduler.config import HuracanConfig

log = logging.getLogger("huracan.commands")


class CommandRefused(Exception):
    """The command cannot be carried out as asked (bad arguments, wrong state): one line why."""


@dataclass
class CommandContext:
    brain: Brain
    config: HuracanConfig
    handler: str  # who executes: "leader host:pid" or "console host:pid"
    # Starts a worker for a queued job; None where a dispatch loop picks queued jobs up anyway.
    start_job: Callable[[int], None] | None = None


Outcome = tuple[str, dict]  # a one-line outcome for the operator, and a small result record
Handler = Callable[[CommandContext, CommandRecord], Outcome]
HANDLERS: dict[str, Handler] = {}


def handles(action: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[action] = handler
        return handler

    return register


def _arg(command: CommandRecord, name: str, kind=str):
    value = command.args.get(name)
    if value is None or value == "":
        raise CommandRefused(f"{command.action} needs {name}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise CommandRefused(f"{command.action}: {name} must be {kind.__name__}, not {value!r}") from None


def _reason(command: CommandRecord) -> str:
    reason = (command.args.get("reason") or "").strip()
    if not reason:
        raise CommandRefused(f"{command.action} needs a reason (it goes to the audit log)")
    return reason


def role_of(config: HuracanConfig, command: CommandRecord) -> str:
    """The executor's own view of the actor's role; a console that ran read-only stays a viewer."""
    return "viewer" if command.role == "viewer" else config.roles.role_of(command.actor)


def execute_command(ctx: CommandContext, command: CommandRecord) -> CommandRecord:
    """Claim and carry out one command; returns it as finished (or as someone else left it)."""
    brain = ctx.brain
    claimed = brain.claim_command(command.id, handler=ctx.handler)
    if claimed is None:
        return brain.get_command(command.id)
    target = command.args.get("target") or command.args.get("slot")
    handler = HANDLERS.get(command.action)
    if handler is None:
        state, outcome, result = "failed", f"unknown command {command.action!r}", None
    elif role_of(ctx.config, command) != "operator":
        state, outcome, result = "refused", f"{command.actor} is a viewer: {command.action} not allowed", None
    else:
        try:
            outcome, result = handler(ctx, claimed)
            state = "done"
        except (CommandRefused, BrainError) as error:
            state, outcome, result = "failed", str(error), None
    if state != "done":  # successes are audited by the operation itself, in its own transaction
        brain.audit(command.action, actor=command.actor, origin=command.origin, target=target,
                    reason=command.args.get("reason"), outcome=f"{state}: {outcome}",
                    details={"command": command.id, "executed_by": ctx.handler})
    brain.finish_command(command.id, state=state, outcome=outcome, result=result)
    log.info("command %s %s by %s: %s (%s)", command.id, command.action, command.actor, state, outcome)
    return brain.get_command(command.id)


def execute_pending(ctx: CommandContext) -> int:
    """The leader's tick: every pending command, oldest first; returns how many it handled."""
    pending = ctx.brain.pending_commands()
    for command in pending:
        execute_command(ctx, command)
    return len(pending)


# ---- the handlers --------------------------------------------------------------------------------


@handles("promote")
def _promote(ctx: CommandContext, command: CommandRecord) -> Outcome:
    slot, version = _arg(command, "slot"), _arg(command, "version", int)
    promotion = ctx.brain.promote_version(
        slot, version, actor=command.actor, origin=command.origin, reason=_reason(command),
        force=bool(command.args.get("force")),
    )
    forced = " (forced)" if promotion.forced else ""
    return f"{slot}: v{version} is the champion{forced}", {"promotion": promotion.id}


@handles("rollback")
def _rollback(ctx: CommandContext, command: CommandRecord) -> Outcome:
    slot = _arg(command, "slot")
    to = command.args.get("to")
    record = ctx.brain.rollback(slot, actor=command.actor, origin=command.origin, reason=_reason(command),
                                to=None if to is None else int(to))
    return f"{slot}: rolled back v{record.from_version} → v{record.to_version}", {"rollback": record.id}


@handles("queue.approve")
@handles("queue.reject")
def _decide(ctx: CommandContext, command: CommandRecord) -> Outcome:
    item_id = _arg(command, "item", int)
    approve = command.action == "queue.approve"
    item = ctx.brain.decide_queue_item(item_id, approve=approve, actor=command.actor, origin=command.origin,
                                       reason=_reason(command))
    result = {"item": item.id, "state": item.state}
    if approve and item.queue == "prune":
        ctx.brain.prune_version(item.slot_key, item.version, actor=command.actor, origin=command.origin,
                                reason=_reason(command), item_id=item.id)
        return f"{item.slot_key} v{item.version} pruned", {**result, "state": "done"}
    if approve and item.queue == "retrain":
        job_id = _queue_train_job(ctx, command, item.slot_key, {})
        ctx.brain.finish_queue_item(item.id, job_id=job_id)
        return f"{item.slot_key}: retrain queued as job {job_id}", {**result, "state": "done", "job": job_id}
    return f"queue item {item.id} {item.state}", result


@handles("prune")
def _prune(ctx: CommandContext, command: CommandRecord) -> Outcome:
    slot, version = _arg(command, "slot"), _arg(command, "version", int)
    ctx.brain.prune_version(slot, version, actor=command.actor, origin=command.origin,
                            reason=_reason(command))
    return f"{slot} v{version} pruned", {"slot": slot, "version": version}


@handles("cancel_job")
def _cancel(ctx: CommandContext, command: CommandRecord) -> Outcome:
    job_id = _arg(command, "job", int)
    reason = _reason(command)
    if not ctx.brain.cancel_job(job_id):
        raise CommandRefused(f"job {job_id} is no longer queued or running")
    ctx.brain.audit("job.cancel", actor=command.actor, origin=command.origin, target=f"job {job_id}",
                    reason=reason, outcome="ok")
    return f"job {job_id} cancelled", {"job": job_id}


@handles("retrain")
def _retrain(ctx: CommandContext, command: CommandRecord) -> Outcome:
    slot = _arg(command, "slot")
    job_id = _queue_train_job(ctx, command, slot, command.args)
    return f"{slot}: retrain queued as job {job_id}", {"job": job_id}


@handles("compare")
def _compare(ctx: CommandContext, command: CommandRecord) -> Outcome:
    """A/B of challenger(s) against the champion, run as a job: it refits, so never in a console."""
    from scheduler.services.comparison import champion_of
    from scheduler.services.job_params import compare_job_params

    slot = _arg(command, "slot")
    challengers = command.args.get("challengers") or []
    if not challengers or not all(isinstance(n, int) for n in challengers):
        raise CommandRefused("compare needs challengers: a list of version numbers")
    if ctx.brain.get_slot(slot) is None:
        raise CommandRefused(f"no slot {slot}")
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=["queued", "running"])
            if job.slot_key == slot and job.kind == "compare"]
    if busy:
        raise CommandRefused(f"a comparison of {slot} is already running as job {busy[0]}")
    champion = int(command.args.get("champion") or champion_of(ctx.brain, slot))
    job = ctx.brain.create_job("compare", slot_key=slot, params=compare_job_params(champion, challengers))
    versus = ", ".join(f"v{n}" for n in challengers)
    ctx.brain.audit("compare.start", actor=command.actor, origin=command.origin, outcome="ok",
                    target=f"{slot} v{champion} vs {versus} (job {job.id})")
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    outcome = f"{slot}: comparing {versus} with v{champion} as job {job.id}"
    return outcome, {"job": job.id, "champion": champion}


def _queue_train_job(ctx: CommandContext, command: CommandRecord, slot_key: str, choices: dict) -> int:
    from scheduler.services.job_params import train_job_params

    slot = ctx.brain.get_slot(slot_key)
    if slot is None:
        raise CommandRefused(f"no slot {slot_key}")
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=["queued", "running"])
            if job.slot_key == slot_key and job.kind == "train"]
    if busy:
        raise CommandRefused(f"{slot_key} is already being trained by job {busy[0]}")
    training = ctx.config.training.model_copy(update={"horizon": slot.horizon})
    try:
        params = train_job_params(slot.symbol, slot.timeframe, training, kinds=choices.get("kinds"),
                                  cadence=choices.get("cadence"), device=choices.get("device"))
    except ValueError as error:
        raise CommandRefused(str(error).splitlines()[0]) from None
    job = ctx.brain.create_job("train", slot_key=slot_key, params=params,
                               device=params.get("device") or "auto")
    ctx.brain.audit("retrain", actor=command.actor, origin=command.origin, target=slot_key,
                    reason=command.args.get("reason"), outcome="ok",
                    details={"job": job.id, "kinds": choices.get("kinds"), "device": params.get("device"),
                             "cadence": choices.get("cadence")})
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    return job.id

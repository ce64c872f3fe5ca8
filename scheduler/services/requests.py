"""Operator requests: what an operator asked for, recorded in the brain, then carried out.

A console or the CLI records the request (`submit_request`); whoever carries it out (the
headless leader, or the asking process itself when no leader is alive) claims the row, checks the
role again against its own config (a viewer's request is refused, whatever the asker let
through), runs the handler, and records the outcome in the row and in the audit log. The asker
reports the row's outcome, whoever claimed it.

A request from a name acting through a shared account (`huracan-tui --as alice`) carries both:
the name as its actor, the account in its args (ACCOUNT_ARG), and the executor applies the
lowest of both roles. Nothing in the row raises a role: its `role` can only lower one, and a row
naming alice without the account is judged as the OS user alice (a viewer unless granted), so
leaving the account out gains nothing; naming an account gains no more than asking as it.

A claim names its handler's process ("cli host:pid"). A handler killed before it finished leaves
the row running; the leader's reaper (`reap_abandoned_requests`) fails it once that process is
gone, or once the claim is older than CLAIM_BOUND_SECONDS. It is never run again: the effect
(a promotion, a job) commits in its own transaction before the row is finished, so a request
killed in between may have taken effect.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from brain import Brain, BrainError
from brain.lease import pid_alive
from brain.records import ACTIVE_JOB_STATES, RequestRecord
from brain.requests import FINAL_STATES
from scheduler.config import HuracanConfig
from scheduler.services.roles import effective_role

log = logging.getLogger("huracan.requests")

# How long an asker waits for the outcome of a request that a leader (or another process) took.
REQUEST_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.2
# Requests take seconds; a claim this old belongs to a handler that hung or died on another
# machine (one of this machine is checked directly: is its pid alive?).
CLAIM_BOUND_SECONDS = 120.0
# The OS account a request's actor acted through (`--as NAME`), where it did: kept in the args,
# as the table has no column for it.
ACCOUNT_ARG = "acting_account"


class RequestRefused(Exception):
    """The request cannot be carried out as asked (bad arguments, wrong state): one line why."""


class HandlerProcess(NamedTuple):
    host: str
    pid: int


def handler_process(handled_by: str | None) -> HandlerProcess | None:
    """The process a claim names: its last word, "host:pid" ("cli host:pid", "leader host:pid",
    "console alice host:pid"); None for a claim that names none."""
    host, _, pid = (handled_by or "").rsplit(" ", 1)[-1].rpartition(":")
    return HandlerProcess(host, int(pid)) if host and pid.isdigit() else None


def with_process(handler: str) -> str:
    """A handler's name with this process's host:pid, unless it names a process already."""
    if handler_process(handler) is not None:
        return handler
    return f"{handler} {socket.gethostname()}:{os.getpid()}"


@dataclass
class RequestContext:
    brain: Brain
    config: HuracanConfig
    # Who carries it out, ending in its process, e.g. "leader host:pid", "cli host:pid"; one
    # that names no process ("console alice") gets this process's host:pid appended.
    handler: str
    # Starts a worker for a queued job; None where a dispatch loop picks queued jobs up anyway.
    start_job: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        self.handler = with_process(self.handler)  # the reaper judges a claim by its process


Outcome = tuple[str, dict]  # a one-line outcome for the operator, and a small result record
Handler = Callable[[RequestContext, RequestRecord], Outcome]
HANDLERS: dict[str, Handler] = {}
# What a failed or refused request is audited as, where its successes are audited under another name.
AUDITED_AS: dict[str, str] = {}


def handles(action: str, *, audited_as: str | None = None) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[action] = handler
        if audited_as is not None:
            AUDITED_AS[action] = audited_as
        return handler

    return register


def submit_request(
    brain: Brain, config: HuracanConfig, action: str, args: dict, *, actor: str, origin: str | None,
    role: str, handler: str, start_job: Callable[[int], None] | None = None,
    wait_seconds: float = REQUEST_WAIT_SECONDS, account: str | None = None,
) -> RequestRecord:
    """Record what an operator asked for and see it through: a live leader carries it out (this
    waits for its outcome), else this process does, with the same checks. A leader that comes up
    meanwhile may claim the row first; either way the row's own outcome comes back, or the row as
    it stands (pending, running) when `wait_seconds` pass first. `account`: the OS account
    `actor` acts through (`--as actor`), judged with it by whoever carries the request out."""
    if account is not None:
        args = {**args, ACCOUNT_ARG: account}
    request = brain.submit_request(action, args, actor=actor, origin=origin, role=role)
    if brain.current_leader() is None:
        ctx = RequestContext(brain, config, handler, start_job)
        reap_abandoned_requests(brain, reaped_by=ctx.handler)  # no leader to do it
        request = carry_out_request(ctx, request)
    return await_outcome(brain, request, wait_seconds)


def await_outcome(brain: Brain, request: RequestRecord, wait_seconds: float) -> RequestRecord:
    deadline = time.monotonic() + wait_seconds
    while request.state not in FINAL_STATES and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)  # the asker (a worker thread, the CLI) watching the row
        request = brain.get_request(request.id)
    return request


def _arg(request: RequestRecord, name: str, kind=str):
    value = request.args.get(name)
    if value is None or value == "":
        raise RequestRefused(f"{request.action} needs {name}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise RequestRefused(f"{request.action}: {name} must be {kind.__name__}, not {value!r}") from None


def _reason(request: RequestRecord) -> str:
    reason = (request.args.get("reason") or "").strip()
    if not reason:
        raise RequestRefused(f"{request.action} needs a reason (it goes to the audit log)")
    return reason


def role_of(brain: Brain, config: HuracanConfig, request: RequestRecord) -> str:
    """The executor's own view of the actor's role: the brain's, lowered by its own config (and,
    for a name acting through an account, the lowest of both); a console that ran read-only
    stays a viewer (what the asker claimed can only lower it)."""
    account = request.args.get(ACCOUNT_ARG)
    return effective_role(brain, config, request.actor, read_only=request.role == "viewer",
                          account=str(account) if account is not None else None)


def carry_out_request(ctx: RequestContext, request: RequestRecord) -> RequestRecord:
    """Claim and carry out one request; returns it as finished (or as someone else left it)."""
    brain = ctx.brain
    claimed = brain.claim_request(request.id, handler=ctx.handler)
    if claimed is None:
        return brain.get_request(request.id)
    target = request.args.get("target") or request.args.get("slot")
    handler = HANDLERS.get(request.action)
    if handler is None:
        state, outcome, result = "failed", f"unknown request {request.action!r}", None
    elif role_of(brain, ctx.config, request) != "operator":
        state, outcome, result = "refused", f"{request.actor} is a viewer: {request.action} not allowed", None
    else:
        try:
            outcome, result = handler(ctx, claimed)
            state = "done"
        except (RequestRefused, BrainError) as error:
            state, outcome, result = "failed", str(error), None
    if state != "done":  # successes are audited by the operation itself, in its own transaction
        brain.audit(AUDITED_AS.get(request.action, request.action), actor=request.actor,
                    origin=request.origin, target=target, reason=request.args.get("reason"),
                    outcome=f"{state}: {outcome}",
                    details={"request": request.id, "executed_by": ctx.handler,
                             **_account_detail(request)})
    brain.finish_request(request.id, state=state, outcome=outcome, result=result)
    log.info("request %s %s by %s: %s (%s)", request.id, request.action, request.actor, state, outcome)
    return brain.get_request(request.id)


def _account_detail(request: RequestRecord) -> dict:
    account = request.args.get(ACCOUNT_ARG)
    return {} if account is None else {"account": account}


def carry_out_pending(ctx: RequestContext) -> int:
    """The leader's tick: every pending request, oldest first; returns how many it handled."""
    pending = ctx.brain.pending_requests()
    for request in pending:
        carry_out_request(ctx, request)
    return len(pending)


def why_abandoned(request: RequestRecord, *, now: datetime | None = None) -> str | None:
    """Why a running request's handler will never finish it, or None while it may."""
    process = handler_process(request.handled_by)
    if process is not None and process.host == socket.gethostname() and not pid_alive(process.pid):
        return f"its handler (pid {process.pid}) is gone"
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=CLAIM_BOUND_SECONDS)
    if request.handled_at is None or request.handled_at < cutoff:
        return f"its handler ({request.handled_by}) has not finished it in {CLAIM_BOUND_SECONDS:g}s"
    return None


def reap_abandoned_requests(brain: Brain, *, reaped_by: str, now: datetime | None = None) -> list[int]:
    """Running requests whose handler is gone: failed, audited, and not run again (see the module
    docstring); their askers see that outcome. Returns their ids."""
    reaped = []
    for request in brain.running_requests():
        why = why_abandoned(request, now=now)
        if why is None:
            continue
        outcome = f"interrupted: {why}; not run again, as it may have taken effect (see the audit log)"
        if brain.interrupt_request(
            request.id, outcome=outcome, audit_action=AUDITED_AS.get(request.action, request.action),
            target=request.args.get("target") or request.args.get("slot"), details={"reaped_by": reaped_by},
        ):
            reaped.append(request.id)
            log.warning("request %s %s by %s: %s", request.id, request.action, request.actor, outcome)
    return reaped


# ---- the handlers --------------------------------------------------------------------------------


@handles("promote")
def _promote(ctx: RequestContext, request: RequestRecord) -> Outcome:
    slot, version = _arg(request, "slot"), _arg(request, "version", int)
    promotion = ctx.brain.promote_version(
        slot, version, actor=request.actor, origin=request.origin, reason=_reason(request),
        force=bool(request.args.get("force")),
    )
    forced = " (forced)" if promotion.forced else ""
    return f"{slot}: v{version} is the champion{forced}", {"promotion": promotion.id}


@handles("rollback")
def _rollback(ctx: RequestContext, request: RequestRecord) -> Outcome:
    slot = _arg(request, "slot")
    to = request.args.get("to")
    record = ctx.brain.rollback(slot, actor=request.actor, origin=request.origin, reason=_reason(request),
                                to=None if to is None else int(to))
    return f"{slot}: rolled back v{record.from_version} → v{record.to_version}", {"rollback": record.id}


@handles("queue.approve")
@handles("queue.reject")
def _decide(ctx: RequestContext, request: RequestRecord) -> Outcome:
    """A rejection closes the item; an approval carries it out in the same transaction (brain.queues),
    so a refusal leaves the item pending, never approved with nothing done."""
    item_id, reason = _arg(request, "item", int), _reason(request)
    actor, origin = request.actor, request.origin
    if request.action == "queue.reject":
        item = ctx.brain.decide_queue_item(item_id, approve=False, actor=actor, origin=origin, reason=reason)
        return f"queue item {item.id} {item.state}", {"item": item.id, "state": item.state}
    item = ctx.brain.get_queue_item(item_id)
    if item.queue == "prune":
        item = ctx.brain.approve_prune_item(item_id, actor=actor, origin=origin, reason=reason)
        return f"{item.slot_key} v{item.version} pruned", {"item": item.id, "state": item.state}
    params = _train_job_params(ctx, item.slot_key, {})
    item = ctx.brain.approve_retrain_item(
        item_id, params=params, device=params.get("device") or "auto", actor=actor, origin=origin,
        reason=reason, details={"kinds": None, "device": params.get("device"), "cadence": None},
    )
    if ctx.start_job is not None and item.job_id is not None:
        ctx.start_job(item.job_id)
    return (f"{item.slot_key}: retrain queued as job {item.job_id}",
            {"item": item.id, "state": item.state, "job": item.job_id})


@handles("prune")
def _prune(ctx: RequestContext, request: RequestRecord) -> Outcome:
    slot, version = _arg(request, "slot"), _arg(request, "version", int)
    ctx.brain.prune_version(slot, version, actor=request.actor, origin=request.origin,
                            reason=_reason(request))
    return f"{slot} v{version} pruned", {"slot": slot, "version": version}


@handles("cancel_job")
def _cancel(ctx: RequestContext, request: RequestRecord) -> Outcome:
    job_id = _arg(request, "job", int)
    reason = _reason(request)
    if not ctx.brain.cancel_job(job_id):
        raise RequestRefused(f"job {job_id} is no longer queued or running")
    ctx.brain.audit("job.cancel", actor=request.actor, origin=request.origin, target=f"job {job_id}",
                    reason=reason, outcome="ok")
    return f"job {job_id} cancelled", {"job": job_id}


@handles("retrain")
def _retrain(ctx: RequestContext, request: RequestRecord) -> Outcome:
    slot = _arg(request, "slot")
    if request.args.get("ensemble") and not request.args.get("kinds"):
        job_id, members = _queue_ensemble_job(ctx, request, slot, str(request.args["ensemble"]))
        listed = ", ".join(f"v{n}" for n in members)
        return f"{slot}: ensemble of {listed} queued as job {job_id}", {"job": job_id, "members": members}
    job_id = _queue_train_job(ctx, request, slot, request.args)
    return f"{slot}: retrain queued as job {job_id}", {"job": job_id}


def _queue_ensemble_job(ctx: RequestContext, request: RequestRecord, slot_key: str,
                        method: str) -> tuple[int, list[int]]:
    """An ensemble job blending the newest live version of each plain kind of the slot (the
    meta-layer over what the slot has); refused with fewer than two kinds or a bad method."""
    from engine.ensembles.version import EnsembleError
    from scheduler.services.ensembles import check_method, newest_of_each_kind
    from scheduler.services.job_params import ensemble_job_params

    try:
        check_method(method)
        members = newest_of_each_kind(ctx.brain, slot_key)
    except EnsembleError as error:
        raise RequestRefused(str(error)) from None
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=list(ACTIVE_JOB_STATES))
            if job.slot_key == slot_key and job.kind in ("train", "ensemble")]
    if busy:
        raise RequestRefused(f"{slot_key} is already being trained by job {busy[0]}")
    job = ctx.brain.create_job("ensemble", slot_key=slot_key, params=ensemble_job_params(
        members, method, ctx.config.regimes.model_dump(mode="json")))
    ctx.brain.audit("ensemble", actor=request.actor, origin=request.origin, target=slot_key,
                    reason=request.args.get("reason"), outcome="ok",
                    details={"job": job.id, "members": members, "method": method})
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    return job.id, members


@handles("compare")
def _compare(ctx: RequestContext, request: RequestRecord) -> Outcome:
    """A/B of challenger(s) against the champion, run as a job: it refits, so never in a console."""
    from scheduler.services.comparison import champion_of
    from scheduler.services.job_params import compare_job_params

    slot = _arg(request, "slot")
    challengers = request.args.get("challengers") or []
    if not challengers or not all(isinstance(n, int) for n in challengers):
        raise RequestRefused("compare needs challengers: a list of version numbers")
    if ctx.brain.get_slot(slot) is None:
        raise RequestRefused(f"no slot {slot}")
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=list(ACTIVE_JOB_STATES))
            if job.slot_key == slot and job.kind == "compare"]
    if busy:
        raise RequestRefused(f"a comparison of {slot} is already running as job {busy[0]}")
    champion = int(request.args.get("champion") or champion_of(ctx.brain, slot))
    job = ctx.brain.create_job("compare", slot_key=slot, params=compare_job_params(champion, challengers))
    versus = ", ".join(f"v{n}" for n in challengers)
    ctx.brain.audit("compare.start", actor=request.actor, origin=request.origin, outcome="ok",
                    target=f"{slot} v{champion} vs {versus} (job {job.id})")
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    outcome = f"{slot}: comparing {versus} with v{champion} as job {job.id}"
    return outcome, {"job": job.id, "champion": champion}


@handles("demo", audited_as="demo.start")
def _demo(ctx: RequestContext, request: RequestRecord) -> Outcome:
    """The bundled data imported and the demo models trained, as a job (a worker, never the asker)."""
    from scheduler.services.job_params import demo_job_params

    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=list(ACTIVE_JOB_STATES))
            if job.kind == "demo"]
    if busy:
        raise RequestRefused(f"The demo is already running as job {busy[0]}.")
    # The labelling config travels with the job: the worker stores metrics by regime under it.
    training = ctx.config.training.model_copy(update={"regimes": ctx.config.regimes})
    job = ctx.brain.create_job("demo", params=demo_job_params(training))
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    ctx.brain.audit("demo.start", actor=request.actor, origin=request.origin, outcome="ok",
                    target=f"job {job.id}")
    return f"Demo started as job {job.id}: importing data and training in a worker.", {"job": job.id}


def _train_job_params(ctx: RequestContext, slot_key: str, choices: dict) -> dict:
    """A train job's params for a slot, with the operator's choices; refused if either is wrong."""
    from scheduler.services.job_params import train_job_params

    slot = ctx.brain.get_slot(slot_key)
    if slot is None:
        raise RequestRefused(f"no slot {slot_key}")
    from scheduler.services.training import slot_training  # the engine: where requests are carried out

    try:
        training = slot_training(ctx.config, ctx.brain, slot)
        return train_job_params(slot.symbol, slot.timeframe, training, kinds=choices.get("kinds"),
                                cadence=choices.get("cadence"), device=choices.get("device"),
                                recipe=choices.get("recipe"), learns=choices.get("learns"),
                                preprocessing=choices.get("preprocessing"),
                                processes=choices.get("processes"))
    except ValueError as error:
        raise RequestRefused(str(error).splitlines()[0]) from None


def _queue_train_job(ctx: RequestContext, request: RequestRecord, slot_key: str, choices: dict) -> int:
    if ctx.brain.get_slot(slot_key) is None:
        raise RequestRefused(f"no slot {slot_key}")
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=list(ACTIVE_JOB_STATES))
            if job.slot_key == slot_key and job.kind == "train"]
    if busy:
        raise RequestRefused(f"{slot_key} is already being trained by job {busy[0]}")
    params = _train_job_params(ctx, slot_key, choices)
    job = ctx.brain.create_job("train", slot_key=slot_key, params=params,
                               device=params.get("device") or "auto")
    ctx.brain.audit("retrain", actor=request.actor, origin=request.origin, target=slot_key,
                    reason=request.args.get("reason"), outcome="ok",
                    details={"job": job.id, "kinds": choices.get("kinds"), "device": params.get("device"),
                             "cadence": choices.get("cadence"), "recipe": choices.get("recipe"),
                             "learns": choices.get("learns")})
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    return job.id

"""Operator requests: what an operator asked for, recorded in the brain, then carried out.

A console or the CLI records the request (`submit_request`); whoever carries it out (the
headless leader, or the asking process itself when no leader is alive) claims the row, checks the
role again against its own config (a viewer's request is refused, whatever the asker let
through), runs the handler, and records the outcome in the row and in the audit log. The asker
reports the row's outcome, whoever claimed it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from brain import Brain, BrainError
from brain.records import RequestRecord
from brain.requests import FINAL_STATES
from scheduler.config import HuracanConfig

log = logging.getLogger("huracan.requests")

# How long an asker waits for the outcome of a request that a leader (or another process) took.
REQUEST_WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.2


class RequestRefused(Exception):
    """The request cannot be carried out as asked (bad arguments, wrong state): one line why."""


@dataclass
class RequestContext:
    brain: Brain
    config: HuracanConfig
    handler: str  # who carries it out: "leader host:pid", "console user" or "cli host:pid"
    # Starts a worker for a queued job; None where a dispatch loop picks queued jobs up anyway.
    start_job: Callable[[int], None] | None = None


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
    wait_seconds: float = REQUEST_WAIT_SECONDS,
) -> RequestRecord:
    """Record what an operator asked for and see it through: a live leader carries it out (this
    waits for its outcome), else this process does, with the same checks. A leader that comes up
    meanwhile may claim the row first; either way the row's own outcome comes back, or the row as
    it stands (pending, running) when `wait_seconds` pass first."""
    request = brain.submit_request(action, args, actor=actor, origin=origin, role=role)
    if brain.current_leader() is None:
        request = carry_out_request(RequestContext(brain, config, handler, start_job), request)
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


def role_of(config: HuracanConfig, request: RequestRecord) -> str:
    """The executor's own view of the actor's role; a console that ran read-only stays a viewer."""
    return "viewer" if request.role == "viewer" else config.roles.role_of(request.actor)


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
    elif role_of(ctx.config, request) != "operator":
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
                    details={"request": request.id, "executed_by": ctx.handler})
    brain.finish_request(request.id, state=state, outcome=outcome, result=result)
    log.info("request %s %s by %s: %s (%s)", request.id, request.action, request.actor, state, outcome)
    return brain.get_request(request.id)


def carry_out_pending(ctx: RequestContext) -> int:
    """The leader's tick: every pending request, oldest first; returns how many it handled."""
    pending = ctx.brain.pending_requests()
    for request in pending:
        carry_out_request(ctx, request)
    return len(pending)


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
    item_id = _arg(request, "item", int)
    approve = request.action == "queue.approve"
    item = ctx.brain.decide_queue_item(item_id, approve=approve, actor=request.actor, origin=request.origin,
                                       reason=_reason(request))
    result = {"item": item.id, "state": item.state}
    if approve and item.queue == "prune":
        ctx.brain.prune_version(item.slot_key, item.version, actor=request.actor, origin=request.origin,
                                reason=_reason(request), item_id=item.id)
        return f"{item.slot_key} v{item.version} pruned", {**result, "state": "done"}
    if approve and item.queue == "retrain":
        job_id = _queue_train_job(ctx, request, item.slot_key, {})
        ctx.brain.finish_queue_item(item.id, job_id=job_id)
        return f"{item.slot_key}: retrain queued as job {job_id}", {**result, "state": "done", "job": job_id}
    return f"queue item {item.id} {item.state}", result


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
    job_id = _queue_train_job(ctx, request, slot, request.args)
    return f"{slot}: retrain queued as job {job_id}", {"job": job_id}


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
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=["queued", "running"])
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

    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=["queued", "running"])
            if job.kind == "demo"]
    if busy:
        raise RequestRefused(f"The demo is already running as job {busy[0]}.")
    job = ctx.brain.create_job("demo", params=demo_job_params(ctx.config.training))
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    ctx.brain.audit("demo.start", actor=request.actor, origin=request.origin, outcome="ok",
                    target=f"job {job.id}")
    return f"Demo started as job {job.id}: importing data and training in a worker.", {"job": job.id}


def _queue_train_job(ctx: RequestContext, request: RequestRecord, slot_key: str, choices: dict) -> int:
    from scheduler.services.job_params import train_job_params

    slot = ctx.brain.get_slot(slot_key)
    if slot is None:
        raise RequestRefused(f"no slot {slot_key}")
    busy = [job.id for job in ctx.brain.list_jobs(limit=500, states=["queued", "running"])
            if job.slot_key == slot_key and job.kind == "train"]
    if busy:
        raise RequestRefused(f"{slot_key} is already being trained by job {busy[0]}")
    training = ctx.config.training.model_copy(update={"horizon": slot.horizon})
    try:
        params = train_job_params(slot.symbol, slot.timeframe, training, kinds=choices.get("kinds"),
                                  cadence=choices.get("cadence"), device=choices.get("device"))
    except ValueError as error:
        raise RequestRefused(str(error).splitlines()[0]) from None
    job = ctx.brain.create_job("train", slot_key=slot_key, params=params,
                               device=params.get("device") or "auto")
    ctx.brain.audit("retrain", actor=request.actor, origin=request.origin, target=slot_key,
                    reason=request.args.get("reason"), outcome="ok",
                    details={"job": job.id, "kinds": choices.get("kinds"), "device": params.get("device"),
                             "cadence": choices.get("cadence")})
    if ctx.start_job is not None:
        ctx.start_job(job.id)
    return job.id

"""Operator requests carried out by the executor: roles checked again, outcomes and audit recorded;
and the asker's one flow (`submit_request`): carried out here with no leader, else waited for, and
whoever claims the row, its outcome is what the asker reports."""

from __future__ import annotations

import threading

import pytest

from brain import open_brain
from scheduler.config import HuracanConfig, RolesConfig
from scheduler.services import requests
from scheduler.services.requests import (
    RequestContext,
    carry_out_pending,
    carry_out_request,
    submit_request,
)

SLOT = "GOOG:1d:fwd_ret_1"


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        for number in (1, 2):
            brain.add_version(SLOT, model_kind="linear", manifest={}, artifact=f"m{number}".encode(),
                              artifact_format="skops", metrics=[], data_start=None, data_end=None)
        yield brain


def context(brain, **roles) -> RequestContext:
    config = HuracanConfig(roles=RolesConfig(users=roles))
    return RequestContext(brain, config, handler="leader test:1")


def test_an_operator_promotes_through_a_request_and_the_outcome_is_recorded(brain):
    request = brain.submit_request("promote", {"slot": SLOT, "version": 1, "reason": "first"},
                                   actor="alice", role="operator", origin="10.0.0.7")
    done = carry_out_request(context(brain), request)
    assert (done.state, done.outcome, done.handled_by) == ("done", f"{SLOT}: v1 is the champion",
                                                          "leader test:1")
    assert brain.champion(SLOT).number == 1
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor, entry.origin, entry.outcome) == ("promote", "alice", "10.0.0.7", "ok")


def test_the_executor_checks_the_role_again_with_its_own_config(brain):
    # The console thought bob was an operator; the leader's config says viewer.
    request = brain.submit_request("promote", {"slot": SLOT, "version": 1, "reason": "x"},
                                   actor="bob", role="operator")
    done = carry_out_request(context(brain, bob="viewer"), request)
    assert done.state == "refused" and "viewer" in done.outcome
    assert brain.champion(SLOT) is None
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor) == ("promote", "bob") and entry.outcome.startswith("refused")
    # A console that ran read-only stays a viewer whatever the config says.
    read_only = brain.submit_request("promote", {"slot": SLOT, "version": 1, "reason": "x"},
                                     actor="alice", role="viewer")
    assert carry_out_request(context(brain), read_only).state == "refused"


def test_failures_say_why_in_one_line_and_are_audited(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    asks = [
        ("promote", {"slot": SLOT, "version": 2, "reason": "better"}, "no passing A/B verdict"),
        ("promote", {"slot": SLOT, "version": 2}, "needs a reason"),
        ("rollback", {"slot": SLOT, "reason": "x"}, "no previous champion"),
        ("promote", {"slot": SLOT, "version": "two", "reason": "x"}, "version must be int"),
        ("launch_rockets", {}, "unknown request"),
    ]
    for action, args, _ in asks:
        brain.submit_request(action, args, actor="alice", role="operator")
    assert carry_out_pending(context(brain)) == len(asks)
    finished = list(reversed(brain.list_requests(limit=len(asks))))
    for (action, _, why), request in zip(asks, finished, strict=True):
        assert request.action == action and request.state == "failed" and why in request.outcome
        assert "\n" not in request.outcome
    failures = [e for e in brain.list_audit(limit=20) if e.outcome.startswith("failed")]
    assert len(failures) == len(asks)
    assert brain.pending_requests() == []


def test_a_retrain_request_queues_a_train_job_with_the_operators_choices(brain):
    request = brain.submit_request(
        "retrain", {"slot": SLOT, "kinds": ["lightgbm"], "device": "cpu", "cadence": "quick",
                    "reason": "drift"}, actor="alice", role="operator")
    started = []
    ctx = context(brain)
    ctx.start_job = started.append
    done = carry_out_request(ctx, request)
    assert done.state == "done", done.outcome
    job = brain.get_job(done.result["job"])
    assert (job.kind, job.slot_key, job.state, job.device) == ("train", SLOT, "queued", "cpu")
    assert job.params["training"]["models"] == ["lightgbm"] and job.params["training"]["cadence"] == "quick"
    assert started == [job.id]
    again = carry_out_request(ctx, brain.submit_request("retrain", {"slot": SLOT}, actor="alice",
                                                      role="operator"))
    assert again.state == "failed" and f"already being trained by job {job.id}" in again.outcome
    brain.cancel_job(job.id)
    bad = carry_out_request(ctx, brain.submit_request("retrain", {"slot": SLOT, "kinds": ["nope"]},
                                                    actor="alice", role="operator"))
    assert bad.state == "failed" and "nope" in bad.outcome


def test_a_request_is_carried_out_once_even_if_two_executors_see_it(brain):
    request = brain.submit_request("promote", {"slot": SLOT, "version": 1, "reason": "first"},
                                   actor="alice", role="operator")
    first = carry_out_request(context(brain), request)
    second = carry_out_request(RequestContext(brain, HuracanConfig(), handler="console x"), request)
    assert first.state == second.state == "done" and second.handled_by == "leader test:1"
    assert len(brain.promotion_history(SLOT)) == 1


def test_queue_approval_of_a_prune_item_prunes_the_version(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    item = brain.enqueue("prune", SLOT, version=2, rule="worse_than_champion", reason="3 windows worse")
    done = carry_out_request(context(brain), brain.submit_request(
        "queue.approve", {"item": item.id, "reason": "agreed"}, actor="alice", role="operator"))
    assert done.state == "done" and brain.get_version(SLOT, 2).status == "pruned"
    assert brain.get_queue_item(item.id).state == "done"


# ---- the asker's flow ----------------------------------------------------------------------------

PROMOTE_FIRST = {"slot": SLOT, "version": 1, "reason": "first"}


def ask(brain, action: str, args: dict, config: HuracanConfig | None = None, **options):
    return submit_request(brain, config or HuracanConfig(), action, args, actor="alice", origin="10.0.0.7",
                          role="operator", handler="cli test:2", **options)


class ClaimRace:
    """Another handler (a leader that has just come up) claims each request the moment it is
    submitted, and finishes it only once the asker has seen it running: the asker must wait for
    that handler's outcome rather than report the row half-way."""

    def __init__(self, brain, monkeypatch, handler: str = "leader other:3") -> None:
        self.brain, self.handler, self.threads = brain, handler, []
        self.seen_running = threading.Event()
        submit, get = brain.submit_request, brain.get_request

        def submit_and_lose_the_claim(*args, **kwargs):
            request = submit(*args, **kwargs)
            claimed = threading.Event()
            thread = threading.Thread(target=self._carry_out, args=(request, claimed))
            self.threads.append(thread)
            thread.start()
            assert claimed.wait(10), "the other handler never claimed the request"
            return request

        def get_and_notice_running(request_id):
            request = get(request_id)
            if request.state == "running" and request.handled_by == self.handler:
                self.seen_running.set()
            return request

        monkeypatch.setattr(brain, "submit_request", submit_and_lose_the_claim)
        monkeypatch.setattr(brain, "get_request", get_and_notice_running)
        self._handlers = dict(requests.HANDLERS)
        for action, carry_out in self._handlers.items():
            monkeypatch.setitem(requests.HANDLERS, action, self._after_the_asker_looked(carry_out))

    def _after_the_asker_looked(self, carry_out):
        def slow(ctx, request):
            if ctx.handler == self.handler:
                self.claimed.set()
                assert self.seen_running.wait(10), "the asker never looked at the running request"
            return carry_out(ctx, request)

        return slow

    def _carry_out(self, request, claimed: threading.Event) -> None:
        self.claimed = claimed
        carry_out_request(RequestContext(self.brain, HuracanConfig(), handler=self.handler), request)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(10)


def test_with_no_leader_the_asker_carries_its_request_out_itself(brain):
    done = ask(brain, "promote", PROMOTE_FIRST)
    assert (done.state, done.handled_by, done.outcome) == ("done", "cli test:2",
                                                          f"{SLOT}: v1 is the champion")
    assert brain.champion(SLOT).number == 1


def test_the_asker_reports_the_outcome_of_whoever_claimed_its_request(brain, monkeypatch):
    """Issue 12 point 4: a leader claimed the row between submit and carry-out, and the CLI
    printed `promote running: None` and exited 1 though the promotion went through."""
    race = ClaimRace(brain, monkeypatch)
    done = ask(brain, "promote", PROMOTE_FIRST)
    race.join()
    assert (done.state, done.handled_by, done.outcome) == ("done", "leader other:3",
                                                          f"{SLOT}: v1 is the champion")
    assert len(brain.promotion_history(SLOT)) == 1


def test_with_a_leader_alive_the_asker_waits_for_the_leaders_outcome(brain, monkeypatch):
    monkeypatch.setattr(brain, "current_leader", lambda: "a live leader")
    submit, leader_ticks = brain.submit_request, []

    def submit_then_the_leader_ticks(*args, **kwargs):
        request = submit(*args, **kwargs)
        tick = threading.Thread(target=carry_out_pending, args=(context(brain),))
        leader_ticks.append(tick)
        tick.start()
        return request

    monkeypatch.setattr(brain, "submit_request", submit_then_the_leader_ticks)
    done = ask(brain, "promote", PROMOTE_FIRST)
    leader_ticks[0].join(10)
    assert (done.state, done.handled_by) == ("done", "leader test:1")


def test_a_request_no_one_takes_comes_back_pending_at_the_deadline(brain, monkeypatch):
    monkeypatch.setattr(brain, "current_leader", lambda: "a leader that never ticks")
    waiting = ask(brain, "promote", PROMOTE_FIRST, wait_seconds=0)
    assert (waiting.state, waiting.handled_by) == ("pending", None)
    assert brain.champion(SLOT) is None


def test_the_demo_is_a_request_refused_while_one_runs_and_for_viewers(brain):
    config = HuracanConfig.model_validate({"training": {"models": ["linear"], "n_folds": 2}})
    started = []
    done = ask(brain, "demo", {}, config, start_job=started.append)
    (job,) = brain.list_jobs()
    assert (done.state, done.result) == ("done", {"job": job.id}) and started == [job.id]
    assert done.outcome == f"Demo started as job {job.id}: importing data and training in a worker."
    assert job.kind == "demo" and job.params["training"]["models"] == ["linear"]
    again = ask(brain, "demo", {}, config, start_job=started.append)
    assert (again.state, again.outcome) == ("failed", f"The demo is already running as job {job.id}.")
    viewer = ask(brain, "demo", {}, HuracanConfig(roles=RolesConfig(users={"alice": "viewer"})))
    assert viewer.state == "refused" and started == [job.id] and len(brain.list_jobs()) == 1
    audit = [(e.action, e.outcome.split(":")[0], e.target) for e in brain.list_audit(limit=3)]
    assert audit == [("demo.start", "refused", None), ("demo.start", "failed", None),
                     ("demo.start", "ok", f"job {job.id}")]

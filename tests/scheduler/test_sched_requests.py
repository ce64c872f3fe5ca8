"""Operator requests carried out by the executor: roles checked again, outcomes and audit recorded;
and the asker's one flow (`submit_request`): carried out here with no leader, else waited for, and
whoever claims the row, its outcome is what the asker reports. A request whose handler died
before finishing it is failed by the leader's reaper, and its asker sees that."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from brain import open_brain
from scheduler.config import HuracanConfig, RolesConfig, ScheduleConfig
from scheduler.daemon.executor import LocalExecutor
from scheduler.daemon.headless import Leader
from scheduler.services import requests
from scheduler.services.requests import (
    CLAIM_BOUND_SECONDS,
    RequestContext,
    await_outcome,
    carry_out_pending,
    carry_out_request,
    reap_abandoned_requests,
    submit_request,
)
from tests.grants import grant_quietly

SLOT = "GOOG:1d:fwd_ret_1"


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        for number in (1, 2):
            brain.add_version(SLOT, model_kind="linear", manifest={}, artifact=f"m{number}".encode(),
                              artifact_format="skops", metrics=[], data_start=None, data_end=None)
        grant_quietly(brain, "alice", "bob")  # operators by the brain's say; configs may lower it
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


def test_approving_a_retrain_item_while_its_slot_trains_leaves_it_pending(brain):
    """Soak: the approval committed, then queueing the job was refused; the item stayed
    'approved' for good (it could not be rejected) and every later item for the slot was
    dropped as a duplicate of it."""
    training = brain.create_job("train", slot_key=SLOT, params={})
    item = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="Sharpe -0.8")

    def decide(action: str, reason: str):
        return carry_out_request(context(brain), brain.submit_request(
            action, {"item": item.id, "reason": reason}, actor="alice", role="operator"))

    refused = decide("queue.approve", "go")
    assert refused.state == "failed" and f"already being trained by job {training.id}" in refused.outcome
    assert brain.get_queue_item(item.id).state == "pending"
    assert [job.id for job in brain.list_jobs()] == [training.id]
    assert [e.action for e in brain.list_audit(limit=20)].count("queue.approve") == 1  # the failure's
    brain.cancel_job(training.id)
    started = []
    ctx = context(brain)
    ctx.start_job = started.append
    done = carry_out_request(ctx, brain.submit_request(
        "queue.approve", {"item": item.id, "reason": "now"}, actor="alice", role="operator"))
    assert done.state == "done", done.outcome
    job = brain.get_job(done.result["job"])
    assert (job.kind, job.slot_key, job.state) == ("train", SLOT, "queued") and started == [job.id]
    assert done.result == {"item": item.id, "state": "done", "job": job.id}
    assert brain.get_queue_item(item.id).job_id == job.id
    assert brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="again") is not None


def test_a_retrain_item_refused_while_its_slot_trains_can_be_rejected(brain):
    brain.create_job("train", slot_key=SLOT, params={})
    item = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="x")
    for action in ("queue.approve", "queue.reject"):
        carry_out_request(context(brain), brain.submit_request(
            action, {"item": item.id, "reason": "r"}, actor="alice", role="operator"))
    assert brain.get_queue_item(item.id).state == "rejected"


def test_approving_a_prune_item_of_the_champion_leaves_it_pending(brain):
    brain.promote_version(SLOT, 2, actor="alice", reason="first", force=True)
    item = brain.enqueue("prune", SLOT, version=2, rule="worse_than_champion", reason="x")
    refused = carry_out_request(context(brain), brain.submit_request(
        "queue.approve", {"item": item.id, "reason": "ok"}, actor="alice", role="operator"))
    assert refused.state == "failed" and "is the champion" in refused.outcome
    assert brain.get_queue_item(item.id).state == "pending" and brain.get_version(SLOT, 2).status != "pruned"


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


# ---- requests whose handler died ------------------------------------------------------------------

# A CLI-like asker (no leader alive: it carries its request out itself) that is killed mid-way:
# its handler says which request it holds, then hangs until the test SIGKILLs the process.
CLAIM_AND_HANG = """
import os, socket, sys, threading
from brain import open_brain
from scheduler.config import HuracanConfig
from scheduler.services import requests

def hang(ctx, request):
    print(request.id, flush=True)
    threading.Event().wait()

requests.HANDLERS["promote"] = hang
with open_brain(sys.argv[1]) as brain:
    requests.submit_request(brain, HuracanConfig(), "promote", {"slot": sys.argv[2], "version": 1,
                            "reason": "first"}, actor="alice", origin=None, role="operator",
                            handler=f"cli {socket.gethostname()}:{os.getpid()}")
"""


def test_a_request_whose_cli_was_killed_mid_way_is_failed_by_the_leaders_reap(brain, any_brain_url):
    repo = Path(__file__).resolve().parents[2]
    path = os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    cli = subprocess.Popen([sys.executable, "-c", CLAIM_AND_HANG, any_brain_url, SLOT], cwd=repo, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = cli.stdout.readline()
        assert line.strip().isdigit(), cli.stderr.read() if cli.poll() is not None else line
        request = brain.get_request(int(line))
        assert (request.state, request.handled_by) == ("running", f"cli {socket.gethostname()}:{cli.pid}")
        seen = []  # another asker waiting on the same row (a console that handed it over)
        waiter = threading.Thread(target=lambda: seen.append(await_outcome(brain, request, 30)))
        waiter.start()
    finally:
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait(10)
        cli.stdout.close()
        cli.stderr.close()
    leader = Leader(brain, HuracanConfig(), LocalExecutor(any_brain_url), feeds=[])
    assert leader.reap() == []  # no job was requeued; the request was failed
    waiter.join(30)
    (final,) = seen
    assert final.state == "failed"
    assert final.outcome.startswith(f"interrupted: its handler (pid {cli.pid}) is gone; not run again")
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor, entry.target) == ("promote", "alice", SLOT)
    assert entry.outcome == f"failed: {final.outcome}"
    assert entry.details["reaped_by"] == leader.holder and entry.details["request"] == request.id
    assert brain.champion(SLOT) is None and brain.running_requests() == []
    assert leader.reap() == [] and brain.get_request(request.id).outcome == final.outcome  # once


def test_a_claim_of_another_machine_is_reaped_only_once_older_than_the_bound(brain):
    request = brain.submit_request("promote", PROMOTE_FIRST, actor="alice", role="operator")
    brain.claim_request(request.id, handler="leader elsewhere:4242")
    claimed_at = brain.get_request(request.id).handled_at
    soon = claimed_at + timedelta(seconds=CLAIM_BOUND_SECONDS - 1)
    assert reap_abandoned_requests(brain, reaped_by="leader test:1", now=soon) == []
    later = claimed_at + timedelta(seconds=CLAIM_BOUND_SECONDS + 1)
    assert reap_abandoned_requests(brain, reaped_by="leader test:1", now=later) == [request.id]
    reaped = brain.get_request(request.id)
    assert reaped.state == "failed"
    assert "its handler (leader elsewhere:4242) has not finished it in 120s" in reaped.outcome


def test_a_live_handler_of_this_machine_is_not_reaped(brain):
    request = brain.submit_request("promote", PROMOTE_FIRST, actor="alice", role="operator")
    ctx = RequestContext(brain, HuracanConfig(), handler="console alice")
    assert ctx.handler == f"console alice {socket.gethostname()}:{os.getpid()}"  # the claim names its pid
    brain.claim_request(request.id, handler=ctx.handler)
    assert reap_abandoned_requests(brain, reaped_by="leader test:1", now=datetime.now(UTC)) == []
    assert brain.get_request(request.id).state == "running"


def test_the_requests_entry_is_configured_as_requests_every_or_its_old_name():
    assert ScheduleConfig.model_validate({"requests_every": "3s"}).requests_every == 3.0
    assert ScheduleConfig.model_validate({"commands_every": "2s"}).requests_every == 2.0  # deprecated
    assert ScheduleConfig().requests_every == 1.0

"""Console commands carried out by the executor: roles checked again, outcomes and audit recorded."""

from __future__ import annotations

import pytest

from brain import open_brain
from scheduler.config import HuracanConfig, RolesConfig
from scheduler.services.requests import CommandContext, execute_command, execute_pending

SLOT = "GOOG:1d:fwd_ret_1"


@pytest.fixture
def brain(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        for number in (1, 2):
            brain.add_version(SLOT, model_kind="linear", manifest={}, artifact=f"m{number}".encode(),
                              artifact_format="skops", metrics=[], data_start=None, data_end=None)
        yield brain


def context(brain, **roles) -> CommandContext:
    config = HuracanConfig(roles=RolesConfig(users=roles))
    return CommandContext(brain, config, handler="leader test:1")


def test_an_operator_promotes_through_a_command_and_the_outcome_is_recorded(brain):
    command = brain.submit_command("promote", {"slot": SLOT, "version": 1, "reason": "first"},
                                   actor="alice", role="operator", origin="10.0.0.7")
    done = execute_command(context(brain), command)
    assert (done.state, done.outcome, done.handled_by) == ("done", f"{SLOT}: v1 is the champion",
                                                          "leader test:1")
    assert brain.champion(SLOT).number == 1
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor, entry.origin, entry.outcome) == ("promote", "alice", "10.0.0.7", "ok")


def test_the_executor_checks_the_role_again_with_its_own_config(brain):
    # The console thought bob was an operator; the leader's config says viewer.
    command = brain.submit_command("promote", {"slot": SLOT, "version": 1, "reason": "x"},
                                   actor="bob", role="operator")
    done = execute_command(context(brain, bob="viewer"), command)
    assert done.state == "refused" and "viewer" in done.outcome
    assert brain.champion(SLOT) is None
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor) == ("promote", "bob") and entry.outcome.startswith("refused")
    # A console that ran read-only stays a viewer whatever the config says.
    read_only = brain.submit_command("promote", {"slot": SLOT, "version": 1, "reason": "x"},
                                     actor="alice", role="viewer")
    assert execute_command(context(brain), read_only).state == "refused"


def test_failures_say_why_in_one_line_and_are_audited(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    asks = [
        ("promote", {"slot": SLOT, "version": 2, "reason": "better"}, "no passing A/B verdict"),
        ("promote", {"slot": SLOT, "version": 2}, "needs a reason"),
        ("rollback", {"slot": SLOT, "reason": "x"}, "no previous champion"),
        ("promote", {"slot": SLOT, "version": "two", "reason": "x"}, "version must be int"),
        ("launch_rockets", {}, "unknown command"),
    ]
    for action, args, _ in asks:
        brain.submit_command(action, args, actor="alice", role="operator")
    assert execute_pending(context(brain)) == len(asks)
    finished = list(reversed(brain.list_commands(limit=len(asks))))
    for (action, _, why), command in zip(asks, finished, strict=True):
        assert command.action == action and command.state == "failed" and why in command.outcome
        assert "\n" not in command.outcome
    failures = [e for e in brain.list_audit(limit=20) if e.outcome.startswith("failed")]
    assert len(failures) == len(asks)
    assert brain.pending_commands() == []


def test_a_retrain_command_queues_a_train_job_with_the_operators_choices(brain):
    command = brain.submit_command(
        "retrain", {"slot": SLOT, "kinds": ["lightgbm"], "device": "cpu", "cadence": "quick",
                    "reason": "drift"}, actor="alice", role="operator")
    started = []
    ctx = context(brain)
    ctx.start_job = started.append
    done = execute_command(ctx, command)
    assert done.state == "done", done.outcome
    job = brain.get_job(done.result["job"])
    assert (job.kind, job.slot_key, job.state, job.device) == ("train", SLOT, "queued", "cpu")
    assert job.params["training"]["models"] == ["lightgbm"] and job.params["training"]["cadence"] == "quick"
    assert started == [job.id]
    again = execute_command(ctx, brain.submit_command("retrain", {"slot": SLOT}, actor="alice",
                                                      role="operator"))
    assert again.state == "failed" and f"already being trained by job {job.id}" in again.outcome
    brain.cancel_job(job.id)
    bad = execute_command(ctx, brain.submit_command("retrain", {"slot": SLOT, "kinds": ["nope"]},
                                                    actor="alice", role="operator"))
    assert bad.state == "failed" and "nope" in bad.outcome


def test_a_command_is_carried_out_once_even_if_two_executors_see_it(brain):
    command = brain.submit_command("promote", {"slot": SLOT, "version": 1, "reason": "first"},
                                   actor="alice", role="operator")
    first = execute_command(context(brain), command)
    second = execute_command(CommandContext(brain, HuracanConfig(), handler="console x"), command)
    assert first.state == second.state == "done" and second.handled_by == "leader test:1"
    assert len(brain.promotion_history(SLOT)) == 1


def test_queue_approval_of_a_prune_item_prunes_the_version(brain):
    brain.promote_version(SLOT, 1, actor="alice", reason="first")
    item = brain.enqueue("prune", SLOT, version=2, rule="worse_than_champion", reason="3 windows worse")
    done = execute_command(context(brain), brain.submit_command(
        "queue.approve", {"item": item.id, "reason": "agreed"}, actor="alice", role="operator"))
    assert done.state == "done" and brain.get_version(SLOT, 2).status == "pruned"
    assert brain.get_queue_item(item.id).state == "done"

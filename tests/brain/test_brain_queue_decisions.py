"""Approving a queue item and carrying it out are one transaction: a refusal (the slot is already
training, the version is the champion) changes nothing, and the item stays pending, to approve
later or to reject; an item an older Huracan left approved with nothing done can still be decided."""

from __future__ import annotations

import pytest

from brain import BrainError

SLOT = "GOOG:1d:fwd_ret_1"
PARAMS = {"symbol": "GOOG"}


@pytest.fixture
def slot(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    for number in (1, 2):
        brain.add_version(SLOT, model_kind="linear", manifest={}, artifact=f"m{number}".encode(),
                          artifact_format="skops", metrics=[], data_start=None, data_end=None)
    return SLOT


def _audited(brain) -> list[tuple[str, str]]:
    return [(entry.action, entry.outcome) for entry in reversed(brain.list_audit(limit=50))]


def test_approving_a_retrain_item_while_its_slot_trains_changes_nothing(brain, slot):
    training = brain.create_job("train", slot_key=slot, params=PARAMS)
    item = brain.enqueue("retrain", slot, rule="live_sharpe", reason="Sharpe -0.8")
    audit_before = _audited(brain)
    with pytest.raises(BrainError, match=f"already being trained by job {training.id}"):
        brain.approve_retrain_item(item.id, params=PARAMS, device="cpu", actor="alice", reason="go")
    assert brain.get_queue_item(item.id).state == "pending"
    assert [job.id for job in brain.list_jobs()] == [training.id] and _audited(brain) == audit_before

    brain.cancel_job(training.id)
    done = brain.approve_retrain_item(item.id, params=PARAMS, device="cpu", actor="alice", reason="go",
                                      details={"cadence": None})
    job = brain.get_job(done.job_id)
    assert (done.state, done.decided_by, done.decision_reason) == ("done", "alice", "go")
    assert (job.kind, job.slot_key, job.state, job.device, job.params) == ("train", slot, "queued", "cpu",
                                                                           PARAMS)
    (approval, retrain) = brain.list_audit(limit=2)[::-1]
    assert (approval.action, approval.target) == ("queue.approve", f"retrain #{item.id} {slot}")
    assert (retrain.action, retrain.target, retrain.details) == ("retrain", slot,
                                                                {"job": job.id, "cadence": None})
    # The slot's next item is queued, not dropped as a duplicate of one left open.
    assert brain.enqueue("retrain", slot, rule="live_sharpe", reason="again") is not None


def test_a_refused_retrain_item_can_still_be_rejected(brain, slot):
    brain.create_job("train", slot_key=slot, params=PARAMS)
    item = brain.enqueue("retrain", slot, rule="live_sharpe", reason="x")
    with pytest.raises(BrainError, match="stays pending"):
        brain.approve_retrain_item(item.id, params=PARAMS, device="cpu", actor="alice", reason="go")
    rejected = brain.decide_queue_item(item.id, approve=False, actor="alice", reason="it is training anyway")
    assert rejected.state == "rejected"


def test_an_item_left_approved_with_nothing_done_can_still_be_decided(brain, slot):
    # What an older Huracan left: approved, then carrying it out refused.
    stuck = brain.enqueue("retrain", slot, rule="live_sharpe", reason="x")
    brain.decide_queue_item(stuck.id, approve=True, actor="alice", reason="go")
    done = brain.approve_retrain_item(stuck.id, params=PARAMS, device="cpu", actor="alice", reason="again")
    assert done.state == "done" and done.job_id is not None
    with pytest.raises(BrainError, match="is done, not pending"):
        brain.approve_retrain_item(stuck.id, params=PARAMS, device="cpu", actor="alice", reason="twice")
    brain.cancel_job(done.job_id)
    other = brain.enqueue("retrain", slot, rule="live_sharpe", reason="y")
    brain.decide_queue_item(other.id, approve=True, actor="alice", reason="go")
    assert brain.decide_queue_item(other.id, approve=False, actor="alice", reason="no").state == "rejected"


def test_approving_a_prune_item_prunes_in_the_same_transaction_or_not_at_all(brain, slot):
    brain.promote_version(slot, 2, actor="alice", reason="first", force=True)
    champion_item = brain.enqueue("prune", slot, version=2, rule="worse_than_champion", reason="x")
    with pytest.raises(BrainError, match="is the champion"):
        brain.approve_prune_item(champion_item.id, actor="alice", reason="ok")
    assert brain.get_queue_item(champion_item.id).state == "pending"
    assert brain.get_version(slot, 2).status != "pruned"
    with pytest.raises(BrainError, match="is a prune item, not a retrain item"):
        brain.approve_retrain_item(champion_item.id, params=PARAMS, device="cpu", actor="alice", reason="ok")

    item = brain.enqueue("prune", slot, version=1, rule="worse_than_champion", reason="3 windows worse")
    done = brain.approve_prune_item(item.id, actor="alice", reason="agreed")
    assert (done.state, done.decided_by) == ("done", "alice")
    assert brain.get_version(slot, 1).status == "pruned"
    assert [e.action for e in brain.list_audit(limit=2)] == ["prune", "queue.approve"]

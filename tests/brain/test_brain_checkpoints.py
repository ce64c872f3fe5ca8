"""Training checkpoints in the brain: the newest per (run, stage), replaced in one transaction,
sha256-checked on the way out, resumable only from an attempt that is no longer running."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import update

from brain import BrainError, schema


def running_job(brain):
    job = brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1", params={})
    assert brain.claim_job(job.id, worker="w", pid=os.getpid())
    return job


def test_each_save_replaces_the_stage_newest_only(brain):
    job = running_job(brain)
    for epoch in (1, 2, 3):
        brain.save_checkpoint("run", "GOOG lstm fold 1", job_id=job.id, epoch=epoch, data=b"e%d" % epoch)
    brain.save_checkpoint("run", "GOOG lstm final fit", job_id=job.id, epoch=1, data=b"final")
    stored = brain.checkpoints("run")
    assert [(c.stage, c.epoch, c.size) for c in stored] == [
        ("GOOG lstm final fit", 1, 5), ("GOOG lstm fold 1", 3, 2)
    ]
    record, data = brain.load_checkpoint("run", "GOOG lstm fold 1", job_id=job.id)
    assert data == b"e3" and record.epoch == 3 and record.job_id == job.id
    assert brain.load_checkpoint("run", "GOOG lstm fold 2", job_id=job.id) is None
    assert brain.load_checkpoint("other run", "GOOG lstm fold 1", job_id=job.id) is None


def test_a_requeue_resumes_from_a_finished_attempt_never_from_a_running_one(brain):
    first = running_job(brain)
    brain.save_checkpoint("run", "fold 1", job_id=first.id, epoch=2, data=b"two")
    second = brain.create_job("train", params={})
    # The first attempt still runs: its state is not the second's to take.
    assert brain.load_checkpoint("run", "fold 1", job_id=second.id) is None
    assert brain.interrupt_running_jobs(reason="killed") == [first.id]
    requeued = brain.requeue_job(first.id)
    record, data = brain.load_checkpoint("run", "fold 1", job_id=requeued.id)
    assert data == b"two" and record.job_id == first.id


def test_tampered_bytes_are_refused(brain, raw_engine):
    job = running_job(brain)
    brain.save_checkpoint("run", "fold 1", job_id=job.id, epoch=1, data=b"honest")
    with raw_engine.begin() as conn:
        conn.execute(update(schema.training_checkpoints).values(data=b"forged"))
    with pytest.raises(BrainError, match="does not hash to its sha256"):
        brain.load_checkpoint("run", "fold 1", job_id=job.id)


def test_deleting_a_scope_leaves_the_others(brain):
    job = running_job(brain)
    for stage in ("S lstm fold 1", "S lstm final fit", "S lstm_classifier fold 1", "S gru fold 1"):
        brain.save_checkpoint("run", stage, job_id=job.id, epoch=1, data=b"x")
    brain.save_checkpoint("other", "S lstm fold 1", job_id=job.id, epoch=1, data=b"x")
    assert brain.delete_checkpoints("run", stage_prefix="S lstm ") == 2
    assert [c.stage for c in brain.checkpoints("run")] == ["S gru fold 1", "S lstm_classifier fold 1"]
    assert brain.delete_checkpoints("run") == 2
    assert [c.run_key for c in brain.checkpoints()] == ["other"]


def test_an_empty_checkpoint_is_refused(brain):
    job = running_job(brain)
    with pytest.raises(BrainError, match="empty checkpoint"):
        brain.save_checkpoint("run", "fold 1", job_id=job.id, epoch=1, data=b"")
    assert brain.checkpoints() == []

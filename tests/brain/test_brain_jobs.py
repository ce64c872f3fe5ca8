"""The job queue: lifecycle, racing claimers, stale-heartbeat reaping."""

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from brain import BrainError, open_brain, schema


def test_job_lifecycle(brain):
    job = brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1", params={"model": "ridge"})
    assert (job.state, job.progress, job.device, job.params) == (
        "queued",
        0.0,
        "cpu",
        {"model": "ridge"},
    )
    assert brain.claim_job(job.id, worker="w1", pid=os.getpid())
    assert not brain.claim_job(job.id, worker="w2", pid=1)  # already running
    running = brain.get_job(job.id)
    assert (running.state, running.worker, running.pid) == ("running", "w1", os.getpid())
    assert running.started_at is not None and running.heartbeat_at is not None

    assert brain.update_job(job.id, progress=0.4, message="fold 2/5")
    assert brain.update_job(job.id, progress=7)  # clamped
    progressed = brain.get_job(job.id)
    assert (progressed.progress, progressed.message) == (1.0, "fold 2/5")
    assert progressed.heartbeat_at >= running.heartbeat_at

    assert brain.finish_job(job.id, {"version": 3})
    done = brain.get_job(job.id)
    assert (done.state, done.progress, done.result) == ("succeeded", 1.0, {"version": 3})
    assert done.finished_at is not None
    assert not brain.update_job(job.id, progress=0.5)  # a finished job stays finished


def test_failure_cancel_and_requeue(brain):
    failing = brain.create_job("train", device="cuda")
    brain.claim_job(failing.id, worker="w", pid=1)
    assert brain.fail_job(failing.id, "ValueError: NaN in features")
    failed = brain.get_job(failing.id)
    assert (failed.state, failed.error) == ("failed", "ValueError: NaN in features")

    again = brain.requeue_job(failing.id)
    assert again.id != failing.id
    assert (again.state, again.kind, again.device) == ("queued", "train", "cuda")
    assert again.message == f"requeue of job {failing.id}"
    assert brain.get_job(failing.id).state == "failed"  # history kept
    with pytest.raises(BrainError, match="is queued; only a finished job can be requeued"):
        brain.requeue_job(again.id)

    assert brain.cancel_job(again.id)
    assert brain.get_job(again.id).state == "cancelled"
    assert not brain.claim_job(again.id, worker="w", pid=1)
    assert not brain.cancel_job(again.id)
    with pytest.raises(BrainError, match="no job 4242"):
        brain.get_job(4242)
    with pytest.raises(BrainError, match="no job 4242"):
        brain.update_job(4242, progress=0.1)


def test_list_jobs_newest_first(brain):
    ids = [brain.create_job("demo").id for _ in range(4)]
    brain.claim_job(ids[1], worker="w", pid=1)
    assert [j.id for j in brain.list_jobs()] == ids[::-1]
    assert [j.id for j in brain.list_jobs(limit=2)] == ids[:1:-1]
    assert [j.id for j in brain.list_jobs(states=["running"])] == [ids[1]]


def test_claim_next_takes_the_oldest_of_the_wanted_kinds(brain):
    demo = brain.create_job("demo")
    train = brain.create_job("train")
    assert brain.claim_next_job(worker="w", pid=1, kinds=["train"]).id == train.id
    assert brain.claim_next_job(worker="w", pid=1).id == demo.id
    assert brain.claim_next_job(worker="w", pid=1) is None


def test_racing_claimers_never_share_a_job(brain_url, brain):
    job_ids = {brain.create_job("train", params={"n": i}).id for i in range(24)}
    claimed: dict[str, list[int]] = {}
    errors = []
    start = threading.Barrier(4)

    def claimer(name: str) -> None:
        try:
            with open_brain(brain_url, migrate=False) as own:
                mine = claimed.setdefault(name, [])
                start.wait()
                while (job := own.claim_next_job(worker=name, pid=os.getpid())) is not None:
                    mine.append(job.id)
        except Exception as exc:  # reported below; a thread can't fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = [job_id for ids in claimed.values() for job_id in ids]
    assert sorted(everything) == sorted(job_ids)  # each job exactly once
    for name, ids in claimed.items():
        assert all(brain.get_job(i).worker == name for i in ids)


def test_stale_heartbeats_are_interrupted(brain, raw_engine):
    alive, stale, queued = (brain.create_job("train") for _ in range(3))
    for job in (alive, stale):
        brain.claim_job(job.id, worker="w1", pid=1)
    with raw_engine.begin() as conn:
        conn.execute(
            update(schema.jobs)
            .where(schema.jobs.c.id == stale.id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    assert brain.interrupt_running_jobs(stale_after_seconds=60) == [stale.id]
    reaped = brain.get_job(stale.id)
    assert reaped.state == "interrupted" and "no heartbeat for 60s" in reaped.message
    assert brain.get_job(alive.id).state == "running"
    assert brain.get_job(queued.id).state == "queued"
    assert not brain.update_job(stale.id, progress=0.9)  # the lost worker learns it


def test_interrupting_a_workers_jobs(brain):
    mine, theirs = brain.create_job("train"), brain.create_job("train")
    brain.claim_job(mine.id, worker="here", pid=1)
    brain.claim_job(theirs.id, worker="there", pid=2)
    assert brain.interrupt_running_jobs(worker="here") == [mine.id]
    assert brain.interrupt_job(theirs.id, "operator stopped it")
    assert brain.get_job(theirs.id).message == "operator stopped it"
    assert brain.interrupt_running_jobs() == []

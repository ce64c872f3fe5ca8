"""The leader's cadences come from the config: retrain rhythms (nightly incremental, weekly quick,
monthly full), drift checks, operator requests, the live loop, history frames, dispatch."""

from __future__ import annotations

from brain import open_brain
from scheduler.config import HuracanConfig
from scheduler.daemon.executor import LocalExecutor
from scheduler.daemon.headless import Leader, demo_config
from scheduler.services.live import demo_feeds

RHYTHMS = {"schedule": {"retrains": [{"cadence": "incremental", "every": "1d"},
                                     {"cadence": "quick", "every": "7d"},
                                     {"cadence": "full", "every": "30d"}],
                        "drift_every": "10m", "commands_every": "2s"}}


def _leader(url, config, feeds=None) -> Leader:
    return Leader(open_brain(url), config, LocalExecutor(url), feeds=feeds)


def test_retrain_rhythms_and_duties_are_scheduled_as_configured(any_brain_url):
    leader = _leader(any_brain_url, HuracanConfig.model_validate(RHYTHMS), feeds=[])
    every = {cadence.name: cadence.every for cadence in leader.schedule_entries()}
    assert every == {"retrain-incremental": 86400.0, "retrain-quick": 7 * 86400.0,
                     "retrain-full": 30 * 86400.0, "requests": 2.0, "drift": 600.0, "record": 60.0,
                     "dispatch": 2.0, "reap": 10.0}  # no live feeds: no live cadence
    with_feeds = _leader(any_brain_url, demo_config(HuracanConfig()), feeds=demo_feeds())
    cadences = {cadence.name: cadence for cadence in with_feeds.schedule_entries()}
    assert cadences["live"].every == 2.0 and cadences["live"].at_start
    assert cadences["retrain"].every == 86400.0  # without rhythms: retrain_every, training.cadence


def test_each_rhythm_queues_retrains_with_its_own_cadence(any_brain_url):
    with open_brain(any_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        brain.ensure_slot("EURUSD", "1h", "fwd_ret_1", 1)
    leader = _leader(any_brain_url, HuracanConfig.model_validate(RHYTHMS), feeds=[])
    nightly = next(c for c in leader.schedule_entries() if c.name == "retrain-incremental")
    queued = nightly.run()
    jobs = [leader.brain.get_job(job_id) for job_id in queued]
    assert sorted(job.slot_key for job in jobs) == ["EURUSD:1h:fwd_ret_1", "GOOG:1d:fwd_ret_1"]
    assert {job.params["training"]["cadence"] for job in jobs} == {"incremental"}
    weekly = next(c for c in leader.schedule_entries() if c.name == "retrain-quick")
    assert weekly.run() == []  # both slots already have a retrain queued: none twice

"""Toasts for what happens in the brain while an operator watches: a drift flag turning on or
off, champions changed, rollbacks (automatic ones said so), new queue items, jobs that ended.
Changes of state only, one toast per event, whoever caused it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brain import open_brain
from huracan_tui.console.notifications import events_between
from scheduler.services.overview import read_snapshot
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
T0 = datetime(2026, 1, 6, 8, tzinfo=UTC)


def _drift(brain, ts, drifted: int) -> None:
    brain.record_drift_results([
        {"feature": f"f{i}", "method": "psi", "statistic": 0.3 if i < drifted else 0.01, "threshold": 0.1,
         "drifted": int(i < drifted), "ts": ts} for i in range(8)
    ], slot_key=GOOG)


def test_events_between_two_snapshots(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        quiet = read_snapshot(brain)
        assert events_between(quiet, read_snapshot(brain)) == []
        brain.promote_version(GOOG, 1, actor="alice", reason="first")
        _drift(brain, T0, drifted=3)
        brain.enqueue("retrain", GOOG, rule="live_sharpe", reason="live Sharpe -0.4 < 0")
        changed = read_snapshot(brain)
        assert [(e.title, e.message) for e in events_between(quiet, changed)] == [
            ("Champion", f"{GOOG}: v1"),
            ("Drift detected", f"{GOOG}: 3 of 8 features drifted (PSI)"),
            ("Queue", f"{GOOG} is in the retrain queue (Q to review)"),
        ]
        _drift(brain, T0 + timedelta(minutes=30), drifted=3)  # checked again, the same verdict
        assert events_between(changed, read_snapshot(brain)) == []
        _drift(brain, T0 + timedelta(hours=1), drifted=0)  # the flag turns off
        brain.promote_version(GOOG, 2, actor="alice", reason="override", force=True)
        brain.rollback(GOOG, actor="scheduler", reason="live errors worse (DM p=0.001)", automatic=True)
        rolled = read_snapshot(brain)
        events = events_between(changed, rolled)
        assert [(e.title, e.message, e.severity) for e in events] == [
            ("Automatic rollback", f"{GOOG}: v2 → v1 by scheduler: live errors worse (DM p=0.001)",
             "warning"),
            ("Drift cleared", f"{GOOG}: no feature drifted at the newest check (PSI)", "information"),
        ]  # the champion went v1 -> v2 -> v1 between the polls: the rollback says it all


async def test_a_rollback_by_the_leader_is_toasted_in_the_console(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="first")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        with open_brain(seeded_brain_url) as brain:
            brain.promote_version(GOOG, 2, actor="alice", reason="override", force=True)
        await wait_until(pilot, lambda: any("v1 → v2" in n.message for n in app._notifications),
                         what="the promotion toast")
        with open_brain(seeded_brain_url) as brain:  # another process: the leader
            brain.rollback(GOOG, actor="scheduler", reason="live errors worse", automatic=True)
            _drift(brain, T0, drifted=5)
        await wait_until(pilot, lambda: any(n.title == "Automatic rollback" for n in app._notifications),
                         what="the rollback toast")
        await wait_until(pilot, lambda: any(n.title == "Drift detected" for n in app._notifications),
                         what="the drift toast")


def count_polls(app) -> list[object]:
    """The snapshots the app announced, one per poll that landed."""
    landed: list[object] = []
    announce = app._announce
    app._announce = lambda before, after: (landed.append(after), announce(before, after))
    return landed


async def test_a_drift_flag_that_stays_on_is_toasted_once(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        polls = count_polls(app)
        for hour in range(3):  # the leader checks again and again, finding the same 3 of 8
            with open_brain(seeded_brain_url) as brain:
                _drift(brain, T0 + timedelta(hours=hour), drifted=3)
            checked = T0 + timedelta(hours=hour)
            await wait_until(pilot, lambda t=checked: any(s.drift and s.drift.ts == t
                                                          for s in app.snapshot.slots),
                             what=f"check {hour} in the snapshot")
        seen = len(polls)
        await wait_until(pilot, lambda: len(polls) >= seen + 2, what="two more polls")
        drift = [n.message for n in app._notifications if n.title == "Drift detected"]
        assert drift == [f"{GOOG}: 3 of 8 features drifted (PSI)"]


async def test_one_promotion_by_this_console_is_one_toast(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="first")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        polls = count_polls(app)
        toasts_before = len(app._notifications)
        app.submit_request("promote", {"slot": GOOG, "version": 2, "reason": "beats v1", "force": True})
        await wait_until(pilot, lambda: any(s.slot == GOOG and s.champion == 2 for s in app.snapshot.slots),
                         what="v2 the champion in the snapshot")
        seen = len(polls)
        await wait_until(pilot, lambda: len(polls) >= seen + 2, what="two more polls")
        toasts = [(n.title, n.message) for n in list(app._notifications)[toasts_before:]]
        assert toasts == [("Champion", f"{GOOG}: v1 → v2")]

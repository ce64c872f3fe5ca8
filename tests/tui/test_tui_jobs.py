"""The Jobs view: progress, device, elapsed and ETA; operators cancel with a reason, viewers can't."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from textual.widgets import DataTable, Input

from brain import open_brain
from brain.schema import jobs
from huracan_tui.console.screens.confirm import ConfirmScreen
from huracan_tui.console.screens.jobs import JobsScreen
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"


def running_job(url: str, progress: float = 0.25) -> int:
    """A job a worker is running: started 60 s before the frozen clock, a quarter done."""
    with open_brain(url) as brain:
        job = brain.create_job("train", slot_key=GOOG, params={}, device="cpu")
        brain.claim_job(job.id, worker="host:1", pid=1)
        brain.update_job(job.id, progress=progress, message="fold 1 of 4")
        with brain._write() as connection:  # test set-up: pin the times the view shows
            connection.execute(update(jobs).where(jobs.c.id == job.id).values(
                created_at=FROZEN_NOW - timedelta(seconds=90), started_at=FROZEN_NOW - timedelta(seconds=60)))
        return job.id


def table(app) -> DataTable:
    return app.screen.query_one("#all-jobs", DataTable)


async def test_jobs_view_shows_progress_device_and_eta(seeded_brain_url):
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        assert isinstance(app.screen, JobsScreen)
        await wait_until(pilot, lambda: table(app).row_count == 1, what="the job row")
        row = [str(cell) for cell in table(app).get_row_at(0)]
        assert row[:5] == [str(job_id), f"train · {GOOG}", "running", "25.0%", "cpu"]
        assert row[5:7] == ["1:00", "3:00"]  # 60 s for 25 % -> 180 s to go


async def test_an_operator_cancels_a_job_with_a_reason(seeded_brain_url):
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: table(app).row_count == 1, what="the job row")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("enter")  # no reason: refused, still asking
        assert isinstance(app.screen, ConfirmScreen)
        app.screen.query_one(Input).value = "wrong data window"
        await pilot.press("enter")
        await wait_until(pilot, lambda: str(table(app).get_row_at(0)[2]) == "cancelled", what="cancelled")
    with open_brain(seeded_brain_url) as brain:
        assert brain.get_job(job_id).state == "cancelled"
        (entry,) = [e for e in brain.list_audit() if e.action == "job.cancel"]
        assert (entry.actor, entry.reason, entry.outcome, entry.target) == (
            "alice", "wrong data window", "ok", f"job {job_id}")


async def test_escape_at_the_confirmation_changes_nothing(seeded_brain_url):
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: table(app).row_count == 1, what="the job row")
        await pilot.press("c", "escape")
        assert isinstance(app.screen, JobsScreen)
    with open_brain(seeded_brain_url) as brain:
        assert brain.get_job(job_id).state == "running"
        assert not [e for e in brain.list_audit() if e.action == "job.cancel"]


async def test_a_viewer_cannot_cancel(seeded_brain_url):
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: table(app).row_count == 1, what="the job row")
        await pilot.press("c")
        assert isinstance(app.screen, JobsScreen)
    with open_brain(seeded_brain_url) as brain:
        assert brain.get_job(job_id).state == "running"


async def test_a_snapshot_arriving_while_the_jobs_view_composes_is_shown_once_it_mounts(seeded_brain_url):
    # CI once caught a poll landing between push_screen and the screen's compose: NoMatches.
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        app.push_screen(JobsScreen())
        app._show(app.snapshot)  # the screen is on the stack but not mounted yet
        await wait_until(pilot, lambda: app.screen.is_mounted and table(app).row_count == 1,
                         what="the job row")
        assert str(table(app).get_row_at(0)[0]) == str(job_id)


async def test_the_kind_column_says_what_each_job_trains_or_compares(seeded_brain_url):
    from scheduler.config import TrainingConfig
    from scheduler.services.job_params import compare_job_params, ensemble_job_params, train_job_params

    with open_brain(seeded_brain_url) as brain:
        train = brain.create_job("train", slot_key=GOOG, params=train_job_params(
            "GOOG", "1d", TrainingConfig.model_validate({"models": ["lightgbm", "lstm"]}))).id
        blend = brain.create_job("ensemble", slot_key=GOOG, params=ensemble_job_params([1, 2], "stacking")).id
        compare = brain.create_job("compare", slot_key=GOOG, params=compare_job_params(1, [2])).id
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: table(app).row_count == 3, what="the three jobs")
        kinds = {key.value: str(table(app).get_cell(key, "kind")) for key in table(app).rows}
        assert kinds == {str(train): f"train lightgbm, lstm · {GOOG}",
                         str(blend): f"ensemble stacking · {GOOG}",
                         str(compare): f"compare v2 vs v1 · {GOOG}"}

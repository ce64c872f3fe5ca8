"""The retrain dialog's `processes` field: offered for the neural kinds only, and a retrain queued
with 2 processes reaches the train job as `training.distributed` (what the worker hands the fit:
tests/cli/test_cli_train_distributed.py and tests/scheduler/test_sched_ddp_dask.py train across
two ranks from it and check the stored version)."""

from __future__ import annotations

from textual.widgets import Button, Select

from brain import open_brain
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.retrain import RetrainScreen
from scheduler.config import HuracanConfig
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_retrain import GOOG, choose, models_ready

TINY_LSTM = {"lookback": 4, "hidden_size": 4, "max_epochs": 1, "batch_size": 256, "device": "cpu"}


async def test_processes_is_offered_for_neural_kinds_and_reaches_the_training(seeded_brain_url, tmp_path):
    config = HuracanConfig.model_validate(
        {"console": {"refresh_seconds": 0.2}, "training": {"params": {"lstm": TINY_LSTM}}}
    )
    app = make_app(seeded_brain_url, config=config, worker_log=tmp_path / "worker.log")
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "t")  # rows sort by slot: EURUSD, then GOOG
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the retrain dialog")
        dialog = app.screen
        processes = dialog.query_one("#retrain-processes", Select)
        choose(dialog, kind="linear")
        await wait_until(pilot, lambda: not processes.display, what="processes hidden for linear")
        choose(dialog, kind="lstm")
        await wait_until(pilot, lambda: processes.display, what="processes offered for lstm")
        assert [value for _, value in processes._options] == [1, 2, 4, 8]
        choose(dialog, device="cpu", cadence="quick", processes=2)
        assert dialog.choice().command_args(GOOG)["processes"] == 2
        dialog.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the dialog closed")
        await wait_until(pilot, lambda: bool(app.brain.list_jobs()), what="the retrain job queued")
    with open_brain(seeded_brain_url) as brain:
        (job,) = brain.list_jobs()
        assert (job.kind, job.slot_key, job.device) == ("train", GOOG, "cpu")
        assert job.params["training"]["models"] == ["lstm"]
        assert job.params["training"]["distributed"] == {"processes": 2, "backend": "gloo"}

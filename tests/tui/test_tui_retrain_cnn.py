"""Retrain a slot as a CNN from the console: t opens the dialog, the operator picks `cnn`, and a
real worker trains it (tiny params from the config's training.params) and stores a cnn version."""

from __future__ import annotations

from textual.widgets import Button, Select

from brain import open_brain
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.retrain import RetrainScreen
from scheduler.config import HuracanConfig
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_retrain import GOOG, choose, models_ready

TINY_CNN = {"lookback": 8, "channels": 4, "kernel_size": 2, "levels": 2, "max_epochs": 2, "batch_size": 256,
            "device": "cpu"}  # fmt: skip
FINISHED = ("succeeded", "failed")


async def test_an_operator_retrains_a_slot_as_a_cnn_and_a_cnn_version_is_stored(seeded_brain_url, tmp_path):
    config = HuracanConfig.model_validate(
        {"console": {"refresh_seconds": 0.2}, "training": {"params": {"cnn": TINY_CNN}}}
    )
    app = make_app(seeded_brain_url, config=config, worker_log=tmp_path / "worker.log")
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "t")  # rows sort by slot: EURUSD, then GOOG
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the retrain dialog")
        dialog = app.screen
        offered = [value for _, value in dialog.query_one("#retrain-kind", Select)._options]
        assert "cnn" in offered and "cnn_classifier" not in offered  # a return target: the regressor
        choose(dialog, kind="cnn", device="cpu", cadence="quick")
        dialog.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the dialog closed")
        await wait_until(pilot, lambda: app.snapshot.jobs and app.snapshot.jobs[0].state in FINISHED,
                         timeout=240, what="the cnn retrain job to finish")  # fmt: skip
        assert app.snapshot.jobs[0].state == "succeeded", (tmp_path / "worker.log").read_text()[-2000:]
    with open_brain(seeded_brain_url) as brain:
        (job,) = brain.list_jobs()
        assert job.params["training"]["models"] == ["cnn"]
        latest = brain.latest_version(GOOG)
        assert (latest.number, latest.model_kind, latest.manifest["cadence"]) == (3, "cnn", "quick")
        params = latest.manifest["params"]
        assert (params["channels"], params["levels"], params["max_epochs"]) == (4, 2, 2)
        assert len(latest.manifest["folds"]) == 2

"""The Jobs view's loss curve: the selected job's loss and val_loss over epochs, updated in place
while it trains; jobs without epochs (non-neural) show no panel."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from brain import open_brain
from huracan_tui.console.widgets.loss_chart import LossChart
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_jobs import GOOG, running_job

LOSS = [1.00, 0.82, 0.71, 0.66, 0.62, 0.60]
VAL_LOSS = [1.10, 0.95, 0.90, 0.91, 0.89, 0.93]


def add_epochs(url: str, job_id: int, epochs: range, *, fold=0, kind="lstm") -> None:
    """Epoch events as the worker records them (step = a running count over the whole job)."""
    with open_brain(url) as brain:
        start = len(brain.job_events(job_id))
        for step, epoch in enumerate(epochs, start=start):
            brain.record_job_event(job_id, step, {
                "epoch": epoch, "loss": LOSS[epoch - 1], "val_loss": VAL_LOSS[epoch - 1], "max_epochs": 6,
                "device": "cpu", "model_kind": kind, "fold": fold, "slot": GOOG})


def neural_job(url: str, epochs: int = 4) -> int:
    job_id = running_job(url)
    add_epochs(url, job_id, range(1, epochs + 1))
    return job_id


def chart(app) -> LossChart:
    return app.screen.query_one(LossChart)


def summary(app) -> str:
    return str(chart(app).query_one("#loss-summary", Static).render())


async def test_the_selected_neural_job_shows_its_loss_curve_and_it_grows_in_place(seeded_brain_url):
    job_id = neural_job(seeded_brain_url, epochs=4)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: chart(app).display, what="the loss chart")
        plot = chart(app).query_one("#loss-plot")
        assert chart(app).curve.loss == LOSS[:4] and chart(app).curve.val_loss == VAL_LOSS[:4]
        assert summary(app) == (f"lstm · fold 1 · {GOOG} · epoch 4/6 · loss 0.6600 · "
                                "val_loss 0.9100 (best 0.9000)")
        # Labelled: the axes say what they are and the legend names each line.
        drawn = plot.plt.build()
        assert "epoch" in drawn and "loss" in drawn and "val_loss" in drawn
        add_epochs(seeded_brain_url, job_id, range(5, 7))
        await wait_until(pilot, lambda: chart(app).curve.loss == LOSS, what="the new epochs")
        assert chart(app).query_one("#loss-plot") is plot  # redrawn, not rebuilt
        assert "epoch 6/6" in summary(app)
        # The next fold starts a new curve.
        add_epochs(seeded_brain_url, job_id, range(1, 3), fold="final")
        await wait_until(pilot, lambda: chart(app).curve.loss == LOSS[:2], what="the final fit's curve")
        assert summary(app).startswith(f"lstm · final fit · {GOOG} · epoch 2/6")


async def test_a_job_without_epochs_shows_no_panel(seeded_brain_url):
    neural = neural_job(seeded_brain_url)
    with open_brain(seeded_brain_url) as brain:
        plain = brain.create_job("train", slot_key=GOOG, params={}, device="cpu").id
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        table = app.screen.query_one("#all-jobs", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, what="both jobs")
        assert str(table.get_row_at(0)[0]) == str(plain)  # newest first, and selected
        await pilot.pause(0.5)  # a few polls: the plain job's events stay empty
        assert not chart(app).display
        await pilot.press("down")
        await wait_until(pilot, lambda: chart(app).display, what="the neural job's chart")
        assert str(table.get_row_at(1)[0]) == str(neural)
        await pilot.press("up")
        await wait_until(pilot, lambda: not chart(app).display, what="the chart hidden again")


async def test_an_agents_job_shows_its_loss_and_its_episode_reward(seeded_brain_url):
    """A DQN fit reports no loss before it first learns and no reward before an episode ends:
    the chart draws each series where it has values, the reward on its own axis."""
    job_id = running_job(seeded_brain_url)
    records = [(1, None, None), (2, None, -0.4), (3, 0.031, -0.1), (4, 0.027, 0.35)]
    with open_brain(seeded_brain_url) as brain:
        for step, (epoch, loss, reward) in enumerate(records):
            brain.record_job_event(job_id, step, {
                "epoch": epoch, "loss": loss, "episode_reward": reward, "max_epochs": 4,
                "timesteps": 250 * epoch, "model_kind": "dqn", "fold": 0, "slot": GOOG})
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: chart(app).display, what="the agent's chart")
        curve = chart(app).curve
        assert curve.loss == [0.031, 0.027] and curve.loss_epochs == [3, 4]
        assert curve.episode_reward == [(2, -0.4), (3, -0.1), (4, 0.35)]
        assert summary(app) == f"dqn · fold 1 · {GOOG} · epoch 4/4 · loss 0.0270 · episode reward 0.350"
        drawn = chart(app).query_one("#loss-plot").plt.build()
        assert "episode reward" in drawn and "loss" in drawn


async def test_a_curve_of_more_than_ten_epochs_is_drawn_with_plotexts_own_ticks(seeded_brain_url):
    """Whole epochs label the axis up to ten; a longer fit (an agent's twenty reports, an LSTM's
    fifty epochs) is drawn too, where it once took the Jobs view down."""
    job_id = running_job(seeded_brain_url)
    with open_brain(seeded_brain_url) as brain:
        for step in range(14):
            brain.record_job_event(job_id, step, {
                "epoch": step + 1, "loss": 1.0 / (step + 1), "max_epochs": 14, "device": "cpu",
                "model_kind": "lstm", "fold": 0, "slot": GOOG})
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("J")
        await wait_until(pilot, lambda: chart(app).display, what="the loss chart")
        assert len(chart(app).curve.loss) == 14 and "epoch 14/14" in summary(app)
        assert "loss" in chart(app).query_one("#loss-plot").plt.build()

"""The Replay view: frames the leader recorded, opened by key and by `:replay`, stepped back and
forward to show the older state (another champion, other queue items, other drift)."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable, Sparkline, Static

from brain import open_brain
from huracan_tui.console.prompt import PromptError, parse_prompt
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.replay import ReplayScreen, cursor_columns
from scheduler.daemon.recorder import record_console_frames
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"
HOUR = timedelta(hours=1)


def record_history(brain_url: str) -> None:
    """Three frames an hour apart: no champion; GOOG v1 with live numbers, a retrain queued and
    two features drifting; GOOG v2 (no live numbers yet) with the queue empty and the drift gone."""
    with open_brain(brain_url) as brain:
        record_console_frames(brain, now=FROZEN_NOW - 3 * HOUR)
        brain.promote_version(GOOG, 1, actor="alice", reason="first", at=FROZEN_NOW - 3 * HOUR)
        brain.record_metrics(brain.get_version(GOOG, 1).id, [
            {"name": f"live_{name}", "value": value, "scope": "live"}
            for name, value in (("sharpe", 0.8), ("win_rate", 0.54), ("mae", 95.1), ("n", 40.0))])
        item = brain.enqueue("retrain", GOOG, rule="drift", reason="rsi_14 and obv drifted",
                             now=FROZEN_NOW - 2 * HOUR)
        features = brain.latest_version(GOOG).manifest["features"][:3]
        brain.record_drift_results(
            [{"feature": name, "method": "psi", "statistic": 0.3 if position < 2 else 0.01, "threshold": 0.1,
              "drifted": position < 2, "details": {"dataset_drift": True}}
             for position, name in enumerate(features)],
            slot_key=GOOG, ts=FROZEN_NOW - 2 * HOUR)
        record_console_frames(brain, now=FROZEN_NOW - 2 * HOUR)
        brain.promote_version(GOOG, 2, actor="alice", reason="retrained", force=True, at=FROZEN_NOW - HOUR)
        brain.decide_queue_item(item.id, approve=False, actor="alice", reason="done by hand")
        brain.record_drift_results(
            [{"feature": name, "method": "psi", "statistic": 0.01, "threshold": 0.1, "drifted": False,
              "details": {"dataset_drift": False}} for name in features],
            slot_key=GOOG, ts=FROZEN_NOW - HOUR)
        record_console_frames(brain, now=FROZEN_NOW - HOUR)


def slots_table(app) -> DataTable:
    return app.screen.query_one("#replay-slots", DataTable)


def cell(app, slot: str, column: str) -> str:
    return str(slots_table(app).get_cell(slot, column)).strip()


def title(app) -> str:
    return str(app.screen.query_one("#replay-title", Static).render())


def loaded(app) -> bool:
    return isinstance(app.screen, ReplayScreen) and app.screen.steps is not None


async def test_replay_opens_by_key_and_steps_back_to_the_older_champion(seeded_brain_url):
    record_history(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("H")
        await wait_until(pilot, lambda: loaded(app), what="the recorded frames")
        screen = app.screen
        assert len(screen.steps) == 3 and screen.index == 2  # opens on the newest frame
        assert "2026-01-05 11:00:00 UTC" in title(app) and "frame 3 of 3" in title(app)
        assert cell(app, GOOG, "champion") == "v2" and cell(app, EURUSD, "champion") == "-"
        assert cell(app, GOOG, "queue") == "-" and cell(app, GOOG, "live_sharpe") == "-"
        assert cell(app, GOOG, "drift") == "ok 0/3"
        assert screen.query_one("#replay-queue", DataTable).row_count == 0
        assert list(screen.query_one("#timeline-drift", Sparkline).data) == [0, 2, 0]
        assert list(screen.query_one("#timeline-queue", Sparkline).data) == [0, 1, 0]

        await pilot.press("left")  # the table has focus: the arrow still steps through frames
        await wait_until(pilot, lambda: screen.index == 1, what="one frame back")
        assert "10:00:00" in title(app) and "frame 2 of 3" in title(app)
        assert cell(app, GOOG, "champion") == "v1" and cell(app, GOOG, "version") == "v2"
        assert cell(app, GOOG, "queue") == "retrain 1"  # as the Models view showed it
        assert (cell(app, GOOG, "live_sharpe"), cell(app, GOOG, "live_hit"), cell(app, GOOG, "live_n")) == (
            "+0.80", "54.0%", "40")
        assert cell(app, GOOG, "drift") == "⚠ 2/3"
        queue = screen.query_one("#replay-queue", DataTable)
        assert queue.row_count == 1 and "rsi_14 and obv drifted" in str(queue.get_row_at(0)[-1])

        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: screen.index == 0, what="the oldest frame")
        assert cell(app, GOOG, "champion") == "-"
        await pilot.press("left")  # already the oldest: stays
        assert screen.index == 0
        await pilot.press("right_square_bracket", "right")
        await wait_until(pilot, lambda: screen.index == 2, what="forward to the newest")
        assert cell(app, GOOG, "champion") == "v2"
        await pilot.press("home")
        await wait_until(pilot, lambda: screen.index == 0, what="Home: the oldest")
        await pilot.press("end")
        await wait_until(pilot, lambda: screen.index == 2, what="End: the newest")

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back to Models")


async def test_replay_command_takes_the_window_in_hours(seeded_brain_url):
    record_history(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"replay 2", "enter")
        await wait_until(pilot, lambda: loaded(app), what="the last two hours")
        assert [step.ts for step in app.screen.steps] == [FROZEN_NOW - 2 * HOUR, FROZEN_NOW - HOUR]
        assert "last 2h" in title(app)
        await pilot.press("colon", *"replay 0.5", "enter")  # the frame before the window: the state then
        await wait_until(pilot, lambda: loaded(app) and len(app.screen.steps) == 1, what="half an hour")
        assert app.screen.steps[0].ts == FROZEN_NOW - HOUR and cell(app, GOOG, "champion") == "v2"


async def test_replay_without_frames_says_how_they_get_there(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("H")
        await wait_until(pilot, lambda: loaded(app), what="no frames")
        assert app.screen.query_one("#empty-hint").display
        assert "huracan-tui --headless" in str(app.screen.query_one("#empty-hint", Static).render())
        assert not slots_table(app).display
        await pilot.press("left", "end")  # nothing to step through: no error
        assert app.screen.steps == []


def test_replay_command_refuses_a_bad_window():
    assert parse_prompt("replay", []).argument == ""
    assert parse_prompt(":replay 6", []).argument == "6"
    for text, message in (("replay soon", "number of hours"), ("replay 0", "between 0 and 720"),
                          ("replay 1000", "between 0 and 720"), ("replay nan", "between 0 and 720")):
        try:
            parse_prompt(text, [])
        except PromptError as error:
            assert message in str(error)
        else:
            raise AssertionError(f"{text!r} was accepted")


def test_the_cursor_sits_under_the_sparkline_column_of_its_frame():
    assert cursor_columns(0, 3, 6) == [0, 1] and cursor_columns(2, 3, 6) == [4, 5]
    assert cursor_columns(5, 10, 5) == [2]  # more frames than columns: its bucket
    assert cursor_columns(0, 1, 4) == [0, 1, 2, 3]
    assert cursor_columns(0, 0, 4) == []


async def test_a_replayed_frame_is_what_the_models_view_showed_then(seeded_brain_url):
    """The console flags drift by its method's newest check (PSI: 1 of 3 features); a KS check
    at the same time flags all 3. The replay once counted every method's (3/3); it shows 1/3,
    every shared column as the Models view had it."""
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="first", at=FROZEN_NOW - 2 * HOUR)
        brain.record_metrics(brain.get_version(GOOG, 1).id, [
            {"name": f"live_{name}", "value": value, "scope": "live"}
            for name, value in (("sharpe", 0.8), ("win_rate", 0.54), ("mae", 95.1), ("n", 12.0))])
        brain.enqueue("retrain", GOOG, rule="drift", reason="drifted", now=FROZEN_NOW - 2 * HOUR)
        features = brain.latest_version(GOOG).manifest["features"][:3]
        for method, drifted in (("psi", 1), ("ks", 3)):
            brain.record_drift_results(
                [{"feature": name, "method": method, "statistic": 0.3, "threshold": 0.1,
                  "drifted": position < drifted} for position, name in enumerate(features)],
                slot_key=GOOG, ts=FROZEN_NOW - HOUR)
        record_console_frames(brain, now=FROZEN_NOW - HOUR)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(200, 40)) as pilot:  # wide: every Models column shown
        await wait_until(pilot, lambda: app.snapshot is not None
                         and app.screen.query_one("#models", DataTable).row_count == 2, what="the slots")
        models = app.screen.query_one("#models", DataTable)
        shown = {key.value: str(models.get_cell(GOOG, key)).strip() for key in models.columns}
        assert shown["drift"] == "⚠ 1/3"
        await pilot.press("H")
        await wait_until(pilot, lambda: loaded(app), what="the recorded frame")
        replayed = {key.value: cell(app, GOOG, key.value) for key in slots_table(app).columns}
        assert replayed["drift"] == "⚠ 1/3"
        assert {key: shown[key] for key in replayed} == replayed

"""A named snapshot of every screen at 120×40 and 80×24, on a brain with frozen data and clock.

Regenerate after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the report before committing."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from huracan_tui.console.screens.demo import DemoOfferScreen
from tests.tui.helpers import make_app, tables_measured, wait_until

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]


@pytest.fixture(autouse=True)
def home_is_the_tests_folder(tmp_path, monkeypatch) -> None:
    """The status bar names the brain's file from the home directory (`~/brain.db`): the same
    header in every run, wherever pytest keeps its temporary folders."""
    monkeypatch.setenv("HOME", str(tmp_path))


def _slot_rows(app) -> int:
    return app.screen.query_one("#models", DataTable).row_count


def _stop_polling(app) -> None:
    """Hold the view still: no poll may land between the wait and the picture."""
    app.refresh_now = lambda: None
    if app._timer is not None:
        app._timer.stop()


async def _models_loaded(pilot) -> None:
    await wait_until(pilot, lambda: _slot_rows(pilot.app) == 2, what="slot rows")
    _stop_polling(pilot.app)
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_models_view(snap_compare, seeded_brain_url, size):
    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=_models_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_model_detail(snap_compare, seeded_brain_url, size):
    async def open_goog(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: pilot.app.screen.query_one("#folds", DataTable).row_count == 3,
                         what="fold rows")
        await wait_until(pilot, lambda: pilot.app.screen.query_one("#equity-live").summary,
                         what="equity lines")
        await tables_measured(pilot)

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_goog)


@pytest.mark.parametrize("size", SIZES)
def test_model_detail_with_live_equity(snap_compare, seeded_brain_url, size):
    """GOOG's champion with 60 matured forecasts since its promotion: its live equity curve."""
    from huracan_tui.console.widgets.equity_chart import EquityChart
    from tests.scheduler.test_sched_equity import seed_live_equity

    seed_live_equity(seeded_brain_url)

    async def open_goog(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: pilot.app.screen.query("#equity-live")
                         and "since" in pilot.app.screen.query_one("#equity-live", EquityChart).summary,
                         what="the live equity curve")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_goog)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, seeded_brain_url, size):
    async def open_help(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_help)


@pytest.mark.parametrize("size", SIZES)
def test_demo_offer(snap_compare, empty_brain_url, size):
    async def offered(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DemoOfferScreen),
                         what="demo offer")
        _stop_polling(pilot.app)
        await pilot.pause()

    assert snap_compare(make_app(empty_brain_url), terminal_size=size, run_before=offered)


@pytest.mark.parametrize("size", SIZES)
def test_data_view(snap_compare, seeded_brain_url, size):
    from tests.tui.test_tui_data import store_reports

    store_reports(seeded_brain_url)

    async def open_data(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("D")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(DataTable).row_count > 0,
                         what="report rows")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_data)


@pytest.mark.parametrize("size", SIZES)
def test_command_line(snap_compare, seeded_brain_url, size):
    async def type_command(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("colon", *"slot GO")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=type_command)


@pytest.mark.parametrize("size", SIZES)
def test_models_view_read_only_filtered(snap_compare, seeded_brain_url, size):
    async def filtered(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("slash", *"eur", "enter")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url, read_only=True), terminal_size=size,
                        run_before=filtered)


@pytest.mark.parametrize("size", SIZES)
def test_jobs_view_and_cancel_confirmation(snap_compare, seeded_brain_url, size):
    from tests.tui.test_tui_jobs import running_job

    running_job(seeded_brain_url)

    async def confirm_cancel(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("J")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(DataTable).row_count == 1,
                         what="the job row")
        await pilot.press("c")
        await pilot.press(*"bad data")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=confirm_cancel)


@pytest.mark.parametrize("size", SIZES)
def test_jobs_view_with_a_loss_curve(snap_compare, seeded_brain_url, size):
    from huracan_tui.console.widgets.loss_chart import LossChart
    from tests.tui.test_tui_loss import neural_job

    neural_job(seeded_brain_url, epochs=6)

    async def loss_curve(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("J")
        await wait_until(pilot, lambda: pilot.app.screen.query_one(LossChart).display, what="the loss chart")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=loss_curve)


@pytest.mark.parametrize("size", SIZES)
def test_retrain_dialog(snap_compare, seeded_brain_url, size):
    async def retrain(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "champion_loaded", False),
                         what="the champion's spec in the dialog")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=retrain)


@pytest.mark.parametrize("size", SIZES)
def test_replay_view_one_frame_back(snap_compare, seeded_brain_url, size):
    from huracan_tui.console.screens.replay import ReplayScreen
    from tests.tui.test_tui_replay import record_history

    record_history(seeded_brain_url)

    async def one_frame_back(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("H")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen)
                         and pilot.app.screen.steps is not None, what="the recorded frames")
        await pilot.press("left")
        await wait_until(pilot, lambda: pilot.app.screen.index == 1, what="one frame back")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=one_frame_back)


@pytest.mark.parametrize("size", SIZES)
def test_drift_view(snap_compare, seeded_brain_url, size):
    from tests.tui.test_tui_drift import EURUSD, store_drift_checks

    store_drift_checks(seeded_brain_url, EURUSD)

    async def open_drift(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("F")
        await wait_until(pilot, lambda: pilot.app.screen.query(DataTable)
                         and pilot.app.screen.query_one(DataTable).row_count > 0, what="drift rows")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_drift)


@pytest.mark.parametrize("size", SIZES)
def test_drift_feature_distributions(snap_compare, seeded_brain_url, size):
    from tests.tui.test_tui_drift import EURUSD, store_drift_checks

    store_drift_checks(seeded_brain_url, EURUSD)

    async def drill_in(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("F")
        await wait_until(pilot, lambda: pilot.app.screen.query(DataTable)
                         and pilot.app.screen.query_one(DataTable).row_count > 0, what="drift rows")
        await pilot.press("enter")
        await wait_until(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None,
                         what="the distributions")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=drill_in)


@pytest.mark.parametrize("size", SIZES)
def test_importance_view(snap_compare, seeded_brain_url, size):
    from tests.tui.test_tui_importance import EURUSD, store_shifting_importance

    store_shifting_importance(seeded_brain_url, EURUSD)

    async def open_importance(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("I")
        await wait_until(pilot, lambda: pilot.app.screen.query("#importance")
                         and pilot.app.screen.query_one("#importance", DataTable).row_count > 0,
                         what="importance rows")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_importance)


@pytest.mark.parametrize("size", SIZES)
def test_compare_view_with_a_stored_comparison(snap_compare, seeded_brain_url, size):
    from tests.tui.test_tui_compare import EURUSD, store_comparison

    store_comparison(seeded_brain_url, EURUSD)

    async def open_compare(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("C")
        await wait_until(pilot, lambda: pilot.app.screen.query("#results")
                         and pilot.app.screen.query_one("#results", DataTable).row_count > 0,
                         what="comparison rows")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_compare)


def _lifecycle_app(url: str):
    from tests.tui.test_tui_audit import store_lifecycle

    store_lifecycle(url)
    return make_app(url)


async def _rows_in(pilot, table_id: str, rows: int) -> None:
    await wait_until(pilot, lambda: pilot.app.screen.query(f"#{table_id}")
                     and pilot.app.screen.query_one(f"#{table_id}", DataTable).row_count == rows,
                     what=f"{table_id} rows")
    await pilot.pause()


async def _open_registry(pilot) -> None:
    await _models_loaded(pilot)
    await pilot.press("down", "G")  # GOOG, the second row
    await _rows_in(pilot, "timeline", 4)


@pytest.mark.parametrize("size", SIZES)
def test_registry_view(snap_compare, seeded_brain_url, size):
    assert snap_compare(_lifecycle_app(seeded_brain_url), terminal_size=size, run_before=_open_registry)


@pytest.mark.parametrize("size", SIZES)
def test_promote_dialog_offering_force(snap_compare, seeded_brain_url, size):
    async def promote(pilot) -> None:
        await _open_registry(pilot)
        await pilot.press("down", "P")  # v1, a challenger never compared with champion v2
        await wait_until(pilot, lambda: pilot.app.screen.query("#promote-force"), what="the dialog")
        await pilot.pause()

    assert snap_compare(_lifecycle_app(seeded_brain_url), terminal_size=size, run_before=promote)


@pytest.mark.parametrize("size", SIZES)
def test_rollback_dialog(snap_compare, seeded_brain_url, size):
    async def rollback(pilot) -> None:
        await _open_registry(pilot)
        await pilot.press("R")
        await wait_until(pilot, lambda: pilot.app.screen.query("#rollback-to"), what="the dialog")
        await pilot.pause()

    assert snap_compare(_lifecycle_app(seeded_brain_url), terminal_size=size, run_before=rollback)


@pytest.mark.parametrize("size", SIZES)
def test_rollback_log_with_evidence(snap_compare, seeded_brain_url, size):
    async def rollbacks(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("L")
        await _rows_in(pilot, "rollbacks", 2)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(_lifecycle_app(seeded_brain_url), terminal_size=size, run_before=rollbacks)


@pytest.mark.parametrize("size", SIZES)
def test_audit_log(snap_compare, seeded_brain_url, size):
    async def audit(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("A")
        await wait_until(pilot, lambda: pilot.app.screen.query("#audit")
                         and pilot.app.screen.query_one("#audit", DataTable).row_count > 5, what="audit rows")
        await pilot.pause()

    assert snap_compare(_lifecycle_app(seeded_brain_url), terminal_size=size, run_before=audit)


@pytest.mark.parametrize("size", SIZES)
def test_queues_view(snap_compare, seeded_brain_url, size):
    async def queues(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("Q")
        await _rows_in(pilot, "queue-items", 2)

    assert snap_compare(_lifecycle_app(seeded_brain_url), terminal_size=size, run_before=queues)


@pytest.mark.parametrize("size", SIZES)
def test_models_view_with_the_live_loop(snap_compare, seeded_brain_url, size):
    """Champions, live numbers with their trend, a drift flag and a queue item, as a leader leaves them."""
    from datetime import UTC, datetime, timedelta

    from brain import open_brain

    checked = datetime(2026, 1, 6, 8, tzinfo=UTC)
    with open_brain(seeded_brain_url) as brain:
        for slot, number in (("GOOG:1d:fwd_ret_1", 1), ("EURUSD:1h:fwd_ret_1", 2)):
            brain.promote_version(slot, number, actor="scheduler", reason="first champion", at=checked)
            version = brain.get_version(slot, number)
            sharpes = [0.9, 1.1, 0.7, 0.4, 0.2, -0.1, -0.3] if number == 1 else [-0.5, 0.1, 0.6, 0.8]
            brain.record_metrics(version.id, [
                {"name": f"live_{name}", "value": value, "scope": "live", "ts": checked + timedelta(hours=i)}
                for i, sharpe in enumerate(sharpes)
                for name, value in (("sharpe", sharpe), ("win_rate", 0.5 + sharpe / 10), ("n", 50.0))
            ])
        brain.record_drift_results([
            {"feature": f"f{i}", "method": "psi", "statistic": 0.3 if i < 3 else 0.02, "threshold": 0.1,
             "drifted": int(i < 3), "ts": checked} for i in range(8)
        ], slot_key="GOOG:1d:fwd_ret_1")
        brain.enqueue("retrain", "GOOG:1d:fwd_ret_1", rule="live_sharpe", reason="live Sharpe -0.30 < 0",
                      now=checked)
    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=_models_loaded)


@pytest.mark.parametrize("size", SIZES)
def test_notifications_view(snap_compare, seeded_brain_url, size):
    async def open_notifications(pilot) -> None:
        await _models_loaded(pilot)
        app = pilot.app
        app.notify("Job 7 (train GOOG:1d:fwd_ret_1) finished: stored 1 version", title="Job finished")
        app.notify("GOOG:1d:fwd_ret_1: 3 of 8 features drifted (PSI)", title="Drift detected",
                   severity="warning")
        app.notify("Job 8 (train EURUSD:1h:fwd_ret_1) failed: worker lost", title="Job failed",
                   severity="error")
        await pilot.press("N")
        await wait_until(pilot, lambda: app.screen.query("#notifications")
                         and app.screen.query_one("#notifications", DataTable).row_count == 3,
                         what="three notifications")
        app.clear_notifications()  # the view, not the toasts over it
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_notifications)


@pytest.mark.parametrize("size", SIZES)
def test_regimes_view(snap_compare, seeded_brain_url, size):
    from datetime import UTC, datetime

    from brain import open_brain
    from huracan_tui.console.screens.regimes import RegimesScreen

    with open_brain(seeded_brain_url) as brain:
        brain.promote_version("EURUSD:1h:fwd_ret_1", 1, actor="scheduler", reason="first champion",
                              at=datetime(2026, 1, 6, 8, tzinfo=UTC))

    async def open_regimes(pilot) -> None:
        await _models_loaded(pilot)
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, RegimesScreen)
                         and pilot.app.screen.query_one("#regime-heatmap", DataTable).row_count == 2,
                         what="the regime map")
        await pilot.pause()

    assert snap_compare(make_app(seeded_brain_url), terminal_size=size, run_before=open_regimes)

"""A named snapshot of every screen at 120×40 and 80×24, on a brain with frozen data and clock.

Regenerate after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`
and look at the report before committing."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from huracan_tui.screens.demo import DemoOfferScreen
from tests.tui.helpers import make_app, wait_until

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]


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

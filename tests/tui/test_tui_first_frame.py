"""The console's start on a big brain: huracan-tui reads the first snapshot before Textual starts;
the first frame is built with one screenful of rows (in the default order, by slot key) and every
slot follows right after that frame is painted."""

from __future__ import annotations

from textual.widgets import DataTable

from brain import open_brain
from huracan_tui.console.screens.models import FIRST_FRAME_ROWS, ModelsScreen
from scheduler.config import HuracanConfig
from scheduler.services.overview import read_snapshot
from tests.conftest import sqlite_url
from tests.tui.helpers import make_app, wait_until

SLOTS = FIRST_FRAME_ROWS + 40


async def test_a_big_brain_paints_a_screenful_first_then_every_slot_in_key_order(tmp_path, monkeypatch):
    url = sqlite_url(tmp_path / "brain.db")
    with open_brain(url) as brain:
        for index in reversed(range(SLOTS)):  # created out of order: the view sorts by key
            brain.ensure_slot(f"S{index:03d}", "1h", "fwd_ret_1", 1)
        first = read_snapshot(brain)
    rows_in_first_frame: list[int] = []
    mount = ModelsScreen.on_mount

    def mounted(screen) -> None:
        mount(screen)
        rows_in_first_frame.append(screen.query_one("#models", DataTable).row_count)

    monkeypatch.setattr(ModelsScreen, "on_mount", mounted)
    # No poll before the first frame: the rest of the rows come from the app after it is painted.
    config = HuracanConfig.model_validate({"console": {"refresh_seconds": 60}})
    app = make_app(url, snapshot=first, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#models", DataTable)
        await wait_until(pilot, lambda: table.row_count == SLOTS, what="every slot")
        keys = [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]
        assert keys == sorted(slot.slot for slot in first.slots)
        assert str(app.screen.query_one("#models-title").render()).startswith("Models  ·  sorted by Slot")
    assert rows_in_first_frame == [FIRST_FRAME_ROWS]


async def test_a_leader_that_cannot_be_started_is_told_and_the_console_goes_on(seeded_brain_url):
    from brain import BrainError

    def no_leader() -> None:
        raise BrainError("database is locked")

    app = make_app(seeded_brain_url, after_first_paint=no_leader)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: any("No scheduler was started" in str(n.message)
                                            for n in app._notifications), what="the warning")
        assert app.is_running and app.screen.query_one("#models", DataTable).row_count == 2


def test_the_program_collects_garbage_again_once_the_first_frame_is_painted(monkeypatch):
    """huracan-tui holds the cyclic collector off while it starts (imports, the first snapshot);
    after the first paint it freezes what the start made and collects as usual."""
    import gc

    from huracan_tui import main

    monkeypatch.setattr(main, "STARTING_PROGRAM", True)
    gc.disable()
    try:
        main._after_first_paint(None)
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()

"""The console's start on a big brain: huracan-tui reads the first snapshot before Textual starts;
the first frame is built with one screenful of rows (in the default order, by slot key) and every
slot follows right after that frame is painted."""

from __future__ import annotations

from textual.widgets import DataTable

from brain import open_brain
from huracan_tui.screens.models import FIRST_FRAME_ROWS
from huracan_tui.snapshot import read_snapshot
from tests.conftest import sqlite_url
from tests.tui.helpers import make_app, wait_until

SLOTS = FIRST_FRAME_ROWS + 40


async def test_a_big_brain_paints_a_screenful_first_then_every_slot_in_key_order(tmp_path):
    url = sqlite_url(tmp_path / "brain.db")
    with open_brain(url) as brain:
        for index in reversed(range(SLOTS)):  # created out of order: the view sorts by key
            brain.ensure_slot(f"S{index:03d}", "1h", "fwd_ret_1", 1)
        first = read_snapshot(brain)
    app = make_app(url, snapshot=first)
    rows_when_painted: list[int] = []
    first_frame_painted = app._first_frame_painted

    def painted() -> None:
        rows_when_painted.append(app.screen.query_one("#models", DataTable).row_count)
        first_frame_painted()

    app._first_frame_painted = painted
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#models", DataTable)
        await wait_until(pilot, lambda: table.row_count == SLOTS, what="every slot")
        keys = [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(table.row_count)]
        assert keys == sorted(slot["slot"] for slot in first.slots)
        assert str(app.screen.query_one("#models-title").render()).startswith("Models  ·  sorted by Slot")
    assert rows_when_painted == [FIRST_FRAME_ROWS]

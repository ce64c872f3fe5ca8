"""The Regimes view (issue 17): every slot's regime now, a versions × regimes heatmap of the regime
map with bar counts, a timeline strip of the slot's regimes; `a` cycles the axis, Enter picks a
slot, Esc goes back. It reads stored labels only: the console never labels bars (nor loads torch
or hmmlearn)."""

from __future__ import annotations

import json
import subprocess
import sys

from textual.widgets import DataTable, Static

from brain import open_brain
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.regimes import GLYPHS, RegimesScreen, buckets
from scheduler.services.regime_map import regime_map
from scheduler.services.regimes import current_regimes
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def heatmap(app) -> DataTable:
    return app.screen.query_one("#regime-heatmap", DataTable)


def loaded(app, slot: str, axis: str) -> bool:
    screen = app.screen
    return (isinstance(screen, RegimesScreen) and screen.data is not None and screen.data.slot == slot
            and screen.data.axis == axis and heatmap(app).row_count > 0)


async def test_regimes_view_shows_current_regimes_heatmap_with_counts_and_timeline(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(EURUSD, 1, actor="alice", reason="a champion to test against")
        now = {slot: current_regimes(brain, slot) for slot in (GOOG, EURUSD)}
        expected = regime_map(brain, EURUSD, axis="trend")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("M")
        await wait_until(pilot, lambda: loaded(app, EURUSD, "trend"), what="the regime map of EURUSD")
        slots = app.screen.query_one("#regime-slots", DataTable)
        assert slots.row_count == 2
        for slot in (GOOG, EURUSD):
            row = slots.get_row(slot)
            for cell, axis in zip(row[1:3], ("vol", "trend"), strict=True):
                assert str(cell) == f"{GLYPHS[now[slot][axis]]} {now[slot][axis]}", (slot, axis)
        # One column per regime with its bar count; one row per version; each cell its value and n.
        table = heatmap(app)
        columns = [str(column.label) for column in table.columns.values()]
        assert columns[2:] == [f"{GLYPHS[r.regime]} {r.regime} ({r.bars})" for r in expected.regimes]
        assert table.row_count == 2
        assert str(table.get_row("1")[0]) == "v1 ●"  # the champion
        for index, ranking in enumerate(expected.regimes):
            for standing in ranking.standings:
                cell = str(table.get_row(str(standing.version))[2 + index])
                assert cell.endswith(f"n{standing.n}") and f"{standing.value:+.2f}" in cell
                assert cell.startswith("★") == (standing.rank == 1)
        timeline = str(app.screen.query_one("#regime-timeline", Static).render())
        strip = timeline.splitlines()[0].removeprefix("trend  ")
        assert 10 <= len(strip) <= 120 and set(strip) <= {"▲", "▼", "─", " "} and "─" in strip
        assert f"now: {GLYPHS[expected.current]} {expected.current}" in timeline

        await pilot.press("a")  # the next axis
        await wait_until(pilot, lambda: loaded(app, EURUSD, "vol"), what="the vol axis")
        columns = [str(column.label) for column in heatmap(app).columns.values()]
        assert [c.split(" ")[1] for c in columns[2:]] == ["low", "normal", "high"]

        slots = app.screen.query_one("#regime-slots", DataTable)
        slots.focus()
        slots.move_cursor(row=[str(key.value) for key in slots.rows].index(GOOG))
        await pilot.press("enter")
        await wait_until(pilot, lambda: loaded(app, GOOG, "vol"), what="GOOG's map")
        assert "GOOG:1d:fwd_ret_1 by Volatility regime" in str(
            app.screen.query_one("#regime-map-title", Static).render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back on the Models view")


async def test_the_regimes_command_opens_the_named_slot(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"regimes GOOG", "enter")
        await wait_until(pilot, lambda: loaded(app, GOOG, "trend"), what="GOOG's regime map")


async def test_a_slot_without_stored_labels_says_how_they_come(seeded_brain_url):
    from sqlalchemy import delete

    from brain.schema import regime_labels

    with open_brain(seeded_brain_url) as brain, brain._write() as conn:  # test set-up: no labels stored
        conn.execute(delete(regime_labels))
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, RegimesScreen) and app.screen.data is not None,
                         what="the view read")
        assert app.screen.query_one("#empty-hint").display
        assert heatmap(app).row_count == 0
        with open_brain(seeded_brain_url) as brain:  # the view wrote nothing
            assert brain.load_regime_labels("EURUSD", "1h", _default_key()).is_empty()


def _default_key() -> str:
    from engine.regimes import RegimeConfig

    return RegimeConfig().label_key()


def test_timeline_buckets_keep_the_majority_label_of_each_bucket():
    labels = ("ranging",) * 3 + ("trending_up",) * 5 + (None,) * 4
    assert buckets(labels, 3) == ["ranging", "trending_up", None]  # buckets of 4 bars
    # buckets of 2: a tie goes to the newer label
    assert buckets(labels, 6) == ["ranging", "trending_up", "trending_up", "trending_up", None, None]
    assert buckets(labels, 100) == list(labels)  # one bar per bucket when they fit
    assert buckets((), 10) == []


def test_reading_the_view_loads_neither_torch_nor_hmmlearn(seeded_brain_url):
    code = f"""
import json, sys
from brain import open_brain
from scheduler.config import HuracanConfig
from huracan_tui.console.screens.regimes import read_regimes
with open_brain({seeded_brain_url!r}) as brain:
    data = read_regimes(brain, {GOOG!r}, axis=None, source="oos", settings=HuracanConfig().regime_map,
                        regime_config=None)
heavy = [name for name in ("torch", "hmmlearn") if name in sys.modules]
print(json.dumps([data.axis, len(data.found.regimes), heavy]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["trend", 3, []]

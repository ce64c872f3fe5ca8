"""Keyboard flow: command line, palette, filter, sort, export, live refresh controls, keymap,
themes, and the one gate that keeps viewers from changing anything."""

from __future__ import annotations

import csv
import json

from textual.widgets import DataTable

from brain import open_brain
from huracan_tui.console.palette import ActionsProvider
from huracan_tui.console.screens.demo import DemoOfferScreen
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.replay import ReplayScreen
from scheduler.config import HuracanConfig
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def table(app) -> DataTable:
    return app.screen.query_one("#models", DataTable)


def slot_order(app) -> list[str]:
    return [str(table(app).get_row_at(i)[0]) for i in range(table(app).row_count)]


def first_palette_hit(app) -> str:
    options = app.screen.query("CommandList").first()
    return str(options.get_option_at_index(0).prompt) if options.option_count else ""


async def ready(pilot) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen)
                     and table(pilot.app).row_count == 2, what="two slot rows")


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon")
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


async def test_command_line_jumps_to_a_slot_by_id_or_symbol(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_command(pilot, "slot eurusd")
        assert isinstance(app.screen, ModelDetailScreen) and app.screen.slot_key == EURUSD
        await type_command(pilot, "models")
        assert isinstance(app.screen, ModelsScreen)
        await type_command(pilot, "GOOG")
        assert app.screen.slot_key == GOOG
        await type_command(pilot, "nonsense")
        assert app.screen.slot_key == GOOG  # nothing happened but a warning toast


async def test_filter_narrows_rows_and_escape_clears(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("slash", "e", "u", "r")
        await wait_until(pilot, lambda: table(app).row_count == 1, what="one matching row")
        assert slot_order(app) == [EURUSD]
        await pilot.pause(0.5)  # several polls land meanwhile: the filter holds
        assert slot_order(app) == [EURUSD]
        await pilot.press("escape")
        await wait_until(pilot, lambda: table(app).row_count == 2, what="both rows back")
        assert app.focused is table(app)


async def test_enter_keeps_the_filter_and_closes_its_box(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("slash", *"eur", "enter")
        await wait_until(pilot, lambda: table(app).row_count == 1, what="one matching row")
        box = app.screen.query_one("#filter")
        assert not box.display and app.focused is table(app)  # the box gave its row back
        assert "1 of 2 match 'eur'" in str(app.screen.query_one("#models-title").render())
        await pilot.press("slash")  # opens again with the text kept
        assert box.display and box.value == "eur"


async def test_sort_cycles_columns_and_reverses(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert slot_order(app) == [EURUSD, GOOG]
        # slot -> champion -> latest -> model -> live n, sharpe, hit, last forecast, trend -> drift
        # -> queue -> sharpe
        await pilot.press(*"sssssssssss")
        assert app.screen.sort_column == "sharpe"
        assert slot_order(app) == [EURUSD, GOOG]  # Sharpe -6.31 before +0.74
        await pilot.press("S")
        assert slot_order(app) == [GOOG, EURUSD]


async def test_export_writes_the_rows_shown_to_csv_and_json(seeded_brain_url, tmp_path):
    config = HuracanConfig.model_validate({"console": {"refresh_seconds": 0.2,
                                                        "export_dir": str(tmp_path / "out")}})
    app = make_app(seeded_brain_url, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("e", "E")
        await wait_until(pilot, lambda: len(list((tmp_path / "out").glob("*"))) == 2, what="two files")
    (csv_file,) = (tmp_path / "out").glob("*.csv")
    rows = list(csv.reader(csv_file.open()))
    assert rows[0][:4] == ["Slot", "Champ", "Latest", "Model"]
    assert [row[0] for row in rows[1:]] == [EURUSD, GOOG]
    (json_file,) = (tmp_path / "out").glob("*.json")
    assert [row["Slot"] for row in json.loads(json_file.read_text())] == [EURUSD, GOOG]


async def test_screenshot_writes_an_svg(seeded_brain_url, tmp_path):
    config = HuracanConfig.model_validate({"console": {"export_dir": str(tmp_path)}})
    app = make_app(seeded_brain_url, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: list(tmp_path.glob("*.svg")), what="the SVG")
    (svg,) = tmp_path.glob("*.svg")
    assert svg.read_text().startswith("<svg") and "GOOG" in svg.read_text()


async def test_pause_stops_polling_and_interval_changes_it(seeded_brain_url, fast_training):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("p")
        assert app.paused and "PAUSED" in app.status_line(app.snapshot)
        seen = app.snapshot
        with open_brain(seeded_brain_url) as other:
            other.create_job("train", slot_key=GOOG, params={})
        await pilot.pause(0.6)  # three refresh intervals: a live console would have polled
        assert app.snapshot is seen
        await pilot.press("p")
        await wait_until(pilot, lambda: len(app.snapshot.jobs) == 1, what="the new job after resume")
        await pilot.press("minus")
        assert app.refresh_seconds == 0.4
        await type_command(pilot, "interval 5")
        assert app.refresh_seconds == 5


async def test_theme_command_and_palette(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await type_command(pilot, "theme huracan-ansi")
        assert app.theme == "huracan-ansi"
        await type_command(pilot, "theme huracan-high-contrast")
        assert app.theme == "huracan-high-contrast"
        # The palette runs registry actions: search "pause", Enter.
        await pilot.press("ctrl+p")
        await pilot.press(*"pause the live")
        await wait_until(pilot, lambda: "Pause" in first_palette_hit(app), what="the Pause hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.paused, what="paused through the palette")


async def test_keymap_from_the_config_rebinds_an_action(seeded_brain_url):
    config = HuracanConfig.model_validate({"console": {"keymap": {"quit": "x"}}})
    app = make_app(seeded_brain_url, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running  # q no longer quits
        await pilot.press("x")
        await wait_until(pilot, lambda: not app.is_running, what="x to quit")


async def test_viewers_cannot_start_the_demo_by_key_palette_or_command(empty_brain_url):
    app = make_app(empty_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        assert isinstance(app.screen, ModelsScreen)  # no demo offer for a viewer
        assert "alice READ-ONLY" in app.status_line(app.snapshot)
        await pilot.press("d")
        await type_command(pilot, "demo")
        await pilot.press("ctrl+p")
        await pilot.press(*"demo")
        await pilot.pause(0.3)
        options = app.screen.query("CommandList").first()
        assert all("Demo" not in str(options.get_option_at_index(i).prompt)
                   for i in range(options.option_count))
        await pilot.press("escape")
    with open_brain(empty_brain_url) as brain:
        assert brain.list_jobs() == []
        denied = [entry for entry in brain.list_audit() if entry.outcome == "denied"]
        # The key and `:demo` are refused aloud and audited; the palette does not offer it.
        assert [(entry.action, entry.actor) for entry in denied] == [("demo.start", "alice")] * 2


async def test_operators_demo_start_is_audited(empty_brain_url, tmp_path):
    config = HuracanConfig.model_validate({"training": {"models": ["linear"], "n_folds": 2}})
    app = make_app(empty_brain_url, config=config, worker_log=tmp_path / "w.log",
                   identity=("bob", "10.0.0.7"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DemoOfferScreen), what="the offer")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the offer gone")
        await pilot.press("d")
        await wait_until(pilot, lambda: app.snapshot.jobs, what="the demo job")
        # Let the worker finish before the brain's folder goes away.
        await wait_until(pilot, lambda: app.snapshot.jobs[0].state == "succeeded", timeout=120,
                         what="the demo to finish")
    with open_brain(empty_brain_url) as brain:
        (entry,) = [e for e in brain.list_audit() if e.action == "demo.start"]
        assert (entry.actor, entry.origin, entry.outcome) == ("bob", "10.0.0.7", "ok")


async def palette_entries(screen) -> set[str]:
    return {str(hit.display) async for hit in ActionsProvider(screen).discover()}


async def test_the_palette_offers_what_applies_to_the_view_it_was_opened_on(seeded_brain_url):
    """A replay key offered in the Models view would do nothing there: it is not offered."""
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        models = await palette_entries(app.screen)
        assert "Sort (s)" in models and "Pause (p)" in models  # the view's own and the app's
        assert not any(entry.startswith(("Older", "Newer", "Promote", "Drill in")) for entry in models)
        await pilot.press("H")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay view")
        replay = await palette_entries(app.screen)
        assert "Older (← / [)" in replay and "Pause (p)" in replay
        assert not any(entry.startswith(("Sort", "Export")) for entry in replay)

"""Exports from the console (`e` CSV, `E` JSON, Ctrl+S SVG): written to the user's data folder
unless console.export_dir says otherwise, the toast naming the file by its absolute path; the rows
and columns shown (filter, order, headers) with the typed values behind them, not their display
text; a folder that cannot be written is one warning toast."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.app import App, ComposeResult

from huracan_tui.console.export import TypedColumns, export_table
from huracan_tui.console.widgets.slot_table import MODEL_COLUMNS, MODEL_VALUES, SlotTable
from scheduler.config import HuracanConfig
from scheduler.services.overview import DriftFlag, LiveSummary, OosMetrics, SlotOverview
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"
CONFIG = {"console": {"refresh_seconds": 0.2}}  # no export_dir: the data folder


def models_table(app) -> SlotTable:
    return app.screen.query_one("#models", SlotTable)


def headers_shown(app) -> list[str]:
    return [str(column.label) for column in models_table(app).ordered_columns]


def slots_shown(app) -> list[str]:
    table = models_table(app)
    return [row.key.value for row in table.ordered_rows]


def toasts(app, title: str) -> list:
    return [note for note in app._notifications if note.title == title]


def aware(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() == timedelta(0), text
    return value


async def ready(pilot, rows: int = 2) -> None:
    await wait_until(pilot, lambda: models_table(pilot.app).row_count == rows, what=f"{rows} slot rows")


async def test_e_and_E_write_typed_files_to_the_data_folder_named_in_full(
        seeded_brain_url, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # the working directory: nothing lands there
    exports = tmp_path / "data" / "huracan" / "exports"
    app = make_app(seeded_brain_url, config=HuracanConfig.model_validate(CONFIG))
    async with app.run_test(size=(220, 40)) as pilot:  # wide enough for every column
        await ready(pilot)
        await pilot.press("e", "E", "ctrl+s")
        await wait_until(pilot, lambda: len(list(exports.glob("*"))) == 3, what="three files")
        headers, order = headers_shown(app), slots_shown(app)
        written = {Path(note.message.removeprefix("Wrote ")) for note in app._notifications
                   if note.title in ("Export", "Screenshot")}
    assert headers == [label for _, label in MODEL_COLUMNS]
    assert not list(tmp_path.glob("huracan-*"))
    (csv_file,), (json_file,) = exports.glob("*.csv"), exports.glob("*.json")
    assert written == {csv_file, json_file, next(exports.glob("*.svg"))}
    assert all(path.is_absolute() for path in written)

    records = json.loads(json_file.read_text(encoding="utf-8"))
    assert [list(record) for record in records] == [headers] * 2
    assert [record["Slot"] for record in records] == order
    for record in records:
        assert record["Latest"] == 2 and record["Champ"] is None  # no champion yet: null, not '-'
        assert isinstance(record["Sharpe"], float) and isinstance(record["IC"], float)
        assert 0.0 <= record["Hit rate"] <= 1.0  # a fraction, not '52.3%'
        assert isinstance(record["RMSE bps"], float)
        assert aware(record["Trained (UTC)"]).year == 2026
        assert isinstance(record["Live trend"], list)
        assert record["Live n"] is None or isinstance(record["Live n"], int)
        assert record["Drift"] is None or isinstance(record["Drift"], int)

    rows = list(csv.DictReader(csv_file.open(encoding="utf-8", newline="")))
    assert list(rows[0]) == [header for header in headers if header != "Live trend"]  # a list: JSON only
    assert [row["Slot"] for row in rows] == order
    for row, record in zip(rows, records, strict=True):
        assert float(row["Sharpe"]) == record["Sharpe"] and int(row["Latest"]) == record["Latest"]
        assert aware(row["Trained (UTC)"]) == aware(record["Trained (UTC)"])
        assert all(row[header] == "" for header in row if record[header] is None)


async def test_the_export_follows_the_filter_and_the_sort_shown(seeded_brain_url, tmp_path):
    config = HuracanConfig.model_validate({"console": {"refresh_seconds": 0.2,
                                                        "export_dir": str(tmp_path / "out")}})
    app = make_app(seeded_brain_url, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press(*"sssssssssss", "S")  # by Sharpe, descending
        assert app.screen.sort_column == "sharpe" and slots_shown(app) == [GOOG, EURUSD]
        await pilot.press("E")
        await wait_until(pilot, lambda: list((tmp_path / "out").glob("*.json")), what="the JSON")
        (by_sharpe,) = (tmp_path / "out").glob("*.json")
        records = json.loads(by_sharpe.read_text(encoding="utf-8"))
        assert [record["Slot"] for record in records] == [GOOG, EURUSD]
        # Every column of the view, in its order: also those the terminal's width leaves out.
        every = [label for _, label in MODEL_COLUMNS]
        assert [list(record) for record in records] == [every] * 2
        assert set(headers_shown(app)) < set(every)
        assert records[0]["Sharpe"] > records[1]["Sharpe"]
        by_sharpe.unlink()

        await pilot.press("slash", *"eur", "enter")
        await ready(pilot, rows=1)
        await pilot.press("e")
        await wait_until(pilot, lambda: list((tmp_path / "out").glob("*.csv")), what="the CSV")
    (filtered,) = (tmp_path / "out").glob("*.csv")
    assert [row["Slot"] for row in csv.DictReader(filtered.open(encoding="utf-8", newline=""))] == [EURUSD]


async def test_a_folder_that_cannot_be_written_is_one_warning_toast(seeded_brain_url, tmp_path):
    (tmp_path / "blocker").write_text("a file where the folder would be")
    folder = tmp_path / "blocker" / "exports"
    config = HuracanConfig.model_validate({"console": {"refresh_seconds": 0.2, "export_dir": str(folder)}})
    app = make_app(seeded_brain_url, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("e", "ctrl+s")
        await wait_until(pilot, lambda: toasts(app, "Export") and toasts(app, "Screenshot"),
                         what="two toasts")
        (export,), (screenshot,) = toasts(app, "Export"), toasts(app, "Screenshot")
        assert app.is_running and isinstance(app.screen.query_one("#models"), SlotTable)
    for note, what in ((export, "Export not written"), (screenshot, "Screenshot not written")):
        assert note.severity == "warning"
        assert note.message.startswith(f"{what}: cannot create the folder {folder} (")
        assert "\n" not in note.message and "Traceback" not in note.message


def test_a_relative_export_dir_is_taken_from_the_working_directory_at_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = HuracanConfig.model_validate({"console": {"export_dir": "out"}})
    monkeypatch.chdir("/")
    assert config.console.export_dir == str(tmp_path / "out")
    assert HuracanConfig.model_validate({}).console.export_dir is None


def test_every_models_column_has_its_typed_value():
    assert list(MODEL_VALUES) == [key for key, _ in MODEL_COLUMNS]


T0 = datetime(2026, 1, 6, 8, tzinfo=UTC)
DRIFTED = SlotOverview(
    slot="AAA:1h:fwd_ret_1", symbol="AAA", timeframe="1h", target="fwd_ret_1", horizon=1, versions=3,
    latest_version=3, model_kind="ridge", trained_at=T0, metrics=OosMetrics(sharpe=0.1),
    champion=2, champion_kind="lightgbm",
    champion_metrics=OosMetrics(sharpe=-5.79, hit_rate=0.523, ic=float("nan"), rmse=12.25),
    live=LiveSummary(version=2, ts=T0, sharpe=0.74, win_rate=0.5, n=12.0),
    live_trend=(0.1, None, 0.74), drift=DriftFlag(ts=T0, features=8, drifted=7, method="psi"),
    queue=(("drift", 0), ("train", 2)), last_forecast=T0 - timedelta(minutes=6),
)


class OneTable(App):
    def compose(self) -> ComposeResult:
        yield SlotTable(id="models")


async def test_the_values_behind_the_glyphs(tmp_path):
    app = OneTable()
    async with app.run_test(size=(160, 20)):
        table = app.query_one(SlotTable)
        table.show_slots([DRIFTED], now=FROZEN_NOW)
        assert str(table.get_cell(DRIFTED.slot, "drift")) == "⚠ 7/8"
        typed = TypedColumns(MODEL_VALUES, table.overview)
        json_path = export_table(table, tmp_path, "models", "json", FROZEN_NOW, typed)
        csv_path = export_table(table, tmp_path, "models", "csv", FROZEN_NOW, typed)
    (record,) = json.loads(json_path.read_text(encoding="utf-8"))
    assert record == {
        "Slot": DRIFTED.slot, "Champ": 2, "Latest": 3, "Model": "lightgbm", "Live n": 12,
        "Live Sharpe": 0.74, "Live win": 0.5, "Last fcst": "2026-01-06T07:54:00+00:00",
        "Live trend": [0.1, None, 0.74], "Drift": 7, "Queue": "train 2", "Sharpe": -5.79,
        "Hit rate": 0.523, "IC": None, "RMSE bps": 12.25, "MAE bps": None,
        "Trained (UTC)": "2026-01-06T08:00:00+00:00",
    }
    (row,) = list(csv.DictReader(csv_path.open(encoding="utf-8", newline="")))
    assert "Live trend" not in row
    assert (row["Sharpe"], row["Hit rate"], row["IC"], row["Drift"]) == ("-5.79", "0.523", "", "7")
    assert not math.isnan(float(row["Live Sharpe"]))

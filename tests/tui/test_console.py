"""The console as a person uses it, driven through Textual's Pilot."""

from __future__ import annotations

import os
from datetime import datetime

from textual.widgets import DataTable, Static

from brain import open_brain
from huracan_tui.console.screens.demo import DemoOfferScreen
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.help import HelpScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.widgets.slot_table import MODEL_COLUMNS
from scheduler.config import HuracanConfig
from tests.conftest import FAST_TRAINING
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def models_table(app) -> DataTable:
    return app.screen.query_one("#models", DataTable)


async def test_opens_on_models_view_with_trained_slots(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(200, 40)) as pilot:  # wide enough for every column
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="two slot rows")
        assert isinstance(app.screen, ModelsScreen)
        table = models_table(app)
        assert [key.value for key in table.rows] == [EURUSD, GOOG]
        assert str(table.get_cell(GOOG, "version")) == "v2"
        assert str(table.get_cell(GOOG, "model")) == "lightgbm"
        # Metrics are the brain's numbers, formatted.
        with open_brain(seeded_brain_url) as brain:
            status = {row.slot: row for row in brain.status()}
        sharpe = status[GOOG].metrics["sharpe"]
        assert str(table.get_cell(GOOG, "sharpe")) == f"{sharpe:+.2f}"
        assert not app.screen.query_one("#empty-hint").display


async def test_enter_opens_detail_with_folds_and_manifest_then_escape_returns(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="slot rows")
        await pilot.press("down", "enter")  # second row: GOOG
        assert isinstance(app.screen, ModelDetailScreen)
        assert app.screen.slot_key == GOOG
        versions = app.screen.query_one("#versions", DataTable)
        await wait_until(pilot, lambda: versions.row_count == 2, what="version rows")
        folds = app.screen.query_one("#folds", DataTable)
        assert folds.row_count == FAST_TRAINING["n_folds"]
        manifest = str(app.screen.query_one("#manifest", Static).render())
        assert "data_fingerprint" in manifest and "lightgbm" in manifest
        # Moving to the older version shows its own folds and manifest.
        await pilot.press("down")
        await wait_until(pilot, lambda: "linear" in str(app.screen.query_one("#manifest").render()),
                         what="v1 manifest")
        await pilot.press("escape")
        assert isinstance(app.screen, ModelsScreen)


async def test_help_lists_every_key_and_closes(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        listed = {key for _, key, _ in app.screen.shown}
        assert {"q", "? / F1", "Enter", "Esc", "d", "r"} <= listed
        await pilot.press("escape")
        assert isinstance(app.screen, ModelsScreen)


async def test_help_explains_the_columns_of_the_view_it_was_opened_on_then_groups_keys_by_view(
        seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="two slot rows")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen.shown,
                         what="the help, filled")
        help_screen = app.screen
        assert help_screen.scope == "models"
        sections = list(dict.fromkeys(section for section, _, _ in help_screen.shown))
        assert sections[:3] == ["Columns of the Models view", "Keys in the Models view", "Keys everywhere"]
        assert "Keys in the Replay view" in sections and sections[-1].startswith("Commands")
        columns = {key: text for section, key, text in help_screen.shown if section.startswith("Columns")}
        assert set(columns) == {label for _, label in MODEL_COLUMNS}  # every column, by its header
        assert columns["Sharpe"].startswith("Walk-forward, out of sample")
        assert "champion" in columns["Sharpe"]
        assert columns["Live Sharpe"].startswith("Live")
        assert columns["Latest"].startswith("The latest version")
        # Esc is listed once per view that has it, under that view: never seven bare rows in a list.
        escapes = [section for section, key, _ in help_screen.shown if key == "Esc"]
        assert len(escapes) == len(set(escapes))
        await pilot.press(*"drift")
        await wait_until(pilot, lambda: all("drift" in " ".join(row).lower() for row in help_screen.shown),
                         what="the search applied")
        await pilot.press("escape")
        await pilot.press("down", "enter")  # the slot detail: its own keys come first
        await wait_until(pilot, lambda: isinstance(app.screen, ModelDetailScreen), what="the detail")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen.shown,
                         what="the detail's help, filled")
        assert app.screen.scope == "detail"
        assert app.screen.shown[0][0] == "Keys in the slot detail"


async def test_q_quits(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running, what="the app to exit")


async def test_empty_brain_offers_the_demo_and_escape_declines(empty_brain_url):
    app = make_app(empty_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DemoOfferScreen), what="demo offer")
        await pilot.press("escape")
        assert isinstance(app.screen, ModelsScreen)
        assert app.screen.query_one("#empty-hint").display
        with open_brain(empty_brain_url) as brain:
            assert brain.list_jobs() == []  # declining starts nothing


async def test_view_updates_in_place_as_the_brain_changes(seeded_brain_url, fast_training):
    """Versions and jobs written by another process (a worker, the headless leader) appear on
    the next poll; the table is updated, not rebuilt."""
    from scheduler.services.training import train_slot

    app = make_app(seeded_brain_url)
    async with app.run_test(size=(200, 40)) as pilot:  # wide enough for every column
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="slot rows")
        table = models_table(app)
        with open_brain(seeded_brain_url) as other:
            job = other.create_job("train", slot_key=GOOG, params={})
            other.claim_job(job.id, worker="test", pid=0)
            other.update_job(job.id, progress=0.5, message="fold 2 of 3")
        jobs = app.screen.query_one("#jobs", DataTable)
        await wait_until(pilot, lambda: jobs.row_count == 1, what="the job row")
        assert str(jobs.get_cell(str(job.id), "state")) == "running"
        assert str(jobs.get_cell(str(job.id), "progress")) == "50.0%"
        assert app.screen.query_one("#job-progress").display

        with open_brain(seeded_brain_url) as other:
            train_slot(other, "GOOG", "1d", fast_training.model_copy(update={"models": ["linear"]}))
            other.finish_job(job.id, {"versions": []})
        await wait_until(pilot, lambda: str(table.get_cell(GOOG, "version")) == "v3",
                         what="v3 in the GOOG row")
        assert models_table(app) is table and table.row_count == 2
        assert str(table.get_cell(GOOG, "model")) == "linear"
        await wait_until(pilot, lambda: str(jobs.get_cell(str(job.id), "state")) == "succeeded",
                         what="the job to show succeeded")
        assert not app.screen.query_one("#job-progress").display


async def test_demo_trains_in_a_worker_process_and_the_view_fills(empty_brain_url, tmp_path):
    config = HuracanConfig.model_validate(
        {"training": FAST_TRAINING, "console": {"refresh_seconds": 0.2}})
    app = make_app(empty_brain_url, config=config, worker_log=tmp_path / "worker.log")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, DemoOfferScreen), what="demo offer")
        await pilot.press("enter")
        await wait_until(pilot, lambda: models_table(app).row_count == 3, timeout=240,
                         what="three demo slots")
        await wait_until(pilot, lambda: all(j.state == "succeeded" for j in app.snapshot.jobs),
                         timeout=240, what="the demo job to finish")
    with open_brain(empty_brain_url) as brain:
        (job,) = brain.list_jobs()
        assert job.kind == "demo" and job.state == "succeeded" and job.progress == 1.0
        assert job.pid is not None and job.pid != __import__("os").getpid()  # a separate process
        slots = {row.slot: row for row in brain.status()}
        assert set(slots) == {"GOOG:1d:fwd_ret_1", "EURUSD:1h:fwd_ret_1", "BTCUSD:1mo:fwd_ret_1"}
        assert all(row.versions == 2 for row in slots.values())
        assert all(isinstance(row.trained_at, datetime) for row in slots.values())


async def test_console_on_a_postgresql_brain(postgres_schema_url, fast_training):
    from scheduler.services.training import train_slot
    from tests.conftest import SEEDED_SERIES

    symbol, timeframe = SEEDED_SERIES[0]
    with open_brain(postgres_schema_url) as brain:
        from engine.data import load_ohlcv
        from engine.datasets import bundled_path

        brain.store_bars(symbol, timeframe, load_ohlcv(bundled_path(symbol), symbol=symbol))
        train_slot(brain, symbol, timeframe, fast_training.model_copy(update={"models": ["linear"]}))
    app = make_app(postgres_schema_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(app).row_count == 1, what="the GOOG row")
        assert str(models_table(app).get_cell(GOOG, "model")) == "linear"
        assert "postgresql:127.0.0.1/test" in app.status_line(app.snapshot)
        await pilot.press("enter")
        versions = app.screen.query_one("#versions", DataTable)
        await wait_until(pilot, lambda: versions.row_count == 1, what="the version row")


async def test_a_toast_announces_each_job_that_ends(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="slot rows")
        with open_brain(seeded_brain_url) as other:
            done = other.create_job("train", slot_key=GOOG, params={})
            broken = other.create_job("train", slot_key=EURUSD, params={})
        await wait_until(pilot, lambda: len(app.snapshot.active_jobs) == 2, what="two queued jobs")
        with open_brain(seeded_brain_url) as other:
            other.claim_job(done.id, worker="test", pid=0)
            other.finish_job(done.id, {"versions": []})
            other.fail_job(broken.id, "ValueError: no bars")
        await wait_until(pilot, lambda: len(app._notifications) >= 2, what="two toasts")
        messages = [n.message for n in app._notifications]
        assert any(f"Job {done.id} (train {GOOG}) finished" in m for m in messages)
        assert any(f"Job {broken.id} (train {EURUSD}) failed: ValueError: no bars" in m for m in messages)


def _live_sharpe(brain, slot: str, version: int, sharpe: float, ts) -> None:
    brain.record_metrics(brain.get_version(slot, version).id, [
        {"name": f"live_{name}", "value": value, "scope": "live", "ts": ts}
        for name, value in (("sharpe", sharpe), ("win_rate", 0.5), ("n", 50.0))])


async def test_the_sort_order_holds_after_refreshes_that_change_the_sorted_column(seeded_brain_url):
    from datetime import UTC, timedelta

    checked = datetime(2026, 1, 6, 8, tzinfo=UTC)
    with open_brain(seeded_brain_url) as brain:
        for slot, sharpe in ((GOOG, 1.66), (EURUSD, -0.50)):
            brain.promote_version(slot, 1, actor="scheduler", reason="first champion", at=checked)
            _live_sharpe(brain, slot, 1, sharpe, checked)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="slot rows")
        await pilot.press(*"sssss", "S")  # Champ, Latest, Model, Live n, Live Sharpe; then high to low
        title = app.screen.query_one("#models-title", Static)
        await wait_until(pilot, lambda: "sorted by Live Sharpe ↓" in str(title.render()), what="the sort")
        table = models_table(app)
        assert [row.key.value for row in table.ordered_rows] == [GOOG, EURUSD]
        with open_brain(seeded_brain_url) as brain:  # a leader lands new live numbers
            _live_sharpe(brain, EURUSD, 1, 2.10, checked + timedelta(hours=1))
        await wait_until(pilot, lambda: str(table.get_cell(EURUSD, "live_sharpe")) == "+2.10",
                         what="EURUSD's new live Sharpe")
        shown = [str(table.get_cell(row.key, "live_sharpe")) for row in table.ordered_rows]
        assert shown == ["+2.10", "+1.66"]


async def test_the_demo_asks_first_on_a_brain_that_has_models(seeded_brain_url):
    """`--demo` (or `d`) on a brain with models would train every demo slot again: it asks."""
    app = make_app(seeded_brain_url, demo=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: bool(app.screen.query("DemoOfferScreen #demo-offer")),
                         what="the question")
        asked = str(app.screen.query_one("#demo-offer", Static).render())
        assert "already has 2 slots with models" in asked and "Run the demo anyway?" in asked
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the question gone")
        assert app.brain.list_requests() == [] and app.brain.list_jobs() == []  # nothing started
        await pilot.press("d")
        await wait_until(pilot, lambda: bool(app.screen.query("DemoOfferScreen #demo-offer")),
                         what="asked again")
        await pilot.press("enter")
        await wait_until(pilot, lambda: [r.action for r in app.brain.list_requests()] == ["demo"],
                         what="the demo asked for")
        job = (await wait_until(pilot, lambda: app.brain.list_jobs(), what="the demo job"))[0]
        app.brain.cancel_job(job.id)  # its worker stops at its next report
        pid = app.brain.get_job(job.id).pid  # None: cancelled before a worker claimed it
        await wait_until(pilot, lambda: pid is None or not os.path.exists(f"/proc/{pid}"), timeout=120,
                         what="the worker gone")


async def test_a_first_run_hint_says_what_slots_champions_and_live_numbers_are_until_help_is_read(
        seeded_brain_url, tmp_path):
    state = tmp_path / "console.json"
    app = make_app(seeded_brain_url, state_path=state)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(app).row_count == 2, what="two slot rows")
        hint = app.screen.query_one("#first-run-hint", Static)
        said = str(hint.render())
        assert hint.display and "A row is a slot" in said and "champion" in said and "Live columns" in said
        await pilot.press("question_mark")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back to Models")
        assert not hint.display
    again = make_app(seeded_brain_url, state_path=state)  # remembered: the next start has no hint
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: models_table(again).row_count == 2, what="two slot rows")
        assert not again.screen.query_one("#first-run-hint").display

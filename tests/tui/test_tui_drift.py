"""The Drift view: a slot's features × checks heatmap from drift_results, the method cycling,
the drill-down into one feature's reference and current distributions, and Esc back."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable, Static

from brain import open_brain
from huracan_tui.console.screens.drift import DATASET_ROW, DriftScreen
from huracan_tui.console.screens.drift_feature import DriftFeatureScreen
from huracan_tui.console.screens.models import ModelsScreen
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"
CHECKS = 3


def store_drift_checks(brain_url: str, slot_key: str = GOOG, *, features: int = 4) -> list[str]:
    """Three checks a day apart, PSI and KS, with the first feature drifting in the newest one."""
    with open_brain(brain_url) as brain:
        version = brain.latest_version(slot_key)
        names = version.manifest["features"][:features]
        for check in range(CHECKS):
            ts = FROZEN_NOW - timedelta(days=CHECKS - 1 - check)
            rows = []
            for position, name in enumerate(names):
                drifting = check == CHECKS - 1 and position == 0
                psi = 0.25 if drifting else 0.005 * (position + 1) * (check + 1)
                rows.append({"feature": name, "method": "psi", "statistic": psi, "threshold": 0.1,
                             "drifted": psi >= 0.1,
                             "details": {"version": version.number, "dataset_drift": False}})
                p = 0.001 if drifting else 0.5
                rows.append({"feature": name, "method": "ks", "statistic": 0.3 if drifting else 0.05,
                             "p_value": p, "threshold": 0.05, "drifted": p <= 0.05,
                             "details": {"version": version.number, "dataset_drift": False}})
            brain.record_drift_results(rows, slot_key=slot_key, ts=ts)
    return names


def grid(app) -> DataTable:
    return app.screen.query_one("#drift-grid", DataTable)


def cell_text(table: DataTable, row: str, column: int) -> str:
    return str(table.get_row(row)[column])


async def test_drift_view_opens_by_key_shows_the_heatmap_and_cycles_the_method(seeded_brain_url):
    names = store_drift_checks(seeded_brain_url, EURUSD)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen) and grid(app).row_count > 0,
                         what="the drift grid")
        assert app.screen.slot_key == EURUSD  # the Models view's selected (first) row
        table = grid(app)
        assert len(table.columns) == 1 + CHECKS  # feature, then one column per check, oldest first
        assert table.row_count == 1 + len(names)  # the dataset verdict on top, then every feature
        assert app.screen.method == "psi"
        newest = cell_text(table, names[0], CHECKS)
        assert "█" in newest and "!" in newest and "0.250" in newest  # a glyph marks drift, not colour only
        assert "!" not in cell_text(table, names[1], CHECKS)
        assert "1/4" in cell_text(table, DATASET_ROW, CHECKS)
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.method == "ks", what="the KS grid")
        assert "0.001" in cell_text(grid(app), names[0], CHECKS)  # KS cells show the p-value
        assert "KS p-value" in str(app.screen.query_one("#drift-title", Static).render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back to Models")


async def test_drift_command_opens_a_slot_and_enter_drills_into_a_feature(seeded_brain_url):
    names = store_drift_checks(seeded_brain_url, GOOG)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"drift GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen) and grid(app).row_count > 0,
                         what="the drift grid")
        assert app.screen.slot_key == GOOG
        assert grid(app).cursor_row == 1  # on the first feature, not the dataset row
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftFeatureScreen)
                         and app.screen.result is not None, what="the distributions")
        screen = app.screen
        assert screen.feature == sorted(names)[0]  # rows are in feature order
        pair = screen.result.histogram
        assert abs(pair.reference.sum() - 1) < 1e-9 and abs(pair.current.sum() - 1) < 1e-9
        assert screen.query_one("#histogram", DataTable).row_count == len(pair.reference)
        assert screen.result.current_window[2] == 500  # the check's current window: the newest bars
        statistics = str(screen.query_one("#feature-statistics", Static).render())
        assert "PSI" in statistics and "KS" in statistics and "stored" in statistics
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen), what="back to the grid")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back to Models")


async def test_drift_view_shows_the_leaders_real_checks_and_a_hint_when_there_are_none(seeded_brain_url):
    from scheduler.services.drift import check_slot_drift

    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *f"drift {GOOG}", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen)
                         and app.screen.results is not None, what="the drift view")
        assert app.screen.query_one("#empty-hint").display
        with open_brain(seeded_brain_url) as brain:
            stored = check_slot_drift(brain, GOOG)
            features = len(brain.latest_version(GOOG).manifest["features"])
        assert stored == 2 * features + 2  # PSI and KS per feature, and the two multivariate checks
        await pilot.press("escape", "colon", *"drift GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen) and grid(app).row_count > 0,
                         what="the stored check")
        # the dataset row, the autoencoder and PCA rows, then every feature
        assert grid(app).row_count == 3 + features and len(grid(app).columns) == 2
        assert not app.screen.query_one("#empty-hint").display


async def test_drift_command_refuses_an_unknown_slot(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"drift NOPE", "enter")
        await wait_until(pilot, lambda: any("no slot matches" in n.message for n in app._notifications),
                         what="the refusal")
        assert isinstance(app.screen, ModelsScreen)


def store_multivariate_checks(brain_url: str, slot_key: str = GOOG) -> None:
    """The per-feature checks, and at the same check times the two multivariate checks, the
    autoencoder's drifting in the newest check while every feature stays calm."""
    store_drift_checks(brain_url, slot_key)
    with open_brain(brain_url) as brain:
        checks = sorted({row.ts for row in brain.list_drift_results(slot_key=slot_key)})
        version = brain.latest_version(slot_key).number
        for number, ts in enumerate(checks):
            rows = []
            for method, newest in (("autoencoder", 0.91), ("pca", 0.33)):
                statistic = newest if number == len(checks) - 1 else 0.29
                rows.append({"feature": f"⟨multivariate · {method}⟩", "method": method,
                             "statistic": statistic, "threshold": 0.35, "drifted": statistic >= 0.35,
                             "details": {"version": version, "multivariate": True, "reference_error": 0.3,
                                         "quantile": 0.99, "components": 3, "features": 4}})
            brain.record_drift_results(rows, slot_key=slot_key, ts=ts)


async def test_the_multivariate_checks_are_their_own_rows_under_every_statistic(seeded_brain_url):
    from huracan_tui.console.screens.drift import MULTIVARIATE_ROW

    store_multivariate_checks(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *f"drift {GOOG}", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen) and grid(app).row_count > 0,
                         what="the drift grid")
        table = grid(app)
        autoencoder, pca = MULTIVARIATE_ROW + "autoencoder", MULTIVARIATE_ROW + "pca"
        assert table.row_count == 3 + 4  # dataset, the two multivariate rows, four features
        assert [table.coordinate_to_cell_key((row, 0)).row_key.value for row in range(3)] == [
            DATASET_ROW, autoencoder, pca]
        assert cell_text(table, autoencoder, 0) == "⟨multivar · AE⟩"
        newest = cell_text(table, autoencoder, CHECKS)
        assert "█" in newest and "!" in newest and "0.910" in newest
        assert "!" not in cell_text(table, pca, CHECKS) and "!" not in cell_text(table, pca, 1)
        assert table.cursor_row == 3  # on the first feature
        assert app.screen.method == "psi"  # the multivariate methods are not statistics to cycle
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.method == "ks", what="the KS grid")
        assert "0.910" in cell_text(grid(app), autoencoder, CHECKS)  # still there under KS
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.method == "psi", what="back to PSI")
        grid(app).move_cursor(row=1)
        await pilot.press("enter")  # a multivariate row has no one distribution: its numbers
        await wait_until(pilot, lambda: any("reconstruction error 0.91" in n.message
                                            for n in app._notifications), what="the check's numbers")
        assert isinstance(app.screen, DriftScreen)
        await pilot.press("slash", *"zz-none")
        await wait_until(pilot, lambda: grid(app).row_count == 3, what="the filter")  # rows kept

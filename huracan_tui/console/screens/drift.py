"""The Drift view: one slot's features × time, a cell per (feature, check) coloured and marked by
its severity against the method's threshold, the newest check at the right and the dataset
verdict of each check on top, then the multivariate checks (reconstruction error of every feature
at once, by autoencoder and by PCA: what PSI and KS cannot see), whichever statistic is shown.
`m` cycles the statistic (PSI, KS, ...); Enter on a feature shows its reference and current
distributions side by side; `/` filters the features by name. Rows come from drift_results,
which the headless leader's scheduled checks store (scheduler.services.drift.check_slot_drift)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from brain import BrainError
from brain.drift import DriftResultRecord
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.filtered import FilteredScreen
from huracan_tui.console.widgets.filtered_table import FilteredTable, filter_box
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.heatmap import (
    LEVEL_GLYPHS,
    P_VALUE_METHODS,
    dataset_cell,
    drift_cell,
    missing_cell,
)
from huracan_tui.console.widgets.status_bar import StatusBar

RESULTS_READ = 5000
DATASET_ROW = "__dataset__"
MULTIVARIATE_ROW = "__multivariate__:"  # + the method: the row key of a multivariate check
MULTIVARIATE_LABELS = {"autoencoder": "⟨multivar · AE⟩", "pca": "⟨multivar · PCA⟩"}
FEATURE_WIDTH = 16
CELL_WIDTH = 8
DRIFT_SHARE = 0.5  # evidently's DataDriftOptions.drift_share, when a row does not carry the verdict
METHOD_ORDER = ("psi", "ks", "wasserstein", "jensenshannon", "psi_quantile")
EMPTY_HINT = ("No drift checks stored for this slot yet: the headless leader runs them on its "
              "drift cadence (huracan-tui --headless).")


class DriftLoaded(Message):
    def __init__(self, results: list[DriftResultRecord], error: str | None = None) -> None:
        super().__init__()
        self.results = results
        self.error = error


@dataclass(frozen=True)
class DriftGrid:
    """One method's checks of a slot: check times (oldest first) and results by feature."""

    method: str
    checks: list[datetime]
    cells: dict[str, dict[datetime, DriftResultRecord]]  # feature -> check time -> result

    def dataset(self, ts: datetime) -> tuple[int, int, bool]:
        """(drifted features, features, dataset verdict) of one check."""
        rows = [by_ts[ts] for by_ts in self.cells.values() if ts in by_ts]
        drifted = sum(row.drifted for row in rows)
        stored = [row.details.get("dataset_drift") for row in rows if row.details]
        verdict = stored[0] if stored and stored[0] is not None else (
            bool(rows) and drifted / len(rows) >= DRIFT_SHARE)
        return drifted, len(rows), bool(verdict)

    @property
    def threshold(self) -> float:
        return next(row.threshold for by_ts in self.cells.values() for row in by_ts.values())

    def latest(self, feature: str) -> DriftResultRecord | None:
        by_ts = self.cells.get(feature, {})
        return by_ts[max(by_ts)] if by_ts else None


def methods_of(results: list[DriftResultRecord]) -> list[str]:
    """The per-feature statistics stored (`m` cycles them); multivariate checks are rows instead."""
    found = {row.method for row in results if not row.multivariate}
    return [m for m in METHOD_ORDER if m in found] + sorted(found - set(METHOD_ORDER))


def multivariate_checks(results: list[DriftResultRecord]) -> dict[str, dict[datetime, DriftResultRecord]]:
    """The multivariate checks by method, then check time (newest id first wins, as in a grid)."""
    found: dict[str, dict[datetime, DriftResultRecord]] = defaultdict(dict)
    for row in results:
        if row.multivariate:
            found[row.method].setdefault(row.ts, row)
    return dict(sorted(found.items()))


def multivariate_label(method: str) -> str:
    return MULTIVARIATE_LABELS.get(method, f"⟨multivar · {method}⟩")[:FEATURE_WIDTH]


def drift_grid(results: list[DriftResultRecord], method: str, max_checks: int) -> DriftGrid:
    rows = [row for row in results if row.method == method]
    checks = sorted({row.ts for row in rows})[-max_checks:]
    cells: dict[str, dict[datetime, DriftResultRecord]] = defaultdict(dict)
    for row in rows:
        if row.ts in checks:
            cells[row.feature].setdefault(row.ts, row)  # newest id first: keep the first seen
    return DriftGrid(method, checks, dict(sorted(cells.items())))


def check_label(ts: datetime) -> str:
    return f"{ts:%m-%d}\n{ts:%H:%M}"


def dataset_first(cell) -> tuple[int, str]:
    """The dataset row on top, the multivariate checks under it, then the features by name (rows a
    cleared filter brings back arrive at the end)."""
    text = str(cell)
    return (0 if text == "dataset" else 1 if text.startswith("⟨multivar") else 2), text


class DriftScreen(FilteredScreen):
    BINDINGS = bindings("drift")
    AUTO_FOCUS = "#drift-grid"
    FILTER_TABLE = "drift-grid"

    def __init__(self, slot_key: str) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.results: list[DriftResultRecord] | None = None
        self.method: str | None = None
        self.grid: DriftGrid | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"Drift: {self.slot_key}", classes="section-title", id="drift-title")
        yield filter_box()
        yield FilteredTable(id="drift-grid", cursor_type="row", header_height=2, filter_by_key=True)
        yield Static(EMPTY_HINT, id="empty-hint")
        yield Static("", id="drift-legend")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#empty-hint").display = False
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_results()

    @work(thread=True, exclusive=True)
    def load_results(self) -> None:
        try:
            results = self.app.brain.list_drift_results(slot_key=self.slot_key, limit=RESULTS_READ)
        except BrainError as error:
            self.post_message(DriftLoaded([], str(error)))
            return
        self.post_message(DriftLoaded(results))

    @on(DriftLoaded)
    def _results_loaded(self, message: DriftLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
            return
        self.results = message.results
        methods = methods_of(self.results)
        if self.method not in methods:
            self.method = methods[0] if methods else None
        self.show_grid()

    def max_checks(self) -> int:
        """As many checks as fit beside the feature names: the newest ones."""
        return max(1, (self.app.size.width - FEATURE_WIDTH - 4) // (CELL_WIDTH + 2))

    def show_grid(self) -> None:
        table = self.query_one("#drift-grid", DataTable)
        table.clear(columns=True)
        empty = self.method is None
        self.query_one("#empty-hint").display = empty
        table.display = not empty
        if empty:
            self.query_one("#drift-legend", Static).update("")
            return
        self.grid = grid = drift_grid(self.results, self.method, self.max_checks())
        table.add_column("Feature", key="feature", width=FEATURE_WIDTH)
        for ts in grid.checks:
            table.add_column(check_label(ts), key=ts.isoformat(), width=CELL_WIDTH)
        self.show_filtered()
        multivariate = len(multivariate_checks(self.results))
        if table.row_count > 1 + multivariate:
            table.move_cursor(row=1 + multivariate)  # the first feature
        threshold = grid.threshold
        shown = "p-value" if self.method in P_VALUE_METHODS else "statistic"
        together = ("⟨multivar⟩: reconstruction error of all features ≥ its bootstrap bound  ·  "
                    if multivariate else "")
        self.query_one("#drift-legend", Static).update(
            f"{LEVEL_GLYPHS[0]} calm  {LEVEL_GLYPHS[1]} >¼ of threshold  {LEVEL_GLYPHS[2]} >½  "
            f"{LEVEL_GLYPHS[3]}! drifted ({'p ≤' if shown == 'p-value' else '≥'} {threshold:g})  ·  "
            f"dataset: drifted features / features, ! = dataset drift  ·  {together}Enter: distributions")

    def show_filtered(self) -> None:
        """The dataset row, then the features whose name holds the filter text, synced in place."""
        grid = self.grid
        if grid is None or self.method is None:
            return
        checks = {ts.isoformat(): ts for ts in grid.checks}  # column key -> check time
        rows = {DATASET_ROW: {"feature": "dataset",
                              **{key: dataset_cell(*grid.dataset(ts)) for key, ts in checks.items()}}}
        multivariate = multivariate_checks(self.results)
        for method, by_ts in multivariate.items():
            rows[MULTIVARIATE_ROW + method] = {"feature": multivariate_label(method), **{
                key: drift_cell(r.method, r.statistic, r.p_value, r.threshold, r.drifted)
                if (r := by_ts.get(ts)) else missing_cell() for key, ts in checks.items()}}
        for feature, by_ts in grid.cells.items():
            rows[feature] = {"feature": feature[:FEATURE_WIDTH], **{
                key: drift_cell(r.method, r.statistic, r.p_value, r.threshold, r.drifted)
                if (r := by_ts.get(ts)) else missing_cell() for key, ts in checks.items()}}
        shown_rows = self.query_one("#drift-grid", FilteredTable).show_rows(
            rows, sort_by="feature", sort_key=dataset_first,
            always={DATASET_ROW, *(MULTIVARIATE_ROW + method for method in multivariate)})
        wanted = self.filter_text.lower()
        methods = methods_of(self.results)
        shown = "p-value" if self.method in P_VALUE_METHODS else "statistic"
        matches = ("" if not wanted
                   else f"  ·  {shown_rows - 1 - len(multivariate)} of {len(grid.cells)} features "
                        f"match '{wanted}'")
        self.query_one("#drift-title", Static).update(
            f"Drift: {self.slot_key}  ·  {self.method.upper()} {shown} per feature, "
            f"{len(grid.checks)} check{'s' if len(grid.checks) != 1 else ''}, newest right  ·  "
            f"method {methods.index(self.method) + 1}/{len(methods)} (m cycles){matches}")

    def action_cycle_method(self) -> None:
        methods = methods_of(self.results or [])
        if len(methods) < 2:
            self.notify("Only one drift statistic is stored for this slot.")
            return
        self.method = methods[(methods.index(self.method) + 1) % len(methods)]
        self.show_grid()

    def selected_feature(self) -> str | None:
        table = self.query_one("#drift-grid", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return None if row_key.value == DATASET_ROW else row_key.value

    def action_open_feature(self) -> None:
        feature = self.selected_feature()
        if feature is not None and feature.startswith(MULTIVARIATE_ROW):
            self.show_multivariate(feature.removeprefix(MULTIVARIATE_ROW))
            return
        if feature is not None and self.grid is not None:
            from huracan_tui.console.screens.drift_feature import DriftFeatureScreen

            latest = {method: drift_grid(self.results, method, 1).latest(feature)
                      for method in methods_of(self.results)}
            self.app.push_screen(DriftFeatureScreen(self.slot_key, feature,
                                                    {m: r for m, r in latest.items() if r}))

    def show_multivariate(self, method: str) -> None:
        """A multivariate check has no one distribution to draw: its newest numbers instead."""
        by_ts = multivariate_checks(self.results or []).get(method, {})
        if not by_ts:
            return
        row = by_ts[max(by_ts)]
        details = row.details or {}
        verdict = "DRIFT" if row.drifted else "no drift"
        self.notify(
            f"{verdict}: mean reconstruction error {row.statistic or float('nan'):.4g} "
            f"against {row.threshold:.4g} "
            f"(the {details.get('quantile', 0.99):.0%} bootstrap bound of an unchanged window; "
            f"reference {details.get('reference_error', float('nan')):.4g}), "
            f"{details.get('components', '?')} units over {details.get('features', '?')} features",
            title=f"Multivariate drift by {method}")

    @on(DataTable.RowSelected, "#drift-grid")
    def _row_selected(self) -> None:
        self.action_open_feature()

    def action_back(self) -> None:
        self.app.pop_screen()

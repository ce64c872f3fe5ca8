"""The Importance view: a slot's top features (by the latest version's importance) with their
rank across versions as a sparkline, and an alert line when the top features changed between
the last two versions. Enter on a feature: its value and rank in every version. `/` filters the
features by name, across all of the latest version's features (not only the top ones). `m`
switches between the methods the slot's versions were measured by (native: the learner's own;
permutation: on the out-of-sample folds; shap: the boosters' TreeSHAP); the title says which."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static

from brain import BrainError
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.base import HuracanScreen
from huracan_tui.console.screens.filtered import FilteredScreen
from huracan_tui.console.widgets.filtered_table import FilteredTable, columns_hint, filter_box
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.heatmap import sparkline
from huracan_tui.console.widgets.status_bar import StatusBar

TOP_K = 5  # the set whose change raises the alert
FEATURES_SHOWN = 15
PREFERRED_METHODS = ("shap", "tree_shap", "permutation", "native", "correlation", "variance")
COLUMNS = (("rank", "#"), ("feature", "Feature"), ("value", "Importance"), ("change", "Δ rank"),
           ("trend", "Rank by version"), ("ranks", "Ranks (oldest → newest)"))
COLUMN_PRIORITY = ("rank", "feature", "value", "change", "trend", "ranks")
EMPTY_HINT = "No feature importance stored for this slot yet: training stores it with each version."


@dataclass(frozen=True)
class VersionImportance:
    number: int
    model_kind: str
    values: dict[str, float | None]
    ranks: dict[str, int]


@dataclass(frozen=True)
class ImportanceData:
    method: str | None
    trend: dict
    versions: list[VersionImportance]  # versions that have this method, oldest first
    methods: tuple[str, ...] = ()  # every method some version of the slot has, preferred first


class ImportanceLoaded(Message):
    def __init__(self, data: ImportanceData | None, error: str | None = None) -> None:
        super().__init__()
        self.data = data
        self.error = error


def read_importance(brain, slot_key: str, method: str | None = None) -> ImportanceData:
    """The slot's importance by `method` (None: the latest version's preferred one)."""
    versions = brain.list_versions(slot_key)
    rows = {v.number: brain.feature_importance(v.id) for v in versions}
    found = {row["method"] for per_version in rows.values() for row in per_version}
    if not found:
        return ImportanceData(None, {}, [])
    methods = tuple(sorted(found, key=lambda m: (PREFERRED_METHODS.index(m) if m in PREFERRED_METHODS
                                                 else len(PREFERRED_METHODS), m)))
    if method not in found:
        # The latest version's best method, so the table speaks of the model that runs now.
        latest_methods = {row["method"] for row in rows[versions[-1].number]} or found
        method = next((m for m in PREFERRED_METHODS if m in latest_methods), sorted(latest_methods)[0])
    per_version = []
    for version in versions:
        mine = [row for row in rows[version.number] if row["method"] == method]
        if mine:
            per_version.append(VersionImportance(
                version.number, version.model_kind, {row["feature"]: row["value"] for row in mine},
                {row["feature"]: row["rank"] for row in mine}))
    return ImportanceData(method, brain.importance_trend(slot_key, method, top_k=TOP_K), per_version,
                          methods)


def alert_text(trend: dict) -> Text:
    versions = trend.get("versions") or []
    if len(versions) < 2:
        return Text("One version so far: no trend yet.", style="dim")
    before, last = versions[-2], versions[-1]
    if not last["alert"]:
        return Text(f"Top {trend['top_k']} unchanged from v{before['number']} to v{last['number']}.",
                    style="green")
    entered = ", ".join(last["entered"]) or "-"
    left = ", ".join(last["left"]) or "-"
    return Text(f"⚠ Top {trend['top_k']} changed from v{before['number']} to v{last['number']}: "
                f"in {entered}; out {left}", style="bold yellow")


def feature_cells(feature: str, data: ImportanceData) -> dict[str, object]:
    latest = data.versions[-1]
    ranks = [v.ranks.get(feature) for v in data.versions]
    previous = ranks[-2] if len(ranks) > 1 else None
    change = None if previous is None or ranks[-1] is None else previous - ranks[-1]
    change_text = Text("-" if change is None else f"{change:+d}" if change else "=", justify="right",
                       style="green" if change and change > 0 else "red" if change else "")
    return {
        "rank": fmt.right(str(latest.ranks[feature])),
        "feature": feature,
        "value": fmt.right(fmt.number(latest.values.get(feature), 4)),
        "change": change_text,
        "trend": sparkline([None if r is None else float(r) for r in ranks], higher_is_better=False),
        "ranks": " → ".join("-" if r is None else str(r) for r in ranks),
    }


class ImportanceScreen(FilteredScreen):
    BINDINGS = bindings("importance")
    AUTO_FOCUS = "#importance"
    FILTER_TABLE = "importance"

    def __init__(self, slot_key: str) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.data: ImportanceData | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"Importance: {self.slot_key}", classes="section-title", id="importance-title")
        yield Static("", id="importance-alert")
        yield filter_box()
        table = FilteredTable(id="importance", cursor_type="row", zebra_stripes=True, filter_by_key=True)
        table.set_columns(COLUMNS, priority=COLUMN_PRIORITY)
        yield table
        yield Static(EMPTY_HINT, id="empty-hint")
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.query_one("#empty-hint").display = False
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_importance()

    @work(thread=True, exclusive=True)
    def load_importance(self, method: str | None = None) -> None:
        try:
            self.post_message(ImportanceLoaded(read_importance(self.app.brain, self.slot_key, method)))
        except BrainError as error:
            self.post_message(ImportanceLoaded(None, str(error)))

    @on(ImportanceLoaded)
    def _loaded(self, message: ImportanceLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
            return
        self.data = data = message.data
        self.query_one("#empty-hint").display = not data.versions
        if not data.versions:
            return
        self.show_filtered()
        self.query_one("#importance-alert", Static).update(alert_text(data.trend))

    def show_filtered(self) -> None:
        data = self.data
        if data is None or not data.versions:
            return
        latest = data.versions[-1]
        ranked = sorted(latest.ranks, key=latest.ranks.get)
        wanted = self.filter_text.lower()
        candidates = ranked if wanted else ranked[:FEATURES_SHOWN]  # a filter looks past the top ones
        table = self.query_one("#importance", FilteredTable)
        shown = table.show_rows(
            {feature: feature_cells(feature, data) for feature in candidates},
            # Resorted every time: another method (or a new version) ranks the same rows anew.
            sort_by="rank", sort_key=lambda cell: int(str(cell)), resort=True)
        numbers = ", ".join(f"v{v.number}" for v in data.versions)
        which = (f"top {shown}" if not wanted
                 else f"{shown} of {len(ranked)} features match '{self.filter_text}'")
        others = [m for m in data.methods if m != data.method]
        switch = f"  ·  m: {', '.join(others)}" if others else ""
        # The columns hint first: the rest of the line is what an 80-column terminal cuts.
        self.query_one("#importance-title", Static).update(
            f"Importance: {self.slot_key}{columns_hint(table)}  ·  {data.method}, {which} of "
            f"v{latest.number} {latest.model_kind}  ·  versions {numbers}{switch}")

    def action_next_method(self) -> None:
        """Show the next method the slot's versions have (they cycle)."""
        data = self.data
        if data is None or len(data.methods) < 2:
            self.notify("Only one importance method is stored for this slot "
                        "(training.importance in the config adds permutation and shap).")
            return
        following = data.methods[(data.methods.index(data.method) + 1) % len(data.methods)]
        self.load_importance(following)

    def selected_feature(self) -> str | None:
        table = self.query_one("#importance", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def action_open_feature(self) -> None:
        feature = self.selected_feature()
        if feature is not None and self.data is not None:
            self.app.push_screen(FeatureImportanceScreen(self.slot_key, feature, self.data))

    @on(DataTable.RowSelected, "#importance")
    def _row_selected(self) -> None:
        self.action_open_feature()

    def action_back(self) -> None:
        self.app.pop_screen()


class FeatureImportanceScreen(HuracanScreen):
    """One feature's importance and rank in every version of the slot."""

    BINDINGS = bindings("detail")  # Esc goes back
    AUTO_FOCUS = "#feature-versions"

    def __init__(self, slot_key: str, feature: str, data: ImportanceData) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.feature = feature
        self.data = data

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"Importance: {self.slot_key} · {self.feature} ({self.data.method}) per version",
                     classes="section-title", id="feature-title")
        table = DataTable(id="feature-versions", cursor_type="row", zebra_stripes=True)
        for key, label in (("version", "Ver"), ("model", "Model"), ("value", "Importance"),
                           ("rank", "Rank"), ("of", "Of"), ("change", "Δ rank")):
            table.add_column(label, key=key)
        yield table
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        table = self.query_one("#feature-versions", DataTable)
        previous = None
        for version in self.data.versions:
            rank = version.ranks.get(self.feature)
            change = None if previous is None or rank is None else previous - rank
            table.add_row(
                fmt.right(f"v{version.number}"), version.model_kind,
                fmt.right(fmt.number(version.values.get(self.feature), 4)),
                fmt.right("-" if rank is None else str(rank)), fmt.right(str(len(version.ranks))),
                fmt.right("-" if change is None else f"{change:+d}"),
                key=str(version.number),
            )
            previous = rank

    def action_back(self) -> None:
        self.app.pop_screen()

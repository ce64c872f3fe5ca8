"""The A/B view: a slot's challengers (every version but the champion); Enter on one queues a
`compare` job (operators only: it refits models, so a worker process runs it), the view watches
the job and shows the stored comparison when it lands: per test the statistic, p, corrected p,
effect size and verdict, then each challenger's overall verdict. The latest stored comparison of
the slot shows at once. `/` filters the challengers and the results by text; Enter on a result
row shows the whole stored row (its details: alpha, fold counts, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static

from brain import BrainError
from brain.records import JobRecord, VersionRecord
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.filtered import FilteredScreen, details_panel
from huracan_tui.console.screens.log_table import details_text
from huracan_tui.console.screens.promote import ask_promotion
from huracan_tui.console.widgets.filtered_table import FilteredTable, columns_hint, filter_box
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.services.comparison import champion_of, overall_verdict

MIN_POLL_SECONDS = 0.5
COMPARISONS_READ = 500
VERDICT_STYLES = {"challenger_better": "bold green", "champion_better": "bold red",
                  "no_difference": "dim", "mixed": "yellow"}
CHALLENGER_COLUMNS = (("version", "Ver"), ("model", "Model"), ("trained", "Trained (UTC)"),
                      ("verdict", "Last verdict"))
# "p adj.": the p-value after the multiple-testing correction (Holm by default); short, so the
# verdicts fit an 80-column terminal.
RESULT_COLUMNS = (("challenger", "Ver"), ("test", "Test"), ("statistic", "Statistic"),
                  ("p", "p"), ("p_adjusted", "p adj."), ("effect", "Effect"), ("verdict", "Verdict"))
# What a narrow terminal keeps, most important first (Enter shows a result's whole record).
RESULT_PRIORITY = ("challenger", "test", "verdict", "p_adjusted", "effect", "statistic", "p")


@dataclass(frozen=True)
class CompareState:
    champion: int
    versions: list[VersionRecord]
    comparisons: list[dict]  # newest first
    job: JobRecord | None  # the slot's newest compare job


class CompareLoaded(Message):
    def __init__(self, state: CompareState | None, error: str | None = None) -> None:
        super().__init__()
        self.state = state
        self.error = error


def read_compare_state(brain, slot_key: str) -> CompareState:
    jobs = [job for job in brain.list_jobs(limit=100)
            if job.kind == "compare" and job.slot_key == slot_key]
    return CompareState(champion_of(brain, slot_key), brain.list_versions(slot_key),
                        brain.list_comparisons(slot_key, limit=COMPARISONS_READ),
                        jobs[0] if jobs else None)


def latest_comparison(comparisons: list[dict]) -> list[dict]:
    """The rows of the newest comparison (one record_comparison call shares its ts)."""
    if not comparisons:
        return []
    newest = comparisons[0]
    return [row for row in comparisons
            if row["ts"] == newest["ts"] and row["champion_version"] == newest["champion_version"]]


def verdict_text(verdict: str) -> Text:
    return Text(verdict, style=VERDICT_STYLES.get(verdict, ""))


def result_cells(row: dict) -> dict[str, object]:
    return {
        "challenger": fmt.right(f"v{row['challenger_version']}"),
        "test": row["test"],
        "statistic": fmt.right(fmt.number(row["statistic"], 4)),
        "p": fmt.right(fmt.number(row["p_value"], 4)),
        "p_adjusted": fmt.right(fmt.number(row["p_adjusted"], 4)),
        "effect": fmt.signed(row["effect_size"], 3),
        "verdict": verdict_text(row["verdict"]),
    }


def result_details(row: dict) -> str:
    return (f"v{row['challenger_version']} against champion v{row['champion_version']}  ·  {row['test']}  ·  "
            f"{fmt.timestamp(row['ts'])} UTC\nstatistic {fmt.number(row['statistic'], 6)}  "
            f"p {fmt.number(row['p_value'], 6)}  p adj. {fmt.number(row['p_adjusted'], 6)} "
            f"({row['correction'] or '-'})  effect {fmt.number(row['effect_size'], 6)}  ·  "
            f"verdict {row['verdict']}\n{details_text(row.get('details'))}")


def job_line(job: JobRecord | None) -> str:
    if job is None:
        return ""
    if job.is_active:
        return (f"Comparison job {job.id} {job.state} {100 * (job.progress or 0):.0f}%: "
                f"{job.message or 'waiting for a worker'}")
    if job.state == "succeeded":
        return f"Comparison job {job.id} finished."
    return f"Comparison job {job.id} {job.state}: {job.error or job.message or ''}"


class CompareScreen(FilteredScreen):
    BINDINGS = bindings("compare")
    AUTO_FOCUS = "#challengers"
    FILTER_TABLE = "challengers"

    def __init__(self, slot_key: str) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.state: CompareState | None = None
        self.challenger_rows: dict[str, dict[str, object]] = {}
        self.latest: list[dict] = []  # the rows of the newest stored comparison
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"A/B: {self.slot_key}", classes="section-title", id="compare-title")
        yield filter_box()
        challengers = FilteredTable(id="challengers", cursor_type="row", zebra_stripes=True)
        challengers.set_columns(CHALLENGER_COLUMNS)  # four short columns: they fit 80 columns
        yield challengers
        yield Static("", id="compare-job")
        yield Static("", classes="section-title", id="results-title")
        results = FilteredTable(id="results", cursor_type="row")
        results.set_columns(RESULT_COLUMNS, priority=RESULT_PRIORITY)
        yield results
        yield Static("", id="overall")
        yield details_panel()
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_state()

    @work(thread=True, exclusive=True)
    def load_state(self) -> None:
        try:
            self.post_message(CompareLoaded(read_compare_state(self.app.brain, self.slot_key)))
        except BrainError as error:
            self.post_message(CompareLoaded(None, str(error)))

    def _watch_while_running(self) -> None:
        """Poll again only while a comparison job is under way; one poll at a time."""
        job = self.state.job if self.state else None
        if job is not None and job.is_active:
            self._timer = self.set_timer(max(MIN_POLL_SECONDS, self.app.refresh_seconds), self.load_state)

    @on(CompareLoaded)
    def _loaded(self, message: CompareLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
            return
        self.state = state = message.state
        latest = latest_comparison(state.comparisons)
        last_verdicts = {}
        for row in state.comparisons:  # newest first: the first seen is the last verdict
            last_verdicts.setdefault(row["challenger_version"], []).append(row)
        champion = next((v for v in state.versions if v.number == state.champion), None)
        self.query_one("#compare-title", Static).update(
            f"A/B: {self.slot_key}  ·  champion v{state.champion}"
            f"{f' {champion.model_kind}' if champion else ' (missing)'}  ·  "
            f"pick a challenger, Enter compares (a job refits both on the champion's folds)")
        rows = {}
        for version in reversed(state.versions):
            if version.number == state.champion:
                continue
            stored = latest_comparison(last_verdicts.get(version.number, []))
            verdict = overall_verdict([row["verdict"] for row in stored]) if stored else "-"
            rows[str(version.number)] = {
                "version": fmt.right(f"v{version.number}"), "model": version.model_kind,
                "trained": fmt.timestamp(version.created_at), "verdict": verdict_text(verdict),
            }
        self.challenger_rows = rows
        self.latest = latest
        self.query_one("#compare-job", Static).update(job_line(state.job))
        self.show_filtered()
        self._watch_while_running()

    def show_filtered(self) -> None:
        # Newest version first, results in their stored order (rows a cleared filter brings back
        # arrive at the end: the sorts put them back).
        self.query_one("#challengers", FilteredTable).show_rows(
            self.challenger_rows, sort_by="version", sort_key=lambda cell: int(str(cell).removeprefix("v")),
            reverse=True)
        self.show_comparison(self.latest)

    def show_comparison(self, rows: list[dict]) -> None:
        order = {f"{row['challenger_version']}:{row['test']}": index for index, row in enumerate(rows)}
        table = self.query_one("#results", FilteredTable)
        table.show_rows({key: result_cells(row) for key, row in zip(order, rows, strict=True)})
        # Rows a cleared filter brings back arrive at the end: back to the comparison's own order.
        table.sort("challenger", "test",
                   key=lambda cells: order.get(f"{str(cells[0]).strip().removeprefix('v')}:{cells[1]}", 0))
        title = self.query_one("#results-title", Static)
        overall = self.query_one("#overall", Static)
        if not rows:
            title.update("No comparison stored for this slot yet.")
            overall.update("")
            return
        first = rows[0]
        alpha = (first.get("details") or {}).get("alpha")
        title.update(f"Comparison of {fmt.timestamp(first['ts'])} UTC: "
                     f"champion v{first['champion_version']}, "
                     f"{first['correction'] or '-'} correction, alpha {alpha if alpha is not None else '-'}"
                     f"{columns_hint(table)}")
        line = Text("Overall: ")
        for number in sorted({row["challenger_version"] for row in rows}):
            verdict = overall_verdict([row["verdict"] for row in rows if row["challenger_version"] == number])
            line.append(f"v{number} ")
            line.append_text(verdict_text(verdict))
            line.append("  ")
        best = (first.get("details") or {}).get("best_model")
        if best:
            line.append(f"·  best by composite score: {best}")
        overall.update(line)

    def selected_challenger(self) -> int | None:
        table = self.query_one("#challengers", DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    def action_start_compare(self) -> None:
        app = self.app
        if not app.allows("start_compare"):
            app.deny("compare.start")
            return
        number = self.selected_challenger()
        if number is None or self.state is None:
            self.notify("This slot has no challenger: train another version first.", severity="warning")
            return
        job = self.state.job
        if job is not None and job.is_active:
            self.notify(f"A comparison of {self.slot_key} is already running as job {job.id}.")
            return
        app.submit_request("compare", {"slot": self.slot_key, "challengers": [number],
                                       "champion": self.state.champion},
                           on_done=lambda _command: self.load_state())

    def promotion_candidate(self) -> VersionRecord | None:
        """The challenger the operator is looking at: the focused result row's, else the selected
        challenger's."""
        if self.state is None:
            return None
        results = self.query_one("#results", DataTable)
        number = None
        if results.has_focus and results.row_count:
            row_key, _ = results.coordinate_to_cell_key(results.cursor_coordinate)
            number = int(str(row_key.value).split(":", 1)[0])
        if number is None:
            number = self.selected_challenger()
        return next((v for v in self.state.versions if v.number == number), None)

    def action_promote(self) -> None:
        """P where the verdict is read: the same dialog as the registry's, with this verdict."""
        app = self.app
        if not app.allows("promote"):
            app.deny("promote")
            return
        version = self.promotion_candidate()
        if version is None:
            self.notify("This slot has no challenger to promote.", severity="warning")
            return
        if version.status == "pruned":
            self.notify(f"v{version.number} is pruned: it is never promoted again.", severity="warning")
            return
        ask_promotion(self, self.slot_key, version, on_done=lambda _request: self.load_state())

    @on(DataTable.RowSelected, "#results")
    def _result_selected(self, event: DataTable.RowSelected) -> None:
        row = next((row for row in self.latest
                    if f"{row['challenger_version']}:{row['test']}" == event.row_key.value), None)
        if row is not None:
            self.show_details(result_details(row))

    @on(DataTable.RowSelected, "#challengers")
    def _row_selected(self) -> None:
        self.action_start_compare()

    def action_back(self) -> None:
        if self.close_details():  # Esc closes the details first, then the view
            return
        if self._timer is not None:
            self._timer.stop()
        self.app.pop_screen()

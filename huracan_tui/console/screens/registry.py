"""The Registry view of one slot: its versions with their status (champion, challenger, pruned)
and the promotion timeline (every change of champion: when, to which version, from which, how,
forced or not, on which A/B verdict, by whom and why).

Operators promote the selected version (`P`: the dialog shows its A/B verdict against the
champion and, when that does not pass, offers to force it, explicitly), roll back (`R`) and
prune (`X`), each with a reason, as operator requests like every action that changes
things. Enter on a version shows its manifest and metrics, Enter on a timeline row the metrics
the change rested on; `/` filters both tables by text."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from brain import BrainError
from brain.records import PromotionRecord, VersionRecord
from huracan_tui.console import formatting as fmt
from huracan_tui.console.actions import bindings
from huracan_tui.console.screens.audit import who
from huracan_tui.console.screens.confirm import ConfirmScreen
from huracan_tui.console.screens.filtered import FilteredScreen, details_panel
from huracan_tui.console.screens.log_table import details_text
from huracan_tui.console.screens.promote import ask_promotion
from huracan_tui.console.widgets.filtered_table import FilteredTable, columns_hint, filter_box
from huracan_tui.console.widgets.footer import ConsoleFooter
from huracan_tui.console.widgets.status_bar import StatusBar

VERSION_COLUMNS = (("version", "Ver"), ("model", "Model"), ("status", "Status"), ("trained", "Trained (UTC)"),
                   ("sharpe", "Sharpe"), ("hit", "Hit rate"))
TIMELINE_COLUMNS = (("id", "#"), ("ts", "When (UTC)"), ("version", "Ver"), ("previous", "From"),
                    ("kind", "Kind"), ("forced", "Forced"), ("verdict", "Verdict"), ("actor", "Who"),
                    ("reason", "Reason"))
# What a narrow terminal keeps, most important first (Enter shows a row's whole record).
VERSION_PRIORITY = ("version", "status", "model", "sharpe", "hit", "trained")
TIMELINE_PRIORITY = ("id", "version", "kind", "verdict", "forced", "ts", "previous", "actor", "reason")
STATUS_STYLES = {"champion": "bold green", "challenger": "", "pruned": "dim strike"}
KIND_STYLES = {"promote": "green", "rollback": "yellow", "auto_rollback": "bold yellow"}


@dataclass(frozen=True)
class RegistryState:
    champion: int | None
    versions: list[VersionRecord]
    metrics: dict[int, dict[str, float | None]]  # version number -> overall out-of-sample metrics
    history: list[PromotionRecord]  # newest first


class RegistryLoaded(Message):
    def __init__(self, state: RegistryState | None, error: str | None = None) -> None:
        super().__init__()
        self.state = state
        self.error = error


def read_registry(brain, slot_key: str) -> RegistryState:
    champion = brain.champion(slot_key)
    versions = brain.list_versions(slot_key)
    metrics = {
        version.number: {m.name: m.value for m in brain.version_metrics(version.id, scope="oos")
                         if m.fold is None}
        for version in versions
    }
    return RegistryState(None if champion is None else champion.number, versions, metrics,
                         brain.promotion_history(slot_key))


def version_status(version: VersionRecord, champion: int | None) -> str:
    if version.number == champion:
        return "champion"
    return "pruned" if version.status == "pruned" else "challenger"


def version_details(slot_key: str, version: VersionRecord, status: str,
                    metrics: dict[str, float | None]) -> str:
    span = ("-" if version.data_start is None else f"{version.data_start:%Y-%m-%d}") + " → " + (
        "-" if version.data_end is None else f"{version.data_end:%Y-%m-%d}")
    return (f"{slot_key} v{version.number}  {version.model_kind}  {status}  trained "
            f"{version.created_at:%Y-%m-%d %H:%M:%S} UTC  ·  data {span}\n"
            f"artifact sha256 {version.artifact_sha256}\nnotes: {version.notes or '-'}\n"
            f"out-of-sample metrics:\n{details_text(metrics)}\nmanifest:\n{details_text(version.manifest)}")


class RollbackDialog(ConfirmScreen):
    """The rollback dialog: the reason first (required, focused), then the version to put back
    (optional: blank is the previous champion). Enter in either field confirms once both are
    good; what is not a version number, or a missing reason, is said at once in the dialog."""

    AUTO_FOCUS = "#confirm-reason"

    def __init__(self, question: str, default_target: int | None) -> None:
        super().__init__(question)
        self.default_target = default_target

    def compose_after(self) -> ComposeResult:
        default = "the previous champion" if self.default_target is None else f"v{self.default_target}"
        target = Input(placeholder=f"version to put back (blank: {default})", id="rollback-to")
        target.cursor_blink = False
        yield target

    @on(Input.Submitted, "#rollback-to")
    def _target_given(self) -> None:
        if self._target() is False:
            return
        reason = self.query_one("#confirm-reason", Input)
        if not reason.value.strip():
            reason.focus()
            self.query_one("#confirm-hint", Static).update("A reason is required (above) · Esc cancels")
            return
        self.confirm(reason.value)

    def _target(self) -> int | None | bool:
        """The version named (None: blank), or False after saying the text is not a version."""
        text = self.query_one("#rollback-to", Input).value.strip().removeprefix("v")
        if not text:
            return None
        if not text.isdigit():
            self.query_one("#confirm-hint", Static).update(
                f"Not a version number: {text!r} (the reason goes in the field above) · Esc cancels")
            return False
        return int(text)

    def result(self, reason: str):
        target = self._target()
        return None if target is False else (reason, target)


class RegistryScreen(FilteredScreen):
    BINDINGS = bindings("registry")
    AUTO_FOCUS = "#registry-versions"
    FILTER_TABLE = "registry-versions"
    DETAILS_ID = "registry-details"

    def __init__(self, slot_key: str) -> None:
        super().__init__()
        self.slot_key = slot_key
        self.state: RegistryState | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        yield Static(f"Registry: {self.slot_key}", classes="section-title", id="registry-title")
        yield filter_box()
        versions = FilteredTable(id="registry-versions", cursor_type="row", zebra_stripes=True)
        versions.set_columns(VERSION_COLUMNS, priority=VERSION_PRIORITY)
        yield versions
        yield Static("Promotion timeline (newest first)", classes="section-title", id="timeline-title")
        timeline = FilteredTable(id="timeline", cursor_type="row", zebra_stripes=True)
        timeline.set_columns(TIMELINE_COLUMNS, priority=TIMELINE_PRIORITY)
        yield timeline
        yield details_panel(self.DETAILS_ID)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        if self.app.snapshot is not None:
            self.query_one(StatusBar).show(self.app.status_line(self.app.snapshot))
        self.load_state()

    @work(thread=True, exclusive=True)
    def load_state(self) -> None:
        try:
            self.post_message(RegistryLoaded(read_registry(self.app.brain, self.slot_key)))
        except BrainError as error:
            self.post_message(RegistryLoaded(None, str(error)))

    @on(RegistryLoaded)
    def _loaded(self, message: RegistryLoaded) -> None:
        if message.error is not None:
            self.notify(message.error, title="Brain unreachable", severity="error")
        else:
            self.show_state(message.state)
        if self._timer is not None:
            self._timer.stop()
        if not self.app.paused:  # one read at a time, re-armed after each
            self._timer = self.set_timer(self.app.refresh_seconds, self.load_state)

    def show_state(self, state: RegistryState) -> None:
        self.state = state
        self.show_filtered()

    def show_filtered(self) -> None:
        state = self.state
        if state is None:
            return
        champion = "no champion yet" if state.champion is None else f"champion v{state.champion}"
        matches = "" if not self.filter_text else f"  ·  filter '{self.filter_text}'"
        rows = {}
        for version in reversed(state.versions):
            status = version_status(version, state.champion)
            metrics = state.metrics.get(version.number, {})
            rows[str(version.number)] = {
                "version": fmt.right(f"v{version.number}"), "model": version.model_kind,
                "status": Text(status, style=STATUS_STYLES[status]),
                "trained": fmt.timestamp(version.created_at),
                "sharpe": fmt.signed(metrics.get("sharpe")), "hit": fmt.percent(metrics.get("hit_rate")),
            }
        versions = self.query_one("#registry-versions", FilteredTable)
        versions.show_rows(
            rows, sort_by="version", sort_key=lambda cell: int(str(cell).removeprefix("v")), reverse=True)
        self.query_one("#registry-title", Static).update(
            f"Registry: {self.slot_key}  ·  {champion}  ·  {len(state.versions)} versions{matches}"
            f"{columns_hint(versions)}")
        timeline = {str(p.id): {
            "id": fmt.right(str(p.id)), "ts": f"{p.ts:%Y-%m-%d %H:%M:%S}",
            "version": fmt.right(f"v{p.version}"),
            "previous": fmt.right("-" if p.previous_version is None else f"v{p.previous_version}"),
            "kind": Text(p.kind, style=KIND_STYLES.get(p.kind, "")),
            "forced": Text("FORCED", style="bold red") if p.forced else Text("-", style="dim"),
            "verdict": p.verdict or "-", "actor": who(p.actor, p.origin), "reason": p.reason[:40],
        } for p in state.history}
        # Newest first, by the promotion's id (new rows arrive at the end).
        self.query_one("#timeline", FilteredTable).show_rows(
            timeline, sort_by="id", sort_key=lambda cell: int(str(cell)), reverse=True)
        heading = ("Promotion timeline (newest first)" if state.history
                   else "Promotion timeline: no promotions yet")
        self.query_one("#timeline-title", Static).update(
            heading + columns_hint(self.query_one("#timeline", FilteredTable)))

    # ---- selection -----------------------------------------------------------------------------

    def selected_version(self) -> VersionRecord | None:
        table = self.query_one("#registry-versions", DataTable)
        if self.state is None or table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return next((v for v in self.state.versions if str(v.number) == row_key.value), None)

    @on(DataTable.RowSelected, "#registry-versions")
    def _version_selected(self) -> None:
        self.open_version()

    def action_open_row(self) -> None:
        """Enter when the focus is off the tables: the row under the cursor of the last one used."""
        if self.focused is not None and self.focused.id == "timeline":
            self.open_timeline_row()
        else:
            self.open_version()

    def open_version(self) -> None:
        version = self.selected_version()
        if version is None or self.state is None:
            return
        status = version_status(version, self.state.champion)
        self.show_details(version_details(self.slot_key, version, status,
                                          self.state.metrics.get(version.number, {})))

    @on(DataTable.RowSelected, "#timeline")
    def _timeline_selected(self) -> None:
        self.open_timeline_row()

    def open_timeline_row(self) -> None:
        table = self.query_one("#timeline", DataTable)
        history = self.state.history if self.state else []
        if table.row_count == 0:
            return
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        record = next((p for p in history if str(p.id) == row_key.value), None)
        if record is None:
            return
        previous = "-" if record.previous_version is None else f"v{record.previous_version}"
        self.show_details(f"{record.kind} to v{record.version} from {previous}  "
                     f"{record.ts:%Y-%m-%d %H:%M:%S} UTC by {who(record.actor, record.origin)}"
                     f"{'  FORCED' if record.forced else ''}\n"
                     f"verdict: {record.verdict or '-'}  ·  reason: {record.reason}\n"
                     f"metrics:\n{details_text(record.metrics)}")

    # ---- actions that change things --------------------------------------------------------------

    def _reload(self, _command) -> None:
        self.load_state()

    def action_promote(self) -> None:
        version = self.selected_version()
        if version is None or self.state is None:
            return
        status = version_status(version, self.state.champion)
        if status != "challenger":
            self.notify(f"v{version.number} is the {status}: nothing to promote.", severity="warning")
            return
        ask_promotion(self, self.slot_key, version, on_done=self._reload)

    def action_rollback(self) -> None:
        if self.state is None or self.state.champion is None:
            self.notify(f"{self.slot_key} has no champion to roll back.", severity="warning")
            return
        latest = self.state.history[0] if self.state.history else None
        default = None if latest is None else latest.previous_version

        def confirmed(answer: tuple[str, int | None] | None) -> None:
            if answer is not None:
                reason, to = answer
                arguments = {"slot": self.slot_key, "reason": reason, "target": self.slot_key}
                if to is not None:
                    arguments["to"] = to
                self.app.submit_request("rollback", arguments, on_done=self._reload)

        question = f"Roll back {self.slot_key} from champion v{self.state.champion}?"
        self.app.push_screen(RollbackDialog(question, default), confirmed)

    def action_prune(self) -> None:
        version = self.selected_version()
        if version is None or self.state is None:
            return
        status = version_status(version, self.state.champion)
        if status != "challenger":
            self.notify(f"v{version.number} is the {status}: it cannot be pruned.", severity="warning")
            return

        def confirmed(reason: str | None) -> None:
            if reason is not None:
                self.app.submit_request("prune", {
                    "slot": self.slot_key, "version": version.number, "reason": reason,
                    "target": f"{self.slot_key} v{version.number}"}, on_done=self._reload)

        question = (f"Prune {self.slot_key} v{version.number} ({version.model_kind})? It stays in the "
                    "history but can never be promoted again.")
        self.app.push_screen(ConfirmScreen(question), confirmed)

    def action_back(self) -> None:
        if self.close_details():  # Esc closes the details first, then the view
            return
        if self._timer is not None:
            self._timer.stop()
        self.app.pop_screen()

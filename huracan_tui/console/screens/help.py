"""`?` / F1: help for the view it was opened on: what each of its columns is (whose figure, from
where), its keys, then the keys that work everywhere, those of the other views (grouped by view)
and the `:` commands, all straight from the registries. Type to search; nothing is cut, long
lines wrap."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from huracan_tui.console.actions import ACTIONS, BY_ID, key_label
from huracan_tui.console.prompt import PROMPT_WORDS

SCOPE_NAMES = {"app": "everywhere", "models": "Models view", "detail": "slot detail", "jobs": "Jobs view",
               "drift": "Drift view", "importance": "Importance view", "compare": "A/B view",
               "replay": "Replay view", "registry": "Registry view", "rollbacks": "Rollback log",
               "audit": "Audit log", "queues": "Queues view", "data": "Data view",
               "notifications": "Notifications view", "regimes": "Regimes view"}



Row = tuple[str, str, str]  # (section, key or column, what it is)


def scope_of(screen: Screen | None) -> str:
    """The registry scope of a view: the one its own bindings belong to ('app' for none)."""
    for binding in getattr(screen, "BINDINGS", ()):
        action = BY_ID.get(getattr(binding, "id", None) or "")
        if action is not None and action.scope != "app":
            return action.scope
    return "app"


def help_rows(allowed, scope: str = "app", columns: tuple[tuple[str, str], ...] = ()) -> list[Row]:
    """Every row of the help, in its sections: the view's columns and keys, the keys everywhere,
    the other views' keys (a section each, in the registry's order), the commands."""
    here = SCOPE_NAMES[scope]
    rows: list[Row] = [(f"Columns of the {here}", label, meaning) for label, meaning in columns]

    def keys(of_scope: str) -> list[Row]:
        title = "Keys everywhere" if of_scope == "app" else f"Keys in the {SCOPE_NAMES[of_scope]}"
        return [(title, key_label(action.keys),
                 action.description + ("" if allowed(action) else "  [operators only]"))
                for action in ACTIONS if action.scope == of_scope]

    rows += keys(scope) if scope != "app" else []
    rows += keys("app")
    for other in dict.fromkeys(action.scope for action in ACTIONS):
        if other not in (scope, "app"):
            rows += keys(other)
    rows += [("Commands (type : first)", f":{name} {takes}".strip(), text)
             for name, (_, takes, text) in PROMPT_WORDS.items()]
    return rows


def matching_rows(rows: list[Row], query: str) -> list[Row]:
    wanted = query.strip().lower()
    return [row for row in rows if not wanted or any(wanted in cell.lower() for cell in row)]


def help_table(rows: list[Row]) -> Group:
    """A heading per section, then its rows; the descriptions wrap instead of being cut."""
    sections: dict[str, list[Row]] = {}
    for row in rows:
        sections.setdefault(row[0], []).append(row)
    parts: list = []
    for title, section in sections.items():
        table = Table.grid(padding=(0, 2))
        table.add_column(min_width=10, max_width=22, overflow="fold")  # a long command wraps too
        table.add_column(ratio=1)
        for _, key, text in section:
            table.add_row(Text(key), Text(text))
        parts += [Text(title, style="bold"), table, Text("")]
    return Group(*parts[:-1]) if parts else Group(Text("Nothing matches.", style="dim"))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close help", id="close-help"),
                Binding("up", "scroll_help('up')", show=False, priority=True),
                Binding("down", "scroll_help('down')", show=False, priority=True),
                Binding("pageup", "scroll_help('page_up')", show=False, priority=True),
                Binding("pagedown", "scroll_help('page_down')", show=False, priority=True)]

    def __init__(self, scope: str = "app", columns: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__()
        self.scope = scope
        self.columns = columns
        self.shown: list[Row] = []

    def compose(self) -> ComposeResult:
        here = SCOPE_NAMES[self.scope]
        title = "Huracan — help" if self.scope == "app" else f"Huracan — help for the {here}"
        with Vertical(classes="modal-dialog"):
            yield Static(title, classes="section-title")
            search = Input(placeholder="search columns, keys and commands", id="help-search")
            search.cursor_blink = False  # over SSH every blink is traffic
            yield search
            with VerticalScroll(id="help-body"):
                yield Static(id="help-text")
            yield Static("Type to search · ↑ ↓ PgUp PgDn scroll · Esc closes this help.", id="help-footer")

    def on_mount(self) -> None:
        self.show_rows("")

    @on(Input.Changed, "#help-search")
    def _search(self, event: Input.Changed) -> None:
        self.show_rows(event.value)

    def show_rows(self, query: str) -> None:
        self.shown = matching_rows(help_rows(self.app.action_is_available, self.scope, self.columns), query)
        self.query_one("#help-text", Static).update(help_table(self.shown))

    def action_scroll_help(self, how: str) -> None:
        """The search box keeps the focus; the arrows and page keys scroll the help under it."""
        body = self.query_one("#help-body", VerticalScroll)
        {"up": body.scroll_up, "down": body.scroll_down, "page_up": body.scroll_page_up,
         "page_down": body.scroll_page_down}[how](animate=False)

    def action_close(self) -> None:
        self.dismiss(None)

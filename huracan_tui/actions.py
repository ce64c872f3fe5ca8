"""Every console action in one registry. It feeds the key bindings (each Binding carries the
action's id, so a keymap can rebind it), the command palette, the `:` command line and the help
screen, and it says which actions change things, so one check (`HuracanApp.allows`) gates them
for viewers wherever they are invoked from."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    id: str  # the Binding id: what a keymap names to rebind it
    keys: str  # Textual key names, comma-separated
    action: str  # the Textual action it runs (on the app or on the screen of its scope)
    label: str  # short, for the footer
    description: str  # for the help screen and the command palette
    scope: str  # "app", "models" or "detail": where it is bound
    show: bool = True  # shown in the footer
    changes_things: bool = False  # operators only: viewers may look, never act


ACTIONS: tuple[Action, ...] = (
    Action("help", "question_mark,f1", "help", "Help", "Help: every key and what it does", "app"),
    Action("quit", "q", "quit", "Quit", "Quit the console (training workers carry on)", "app"),
    Action("command-line", "colon", "command_line", "Cmd",
           "Command line: ':slot GOOG', ':models', ':theme huracan-light', ':interval 5'", "app"),
    Action("data", "D", "show_data", "Data", "Data view: the latest data quality reports", "app"),
    Action("jobs", "J", "show_jobs", "Jobs", "Jobs view: progress, device, ETA; cancel", "app"),
    Action("refresh", "r", "refresh", "Refresh", "Refresh from the brain now", "app", show=False),
    Action("pause", "p", "toggle_pause", "Pause", "Pause or resume the live refresh", "app"),
    Action("faster", "plus", "refresh_faster", "Faster", "Refresh twice as often", "app", show=False),
    Action("slower", "minus", "refresh_slower", "Slower", "Refresh half as often", "app", show=False),
    Action("screenshot", "ctrl+s", "save_svg", "Screenshot",
           "Save an SVG screenshot of the screen to the export folder", "app", show=False),
    Action("demo", "d", "demo", "Demo", "Import the bundled data and train the demo models", "models",
           changes_things=True),
    Action("open", "enter", "open_slot", "Open", "Open the selected slot: versions, folds, manifest",
           "models", show=False),
    Action("filter", "slash", "filter", "Filter", "Filter the table's rows by text", "models"),
    Action("sort", "s", "sort_next", "Sort", "Sort by the next column", "models"),
    Action("sort-reverse", "S", "sort_reverse", "Reverse", "Reverse the sort order", "models", show=False),
    Action("export-csv", "e", "export('csv')", "Export", "Export the table to CSV", "models"),
    Action("export-json", "E", "export('json')", "JSON", "Export the table to JSON", "models", show=False),
    Action("copy", "y", "copy_slot", "Copy", "Copy the selected slot id to the clipboard (OSC 52)", "models",
           show=False),
    Action("back", "escape", "back", "Back", "Back to the previous view", "detail"),
    Action("jobs-back", "escape", "back", "Back", "Back to the previous view", "jobs"),
    Action("cancel-job", "c", "cancel_job", "Cancel job", "Cancel the selected job (asks for a reason)",
           "jobs", changes_things=True),
)

BY_ID = {action.id: action for action in ACTIONS}


def action_name(action: str) -> str:
    """'export('csv')' -> 'export': what Textual passes to check_action."""
    return action.split("(", 1)[0]


CHANGES_THINGS = {action_name(a.action) for a in ACTIONS if a.changes_things}


def bindings(scope: str) -> list[Binding]:
    return [
        Binding(a.keys, a.action, a.label, show=a.show, id=a.id, tooltip=a.description)
        for a in ACTIONS
        if a.scope == scope
    ]


def unknown_keymap_ids(keymap: dict[str, str]) -> list[str]:
    return sorted(set(keymap) - set(BY_ID))


KEY_NAMES = {"question_mark": "?", "escape": "Esc", "enter": "Enter", "f1": "F1", "colon": ":",
             "slash": "/", "plus": "+", "minus": "-", "ctrl+s": "Ctrl+S"}


def key_label(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(key, key) for key in keys.split(","))

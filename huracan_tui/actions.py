"""Every console action in one registry: it feeds the key bindings and the help screen, so a
key, its description and its place in the help can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    id: str  # also the Binding id, so a keymap can rebind it
    keys: str  # Textual key names, comma-separated
    action: str  # the Textual action it runs
    label: str  # short, for the footer
    description: str  # for the help screen
    scope: str  # "app", "models" or "detail": where it is bound
    show: bool = True  # shown in the footer


ACTIONS: tuple[Action, ...] = (
    Action("help", "question_mark,f1", "help", "Help", "Help: every key and what it does", "app"),
    Action("quit", "q", "quit", "Quit", "Quit the console (training workers carry on)", "app"),
    Action("refresh", "r", "refresh", "Refresh", "Refresh from the brain now", "app"),
    Action("demo", "d", "demo", "Demo", "Import the bundled data and train the demo models", "models"),
    Action("open", "enter", "open_slot", "Open", "Open the selected slot: versions, folds, manifest",
           "models"),
    Action("back", "escape", "back", "Back", "Back to the previous view", "detail"),
)


def bindings(scope: str) -> list[Binding]:
    return [
        Binding(a.keys, a.action, a.label, show=a.show, id=a.id, tooltip=a.description)
        for a in ACTIONS
        if a.scope == scope
    ]


def key_label(keys: str) -> str:
    names = {"question_mark": "?", "escape": "Esc", "enter": "Enter", "f1": "F1"}
    return " / ".join(names.get(key, key) for key in keys.split(","))

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
    audit_as: str = ""  # the audit log's name for it, allowed or refused (default: `action`)

    @property
    def audit_name(self) -> str:
        return self.audit_as or action_name(self.action)


ACTIONS: tuple[Action, ...] = (
    Action("help", "question_mark,f1", "help", "Help", "Help: every key and what it does", "app"),
    Action("quit", "q", "quit", "Quit", "Quit the console (training workers carry on)", "app"),
    Action("command-line", "colon", "command_line", "Cmd",
           "Command line: ':slot GOOG', ':models', ':theme huracan-light', ':interval 5'", "app"),
    Action("data", "D", "show_data", "Data", "Data view: the latest data quality reports", "app"),
    Action("jobs", "J", "show_jobs", "Jobs", "Jobs view: progress, device, ETA; cancel", "app"),
    Action("replay", "H", "show_replay", "Replay",
           "Replay view: step back through what the console showed in the last hours", "app", show=False),
    Action("replay-older", "left,left_square_bracket", "step(-1)", "Older", "Replay: one frame back",
           "replay"),
    Action("replay-newer", "right,right_square_bracket", "step(1)", "Newer", "Replay: one frame forward",
           "replay"),
    Action("replay-oldest", "home", "jump('oldest')", "Oldest", "Replay: the oldest frame", "replay"),
    Action("replay-newest", "end", "jump('newest')", "Newest", "Replay: the newest frame", "replay"),
    Action("replay-back", "escape", "back", "Back", "Back to the previous view", "replay"),
    Action("refresh", "r", "refresh", "Refresh", "Refresh from the brain now", "app", show=False),
    Action("pause", "p", "toggle_pause", "Pause", "Pause or resume the live refresh", "app"),
    Action("faster", "plus", "refresh_faster", "Faster", "Refresh twice as often", "app", show=False),
    Action("slower", "minus", "refresh_slower", "Slower", "Refresh half as often", "app", show=False),
    Action("screenshot", "ctrl+s", "save_svg", "Screenshot",
           "Save an SVG screenshot of the screen to the export folder", "app", show=False),
    Action("demo", "d", "demo", "Demo", "Import the bundled data and train the demo models", "models",
           changes_things=True, audit_as="demo.start"),
    Action("open", "enter", "open_slot", "Open", "Open the selected slot: versions, folds, manifest",
           "models", show=False),
    Action("filter", "slash", "filter", "Filter", "Filter the table's rows by text", "models"),
    Action("sort", "s", "sort_next", "Sort", "Sort by the next column", "models"),
    Action("wide", "w", "toggle_wide", "Wide",
           "Show every column (scroll right, the slot stays pinned) or only those that fit", "models",
           show=False),
    Action("sort-reverse", "S", "sort_reverse", "Reverse", "Reverse the sort order", "models", show=False),
    Action("export-csv", "e", "export('csv')", "Export", "Export the table to CSV", "models"),
    Action("export-json", "E", "export('json')", "JSON", "Export the table to JSON", "models", show=False),
    Action("copy", "y", "copy_slot", "Copy", "Copy the selected slot id to the clipboard (OSC 52)", "models",
           show=False),
    Action("back", "escape", "back", "Back", "Back to the previous view", "detail"),
    Action("jobs-back", "escape", "back", "Back", "Back to the previous view", "jobs"),
    Action("jobs-filter", "slash", "filter", "Filter", "Filter the jobs by text", "jobs"),
    Action("jobs-open", "enter", "open_job", "Details",
           "The selected job's details: params, result, error, timings", "jobs", show=False),
    Action("cancel-job", "c", "cancel_job", "Cancel job", "Cancel the selected job (asks for a reason)",
           "jobs", changes_things=True, audit_as="job.cancel"),
    # The model lifecycle: registry and promotion timeline, rollback log, audit log, queues.
    Action("registry", "G", "show_registry", "Registry",
           "Registry view: a slot's versions and promotion timeline; promote, roll back, prune", "app",
           show=False),
    Action("rollbacks", "L", "show_rollbacks", "Rollbacks", "Rollback log: every rollback and its evidence",
           "app", show=False),
    Action("audit", "A", "show_audit", "Audit", "Audit log: who did what, when, from where, why", "app",
           show=False),
    Action("queues", "Q", "show_queues", "Queues", "Queues view: retrain and prune queues; approve, reject",
           "app", show=False),
    Action("notifications", "N", "show_notifications", "Notifications",
           "Notifications: every toast this console showed, newest first, with its time", "app", show=False),
    Action("registry-promote", "P", "promote", "Promote",
           "Promote the selected version to champion (shows its A/B verdict, asks for a reason)", "registry",
           changes_things=True),
    Action("registry-rollback", "R", "rollback", "Roll back",
           "Roll back to the previous champion (or a version you name), with a reason", "registry",
           changes_things=True),
    Action("registry-prune", "X", "prune", "Prune",
           "Prune the selected version: kept in the history, never promoted again", "registry",
           changes_things=True),
    Action("registry-filter", "slash", "filter", "Filter", "Filter the versions and the timeline by text",
           "registry"),
    Action("registry-open", "enter", "open_row", "Details",
           "The selected version's manifest and metrics, or the timeline row's evidence", "registry",
           show=False),
    Action("registry-back", "escape", "back", "Back", "Back to the previous view", "registry"),
    Action("rollbacks-filter", "slash", "filter", "Filter", "Filter the rollback log by text", "rollbacks"),
    Action("rollbacks-back", "escape", "back", "Back", "Back to the previous view", "rollbacks"),
    Action("audit-filter", "slash", "filter", "Filter", "Filter the audit log by text", "audit"),
    Action("audit-back", "escape", "back", "Back", "Back to the previous view", "audit"),
    Action("queues-approve", "a", "approve_item", "Approve",
           "Approve the selected pending item (a retrain starts, a version is pruned), with a reason",
           "queues", changes_things=True, audit_as="queue.approve"),
    Action("queues-reject", "x", "reject_item", "Reject", "Reject the selected pending item, with a reason",
           "queues", changes_things=True, audit_as="queue.reject"),
    Action("queues-filter", "slash", "filter", "Filter", "Filter the queue items by text", "queues"),
    Action("queues-back", "escape", "back", "Back", "Back to the previous view", "queues"),
    Action("notifications-back", "escape", "back", "Back", "Back to the previous view", "notifications"),
    Action("drift", "F", "show_drift", "Drift",
           "Drift view: a slot's features × time heatmap of PSI / KS, Enter drills in", "app"),
    Action("importance", "I", "show_importance", "Importance",
           "Importance view: top features per slot and their rank across versions", "app"),
    Action("regimes", "M", "show_regimes", "Regimes",
           "Regimes view: each slot's regime now, which version wins in which regime, the timeline", "app",
           show=False),
    Action("compare", "C", "show_compare", "A/B", "A/B view: challenger versus champion, statistically",
           "models"),
    Action("compare-detail", "C", "show_compare", "A/B",
           "A/B view of this slot: challenger versus champion", "detail"),
    Action("drift-method", "m", "cycle_method", "Method", "Cycle the drift statistic (PSI, KS, ...)",
           "drift"),
    Action("drift-open", "enter", "open_feature", "Drill in",
           "Reference versus current distribution of the selected feature", "drift"),
    Action("drift-filter", "slash", "filter", "Filter", "Filter the features by name", "drift"),
    Action("drift-back", "escape", "back", "Back", "Back to the previous view", "drift"),
    Action("importance-open", "enter", "open_feature", "Per version",
           "The selected feature's importance and rank in every version", "importance"),
    Action("importance-filter", "slash", "filter", "Filter", "Filter the features by name", "importance"),
    Action("importance-method", "m", "next_method", "Method",
           "Switch the importance method (native, permutation, shap: those the versions have)", "importance"),
    Action("importance-back", "escape", "back", "Back", "Back to the previous view", "importance"),
    Action("regimes-axis", "a", "next_axis", "Axis", "Regimes: the next regime axis (trend, vol, hmm)",
           "regimes"),
    Action("regimes-source", "l", "toggle_source", "Live/OOS",
           "Regimes: rank on live forecasts or on the walk-forward out-of-sample bars", "regimes"),
    Action("regimes-open", "enter", "open_slot_map", "Open", "Regimes: the selected slot's map and timeline",
           "regimes", show=False),
    Action("regimes-back", "escape", "back", "Back", "Back to the previous view", "regimes"),
    Action("compare-start", "enter", "start_compare", "Compare",
           "Compare the selected challenger with the champion (runs as a job); on a result row: its details",
           "compare",
           changes_things=True, audit_as="compare.start"),
    Action("compare-promote", "P", "promote", "Promote",  # one wording with the registry's
           "Promote the selected version to champion (shows its A/B verdict, asks for a reason)",
           "compare", changes_things=True),
    Action("compare-filter", "slash", "filter", "Filter", "Filter the challengers and the results by text",
           "compare"),
    Action("compare-back", "escape", "back", "Back", "Back to the previous view", "compare"),
    Action("data-filter", "slash", "filter", "Filter", "Filter the data quality rows by text", "data"),
    Action("data-open", "enter", "open_record", "Details",
           "The selected row's whole record: source, example, details", "data", show=False),
    Action("data-back", "escape", "back", "Back", "Back to the previous view", "data"),
    # One wording for both: a refusal names the action by its description.
    Action("retrain", "t", "retrain", "Retrain",
           "Retrain the slot: pick the model kind, device, cadence, features and target", "models",
           changes_things=True),
    Action("retrain-detail", "t", "retrain", "Retrain",
           "Retrain the slot: pick the model kind, device, cadence, features and target", "detail",
           changes_things=True),
)
# The table views whose tables fit their columns to the terminal: `w` shows every column there too.
WIDE_SCOPES = ("jobs", "data", "registry", "compare", "importance", "rollbacks", "audit", "queues",
               "notifications")
ACTIONS += tuple(
    Action(f"{scope}-wide", "w", "toggle_wide", "Wide",
           "Show every column (scroll right, the first column stays pinned) or only those that fit", scope,
           show=False)
    for scope in WIDE_SCOPES)

BY_ID = {action.id: action for action in ACTIONS}


def action_name(action: str) -> str:
    """'export('csv')' -> 'export': what Textual passes to check_action."""
    return action.split("(", 1)[0]


CHANGES_THINGS = {action_name(a.action) for a in ACTIONS if a.changes_things}
# What a refusal is audited as, whether the action came by key, palette or `:`: the name its
# outcome carries when an operator does it ('queue.approve', not 'approve_item').
AUDIT_NAMES = {key: a.audit_name for a in ACTIONS if a.changes_things
               for key in (a.id, action_name(a.action), a.audit_name)}
# The words a refusal says it in: the action's own description, not its id.
DESCRIPTIONS = {key: a.description for a in ACTIONS if a.changes_things
                for key in (a.id, action_name(a.action), a.audit_name)}


def bindings(scope: str) -> list[Binding]:
    return [
        Binding(a.keys, a.action, a.label, show=a.show, id=a.id, tooltip=a.description)
        for a in ACTIONS
        if a.scope == scope
    ]


def unknown_keymap_ids(keymap: dict[str, str]) -> list[str]:
    return sorted(set(keymap) - set(BY_ID))


KEY_NAMES = {"question_mark": "?", "escape": "Esc", "enter": "Enter", "f1": "F1", "colon": ":",
             "slash": "/", "plus": "+", "minus": "-", "ctrl+s": "Ctrl+S", "left": "←", "right": "→",
             "left_square_bracket": "[", "right_square_bracket": "]", "home": "Home", "end": "End"}


def key_label(keys: str) -> str:
    return " / ".join(KEY_NAMES.get(key, key) for key in keys.split(","))

"""The `:` prompt, k9s style: `:slot GOOG`, `:GOOG`, `:models`, `:theme huracan-light`,
`:interval 5`, `:pause`, `:help`, `:q`. Parsing is plain Python so it is tested without a UI."""

from __future__ import annotations

from dataclasses import dataclass

# command -> (the app action it runs, what it takes, help)
PROMPT_WORDS: dict[str, tuple[str, str, str]] = {
    "models": ("models", "", "the Models view"),
    "slot": ("slot", "SLOT|SYMBOL", "open a slot (a symbol opens its first slot)"),
    "data": ("show_data", "", "the Data view: data quality reports"),
    "jobs": ("show_jobs", "", "the Jobs view: progress, device, ETA, cancel"),
    "help": ("help", "", "every key and command"),
    "quit": ("quit", "", "quit the console"),
    "refresh": ("refresh", "", "refresh from the brain now"),
    "pause": ("toggle_pause", "", "pause or resume the live refresh"),
    "interval": ("interval", "SECONDS", "refresh every SECONDS"),
    "theme": ("theme", "[NAME]", "switch theme (alone: list the themes)"),
    "demo": ("demo", "", "import the bundled data and train the demo models"),
    "registry": ("show_registry", "[SLOT]", "the Registry view of a slot: versions, promotion timeline"),
    "rollbacks": ("show_rollbacks", "", "the Rollback log"),
    "audit": ("show_audit", "", "the Audit log"),
    "queues": ("show_queues", "", "the retrain and prune queues"),
    "notifications": ("show_notifications", "", "every toast this console showed, newest first"),
    "replay": ("show_replay", "[HOURS]", "the Replay view: what the console showed in the last HOURS (24)"),
    "drift": ("show_drift", "[SLOT]", "the Drift view of a slot (default: the one in view)"),
    "importance": ("show_importance", "[SLOT]", "the Importance view of a slot"),
    "compare": ("show_compare", "[SLOT]", "the A/B view of a slot: challenger versus champion"),
    "regimes": ("show_regimes", "[SLOT]", "the Regimes view of a slot: which version wins in which regime"),
    "retrain": ("retrain", "[SLOT]", "retrain a slot (default: the one in view): pick kind, device, cadence"),
}
MAX_REPLAY_HOURS = 720  # 30 days: far past what the leader keeps by default (48h)
ALIASES = {"q": "quit", "m": "models", "h": "help", "s": "slot"}


class PromptError(ValueError):
    """What was wrong with the typed command, as one line for a toast."""


@dataclass(frozen=True)
class PromptEntry:
    action: str  # a key of PROMPT_WORDS' actions
    argument: str = ""


def parse_prompt(text: str, slot_keys: list[str]) -> PromptEntry:
    words = text.strip().removeprefix(":").split()
    if not words:
        raise PromptError("empty command (try :help)")
    name, argument = words[0].lower(), " ".join(words[1:])
    name = ALIASES.get(name, name)
    if name not in PROMPT_WORDS:
        # A bare slot id or symbol jumps to it, as `:GOOG` does.
        slot = resolve_slot(words[0], slot_keys)
        if slot is None:
            raise PromptError(f"unknown command or slot ':{words[0]}' (try :help)")
        return PromptEntry("slot", slot)
    action, takes, _ = PROMPT_WORDS[name]
    if takes and not takes.startswith("[") and not argument:  # "[SLOT]": optional
        raise PromptError(f":{name} needs {takes}")
    if argument and "SLOT" in takes:
        slot = resolve_slot(argument, slot_keys)
        if slot is None:
            raise PromptError(f"no slot matches {argument!r}")
        argument = slot
    if name == "interval":
        try:
            seconds = float(argument)
        except ValueError:
            raise PromptError(f":interval needs a number of seconds, not {argument!r}") from None
        if not 0.1 <= seconds <= 3600:
            raise PromptError(":interval must be between 0.1 and 3600 seconds")
    if name == "replay" and argument:
        try:
            hours = float(argument)
        except ValueError:
            raise PromptError(f":replay needs a number of hours, not {argument!r}") from None
        if not 0 < hours <= MAX_REPLAY_HOURS:
            raise PromptError(f":replay takes between 0 and {MAX_REPLAY_HOURS} hours")
    return PromptEntry(action, argument)


def resolve_slot(text: str, slot_keys: list[str]) -> str | None:
    """An exact slot id, else the first slot (by id) whose symbol or id starts with `text`."""
    wanted = text.strip().upper()
    for key in slot_keys:
        if key.upper() == wanted:
            return key
    for key in sorted(slot_keys):
        if key.upper().split(":")[0] == wanted or key.upper().startswith(wanted):
            return key
    return None

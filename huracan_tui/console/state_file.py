"""What the console remembers for its user between runs: theme, the Models view's sort, the
refresh interval and whether the first-run hint was read. A small JSON file under the XDG state
directory (platformdirs), written atomically (a temporary file renamed over it) so a crash never
leaves half a file; one that cannot be read is ignored (the caller warns), never a traceback.
`user_dir` is the one place the console's XDG folders are resolved (state here, data for exports)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir, user_state_dir

APP_NAME = "huracan"
STATE_FILE_NAME = "console.json"


@dataclass(frozen=True)
class RememberedState:
    """None: nothing remembered, the config's value (or the default) applies."""

    theme: str | None = None
    sort_column: str | None = None
    sort_reverse: bool = False
    refresh_seconds: float | None = None
    hint_seen: bool = False  # the Models view's first-run hint was read (help opened once)


class StateFileError(ValueError):
    """Why the state file was ignored, as one line for a toast."""


def user_dir(kind: Literal["state", "data"]) -> Path:
    """The console's folder under an XDG base (platformdirs): `state` $XDG_STATE_HOME/huracan
    (~/.local/state/huracan), `data` $XDG_DATA_HOME/huracan (~/.local/share/huracan). Read at call
    time: a variable set after import (tests) is honoured."""
    return Path(user_state_dir(APP_NAME) if kind == "state" else user_data_dir(APP_NAME))


def default_state_path() -> Path:
    return user_dir("state") / STATE_FILE_NAME


def read_state(path: Path) -> RememberedState:
    """The remembered state; an empty one where there is no file. Raises StateFileError for a
    file that is not what this module writes."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RememberedState()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateFileError(f"{path}: not read ({error})") from None
    if not isinstance(raw, dict):
        raise StateFileError(f"{path}: not read (expected a JSON object)")
    known = {field.name for field in fields(RememberedState)}
    values = {key: value for key, value in raw.items() if key in known}  # newer keys: ignored
    state = RememberedState(**values)
    seconds = state.refresh_seconds
    if not (_optional(state.theme, str) and _optional(state.sort_column, str)
            and isinstance(state.sort_reverse, bool) and isinstance(state.hint_seen, bool)
            and _optional(seconds, int | float) and not isinstance(seconds, bool)):
        raise StateFileError(f"{path}: not read (a value of the wrong type)")
    return state


def _optional(value, kind) -> bool:
    return value is None or isinstance(value, kind)


def write_state(path: Path, state: RememberedState) -> None:
    """Replace the file in one step: a reader sees the old state or the new, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(asdict(state), out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

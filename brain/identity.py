"""Who is acting: the OS user and, over SSH, where they came from (for the audit log)."""

from __future__ import annotations

import getpass
import os


def current_actor() -> tuple[str, str | None]:
    """(OS user, SSH client address or None when the session is local)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        # No passwd entry (some containers) and no LOGNAME/USER: still record something.
        user = f"uid:{os.getuid()}"
    for variable in ("SSH_CONNECTION", "SSH_CLIENT"):
        fields = os.environ.get(variable, "").split()
        if fields:
            return user, fields[0]
    return user, None

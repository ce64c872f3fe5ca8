"""Who is acting: the OS user and, over SSH, where they came from (for the audit log).

A person may also act under their own name through a shared OS account: `huracan-tui --as
alice`, the forced command of alice's key in the service account's `authorized_keys`
(docs/ssh.md). The name is what the audit log shows; the account bounds what the name may do
(scheduler.services.roles.effective_role: the lowest of both).
"""

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


"""A user's effective role, the one every front door (console, CLI, request executor) acts on.

The brain says who may act (brain.roles: its owner grants viewer or operator). A config's
`roles:` and `--read-only` can only lower that, never raise it; a brain this process can only
read makes everyone a viewer. Owning a brain is about granting roles: for acting, an owner is
an operator, so what comes back is "viewer" or "operator", the roles operator requests carry.
"""

from __future__ import annotations

from brain import Brain, BrainError
from brain.roles import lowest_role
from scheduler.config import HuracanConfig

ACTING_ROLES = ("viewer", "operator")


class RoleRefused(BrainError):
    """A viewer asked to change something: one line, reported like the brain's other refusals
    (the CLI exits 1, the console notifies, the executor records the request as refused)."""


def effective_role(brain: Brain, config: HuracanConfig, user: str, *, read_only: bool = False) -> str:
    """The lowest of the brain's role for `user`, the config's (where it names one) and viewer
    when read-only (asked for, or the brain cannot be written)."""
    if read_only or brain.read_only:
        return "viewer"
    granted = lowest_role(brain.role_of(user), "operator")  # an owner acts as an operator
    return lowest_role(granted, config.roles.role_of(user))


def require_operator(brain: Brain, config: HuracanConfig, user: str, what: str, *,
                     origin: str | None = None, read_only: bool = False) -> None:
    """Before any work that writes: raise RoleRefused (audited, where the brain takes writes)
    unless `user` may act."""
    if effective_role(brain, config, user, read_only=read_only) == "operator":
        return
    reason = f"{user} is a viewer: {what} not allowed"
    try:
        brain.audit(what, actor=user, origin=origin, outcome=f"refused: {reason}")
    except BrainError:
        pass  # a brain this user cannot write (read-only file, a viewer's login) keeps no record
    raise RoleRefused(reason)


def require_writable(brain: Brain, what: str) -> None:
    """Before expensive work that ends in a write (fitting models): fail now, not after it."""
    if not brain.can_write():
        raise BrainError(f"the brain at {brain.url} cannot be written by this user: {what} not allowed")

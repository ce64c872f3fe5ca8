"""A user's effective role, the one every front door (console, CLI, request executor) acts on.

The brain says who may act (brain.roles: its owner grants viewer or operator). A config's
`roles:` and `--read-only` can only lower that, never raise it; a brain this process can only
read makes everyone a viewer. Owning a brain is about granting roles: for acting, an owner is
an operator, so what comes back is "viewer" or "operator", the roles operator requests carry.

A person acting under a name through a shared OS account (`huracan-tui --as alice` over SSH,
docs/ssh.md) gets the lowest of the account's role and the name's: `--as` only ever lowers what
the account may do. The name's role is the config's (`roles.users` must name it, else viewer),
lowered by the brain's grant where the brain lists the name; a name the brain does not list is
bounded by the account and the config alone (the brain's "unlisted is a viewer" is about OS users).
"""

from __future__ import annotations

from brain import Brain, BrainError
from brain.roles import lowest_role
from scheduler.config import HuracanConfig

ACTING_ROLES = ("viewer", "operator")


class RoleRefused(BrainError):
    """A viewer asked to change something: one line, reported like the brain's other refusals
    (the CLI exits 1, the console notifies, the executor records the request as refused)."""


def effective_role(brain: Brain, config: HuracanConfig, user: str, *, read_only: bool = False,
                   account: str | None = None) -> str:
    """The lowest of the brain's role for `user`, the config's (where it names one) and viewer
    when read-only (asked for, or the brain cannot be written). With `account` (the OS account
    `user` acts through, `--as user`), the lowest of that account's role and the acting name's."""
    if read_only or brain.read_only:
        return "viewer"
    if account is not None:
        return lowest_role(effective_role(brain, config, account), _acting_name_role(brain, config, user))
    granted = lowest_role(brain.role_of(user), "operator")  # an owner acts as an operator
    return lowest_role(granted, config.roles.role_of(user))


def acting_name_refusal(config: HuracanConfig, name: str) -> str | None:
    """Why `name` may not be acted as (`--as name`), or None: the config's roles.users must name
    it, so a key's forced command cannot invent a user the team never listed."""
    if name in config.roles.users:
        return None
    return f"--as {name}: the config's roles.users does not name this user"


def _acting_name_role(brain: Brain, config: HuracanConfig, name: str) -> str:
    named = config.roles.users.get(name)
    if named is None:  # not the config's default: an unlisted name acts as nobody
        return "viewer"
    granted = next((record.role for record in brain.list_roles() if record.user == name), None)
    if granted is None:
        return named
    return lowest_role(granted, "operator", named)


def require_operator(brain: Brain, config: HuracanConfig, user: str, what: str, *,
                     origin: str | None = None, read_only: bool = False, account: str | None = None) -> None:
    """Before any work that writes: raise RoleRefused (audited, where the brain takes writes)
    unless `user` (through `account`, where given) may act."""
    if effective_role(brain, config, user, read_only=read_only, account=account) == "operator":
        return
    reason = f"{user} is a viewer: {what} not allowed"
    try:
        brain.audit(what, actor=user, origin=origin, outcome=f"refused: {reason}",
                    details=None if account is None else {"account": account})
    except BrainError:
        pass  # a brain this user cannot write (read-only file, a viewer's login) keeps no record
    raise RoleRefused(reason)


def require_writable(brain: Brain, what: str) -> None:
    """Before expensive work that ends in a write (fitting models): fail now, not after it."""
    if not brain.can_write():
        raise BrainError(f"the brain at {brain.url} cannot be written by this user: {what} not allowed")

"""`huracan roles list | grant USER ROLE | revoke USER | setup`: who may act on this brain.

Roles live in the brain. Its owner (the OS user who created it) is the only one who may grant
and revoke; anyone not listed is a viewer. ROLE is viewer or operator. A config's `roles:` and
`--read-only` can only lower a role, never raise it.

On PostgreSQL the database enforces them too: `huracan roles setup` creates this brain's group
roles (huracan_viewer: SELECT on its tables; huracan_operator: SELECT, and INSERT on
operator_requests; huracan_owner: everything but rewriting the audit log; on a schema other
than public they are named huracan_SCHEMA_ROLE) and grants their privileges; run it again
after an upgrade. `grant USER ROLE --login LOGIN` also makes the PostgreSQL login LOGIN a member
of the group role for ROLE; `revoke USER --login LOGIN` takes that membership away. Every grant
and revoke is in the audit log.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from huracan_tui.cli.output import CommandError, emit
from huracan_tui.settings import add_global_options, resolve_brain_url

GRANTABLE = ("viewer", "operator")


def register(command) -> None:
    roles = command("roles", run_list, "who may act on this brain: list, grant, revoke, setup")
    actions = roles.add_subparsers(dest="roles_command", metavar="ACTION")
    roles.description = __doc__

    def action(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text)
        add_global_options(sub, suppress_defaults=True)
        sub.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                         help="print one JSON document on stdout")
        sub.set_defaults(handler=handler)
        return sub

    action("list", run_list, "the brain's owner and everyone granted a role (others are viewers)")
    grant = action("grant", run_grant, "give USER the role ROLE (viewer or operator); owner only")
    grant.add_argument("user", metavar="USER", help="OS user name, as `huracan audit` shows it")
    grant.add_argument("role", metavar="ROLE", help="viewer or operator")
    grant.add_argument("--login", metavar="LOGIN",
                       help="PostgreSQL: also make this login a member of the brain's group role for ROLE")
    revoke = action("revoke", run_revoke, "take USER's role away (a viewer again); owner only")
    revoke.add_argument("user", metavar="USER")
    revoke.add_argument("--login", metavar="LOGIN",
                        help="PostgreSQL: also take this login out of the brain's group roles")
    action("setup", run_setup, "PostgreSQL: create the brain's group roles and their privileges; owner only")


def _open(args, config):
    from brain import open_brain

    return open_brain(resolve_brain_url(args.brain, config))


def _actor() -> tuple[str, str | None]:
    from brain.identity import current_actor

    return current_actor()


def run_list(args, config) -> None:
    with _open(args, config) as brain:
        document = {"owner": brain.brain_owner(), "default": "viewer",
                    "roles": [asdict(record) for record in brain.list_roles()]}

    def render(doc) -> str:
        lines = [f"{'user':<20} {'role':<9} {'granted by':<20} granted at"]
        for record in doc["roles"]:
            lines.append(f"{record['user']:<20} {record['role']:<9} {record['granted_by']:<20} "
                         f"{record['granted_at']:%Y-%m-%d %H:%M:%S}")
        lines.append("anyone else is a viewer")
        return "\n".join(lines)

    emit(document, args.json, render)


def _check_login(args, brain) -> None:
    if args.login is not None and brain.backend != "postgresql":
        raise CommandError("--login is for a PostgreSQL brain: on SQLite the file's permissions decide")


def run_grant(args, config) -> None:
    if args.role not in GRANTABLE:
        raise CommandError(f"unknown role {args.role!r}: grant viewer or operator (the owner is who "
                           f"made the brain)")
    if not args.user.strip():
        raise CommandError("roles grant needs a USER")
    actor, origin = _actor()
    with _open(args, config) as brain:
        _check_login(args, brain)
        # The login first: a missing login or missing group roles then leave the brain's roles as they were.
        database_role = None if args.login is None else brain.grant_login(args.login, args.role, by=actor)
        record = brain.grant(args.user, args.role, by=actor, origin=origin)
    document = {**asdict(record), "login": args.login, "database_role": database_role}

    def render(doc) -> str:
        also = f"; login {doc['login']} is in {doc['database_role']}" if doc["login"] else ""
        return f"{doc['user']} is now {doc['role']}{also}"

    emit(document, args.json, render)


def run_revoke(args, config) -> None:
    actor, origin = _actor()
    with _open(args, config) as brain:
        _check_login(args, brain)
        removed = brain.revoke(args.user, by=actor, origin=origin)
        if args.login is not None:
            brain.revoke_login(args.login, by=actor)
    document = {"user": args.user, "revoked": removed, "login": args.login, "role": "viewer"}

    def render(doc) -> str:
        return f"{doc['user']} is a viewer" + ("" if doc["revoked"] else " (had no role)")

    emit(document, args.json, render)


def run_setup(args, config) -> None:
    actor, _origin = _actor()
    with _open(args, config) as brain:
        if brain.backend != "postgresql":
            raise CommandError("roles setup is for a PostgreSQL brain: on SQLite the file's permissions "
                               "decide (a file the user can only read opens read-only)")
        names = brain.setup_database_roles(by=actor)
    document = {"database_roles": names}

    def render(doc) -> str:
        return "\n".join(f"{role:<9} -> {name}" for role, name in doc["database_roles"].items())

    emit(document, args.json, render)


def require_operator_here(brain, config, what: str) -> None:
    """The check every writing command makes before any work: this OS user may act on `brain`
    (a viewer is refused in one line, exit 1, and the refusal audited where the brain takes it)."""
    from scheduler.services.roles import require_operator

    actor, origin = _actor()
    require_operator(brain, config, actor, what, origin=origin)

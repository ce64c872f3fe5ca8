"""Who may act on this brain: each user's role (viewer, operator, owner), kept in `user_roles`.

The owner (the OS user who created the brain, or first migrated it to version 9) is the only one
who may grant or revoke; users not listed are viewers. Every grant and revoke lands in the audit
log in the same transaction. A config or `--read-only` may only lower a role
(scheduler.services.roles); nothing a client says raises one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Connection

from brain.audit import insert_audit
from brain.errors import BrainError
from brain.part import BrainPart
from brain.records import RoleRecord
from brain.schema import user_roles

ROLES = ("viewer", "operator", "owner")  # lowest first
GRANTABLE = ("viewer", "operator")  # a brain has one owner: the one who made it


def role_rank(role: str) -> int:
    return ROLES.index(role)


def lowest_role(*roles: str) -> str:
    return min(roles, key=role_rank)


def _record(row) -> RoleRecord:
    return RoleRecord(**row._mapping)


def _owner(conn: Connection) -> str | None:
    return conn.execute(select(user_roles.c.user).where(user_roles.c.role == "owner")).scalar()


# ---- PostgreSQL: the database enforces the roles -------------------------------------------------
# One group role per brain role and schema, so two brains on one server keep separate roles;
# a login (a person's or a service's) is made a member of one of them.

def database_role_names(schema: str) -> dict[str, str]:
    prefix = "huracan" if schema == "public" else f"huracan_{schema}"
    return {role: f"{prefix}_{role}" for role in ROLES}


def _grants(schema: str, names: dict[str, str], quote) -> list[str]:
    s, viewer, operator, owner = quote(schema), *(quote(names[role]) for role in ROLES)
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {viewer}, {operator}, {owner}",
        f"GRANT CREATE ON SCHEMA {s} TO {owner}",  # the owner's login migrates the brain
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {viewer}, {operator}",
        f"GRANT INSERT ON {s}.operator_requests TO {operator}",
        f"GRANT USAGE ON SEQUENCE {s}.operator_requests_id_seq TO {operator}",
        f"GRANT ALL ON ALL TABLES IN SCHEMA {s} TO {owner}",
        f"GRANT ALL ON ALL SEQUENCES IN SCHEMA {s} TO {owner}",
        # Append-only for everyone: no role may rewrite history (the trigger refuses it anyway).
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.audit_log FROM {viewer}, {operator}, {owner}",
    ]


class RolesMixin(BrainPart):
    read_only: bool  # set by Brain: the brain was opened read-only (a file this user can only read)

    def brain_owner(self) -> str | None:
        with self._read() as conn:
            return _owner(conn)

    def role_of(self, user: str) -> str:
        """The user's role on this brain; "viewer" for anyone not listed."""
        with self._read() as conn:
            role = conn.execute(select(user_roles.c.role).where(user_roles.c.user == user)).scalar()
        return role or "viewer"

    def list_roles(self) -> list[RoleRecord]:
        """The owner first, then everyone granted a role, by name."""
        with self._read() as conn:
            rows = conn.execute(select(user_roles).order_by(user_roles.c.user)).all()
        records = [_record(row) for row in rows]
        return sorted(records, key=lambda record: record.role != "owner")

    def grant(self, user: str, role: str, *, by: str, origin: str | None = None) -> RoleRecord:
        """Give `user` the role `role` (viewer or operator); only the owner may."""
        user = user.strip()
        if not user:
            raise BrainError("a grant needs a user name")
        if role not in GRANTABLE:
            raise BrainError(f"cannot grant {role!r}: the role is one of {', '.join(GRANTABLE)}")
        owner = self._require_owner(by, "grant", user)
        now = datetime.now(UTC)
        with self._write() as conn:
            if user == owner:
                raise BrainError(f"{user} owns this brain: the owner's role cannot change")
            values = dict(role=role, granted_by=by, granted_at=now)
            changed = conn.execute(update(user_roles).where(user_roles.c.user == user).values(**values))
            if changed.rowcount == 0:
                conn.execute(insert(user_roles).values(user=user, **values))
            insert_audit(conn, "roles.grant", actor=by, origin=origin, target=user, outcome="ok",
                         details={"role": role})
        return RoleRecord(user=user, role=role, granted_by=by, granted_at=now)

    def revoke(self, user: str, *, by: str, origin: str | None = None) -> bool:
        """Take `user`'s role away (they are a viewer again); False when they had none."""
        owner = self._require_owner(by, "revoke", user)
        with self._write() as conn:
            if user == owner:
                raise BrainError(f"{user} owns this brain: the owner's role cannot change")
            removed = conn.execute(delete(user_roles).where(user_roles.c.user == user)).rowcount > 0
            insert_audit(conn, "roles.revoke", actor=by, origin=origin, target=user,
                         outcome="ok" if removed else "ok: had no role")
        return removed

    def _require_owner(self, actor: str, verb: str, user: str) -> str:
        # The owner never changes once recorded, so reading it before the write is safe.
        owner = self.brain_owner()
        if actor != owner:
            reason = f"{actor} is not the owner of this brain ({owner}): only the owner may {verb} roles"
            with self._write() as conn:
                insert_audit(conn, f"roles.{verb}", actor=actor, target=user, outcome=f"refused: {reason}")
            raise BrainError(reason)
        return owner

    def can_write(self) -> bool:
        """Whether this connection may store models (the SQLite file or the PostgreSQL login's
        privileges allow it): asked before expensive work that ends in a write."""
        if self.read_only:
            return False
        if self.backend != "postgresql":
            return True
        with self._read() as conn:
            return bool(conn.execute(text(
                "SELECT has_table_privilege(current_user, 'model_versions', 'INSERT')")).scalar())

    # ---- PostgreSQL: database roles (the database enforces what the brain says)

    def _require_postgresql(self) -> None:
        if self.backend != "postgresql":
            raise BrainError("database roles are PostgreSQL's: on SQLite the brain file's permissions "
                             "decide (a file the user can only read opens read-only)")

    def setup_database_roles(self, *, by: str) -> dict[str, str]:
        """Create (or bring up to date) this brain's group roles and their privileges; returns
        brain role -> database role. Run again after an upgrade adds tables."""
        self._require_postgresql()
        self._require_owner(by, "setup", "database roles")
        with self._write() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            names = database_role_names(schema)
            quote = conn.dialect.identifier_preparer.quote
            existing = set(conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)"),
                                        {"names": list(names.values())}).scalars())
            for name in names.values():
                if name not in existing:
                    conn.execute(text(f"CREATE ROLE {quote(name)} NOLOGIN"))
            for statement in _grants(schema, names, quote):
                conn.execute(text(statement))
            insert_audit(conn, "roles.setup", actor=by, target=schema, outcome="ok", details=names)
        return names

    def grant_login(self, login: str, role: str, *, by: str) -> str:
        """Make the PostgreSQL login `login` a member of this brain's group role for `role` (and of
        no other of its roles); returns the group role's name."""
        self._require_postgresql()
        if role not in ROLES:
            raise BrainError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        self._require_owner(by, "grant", login)
        with self._write() as conn:
            names = self._database_roles(conn)
            quote = conn.dialect.identifier_preparer.quote
            known = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :login"), {"login": login})
            if known.first() is None:
                raise BrainError(f"no PostgreSQL login {login!r} (CREATE ROLE {login} LOGIN first)")
            for other, name in names.items():
                if other != role:
                    conn.execute(text(f"REVOKE {quote(name)} FROM {quote(login)}"))
            conn.execute(text(f"GRANT {quote(names[role])} TO {quote(login)}"))
            insert_audit(conn, "roles.grant_login", actor=by, target=login, outcome="ok",
                         details={"role": role, "database_role": names[role]})
        return names[role]

    def revoke_login(self, login: str, *, by: str) -> None:
        self._require_postgresql()
        self._require_owner(by, "revoke", login)
        with self._write() as conn:
            quote = conn.dialect.identifier_preparer.quote
            for name in self._database_roles(conn).values():
                conn.execute(text(f"REVOKE {quote(name)} FROM {quote(login)}"))
            insert_audit(conn, "roles.revoke_login", actor=by, target=login, outcome="ok")

    def _database_roles(self, conn: Connection) -> dict[str, str]:
        names = database_role_names(conn.execute(text("SELECT current_schema()")).scalar_one())
        found = conn.execute(text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:names)"),
                             {"names": list(names.values())}).scalar()
        if found != len(names):
            raise BrainError("this brain has no database roles yet: run `huracan roles setup` first")
        return names

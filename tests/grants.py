"""Test set-up for roles: the brain's owner (the test process's OS user, who created the brain)
makes users operators. Written straight into `user_roles`, without the audit row a real grant
adds, so tests (and snapshots) that read the audit log see only what they did themselves."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert

from brain.schema import user_roles


def grant_quietly(brain, *users: str, role: str = "operator") -> None:
    owner = brain.brain_owner()
    with brain._write() as connection:  # test set-up: roles as the owner would have granted them
        connection.execute(delete(user_roles).where(user_roles.c.user.in_(users)))
        connection.execute(insert(user_roles), [
            dict(user=user, role=role, granted_by=owner, granted_at=datetime(2026, 1, 5, tzinfo=UTC))
            for user in users])

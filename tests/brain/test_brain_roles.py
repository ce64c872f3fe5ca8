"""Roles live in the brain: its owner (who created it) grants and revokes, each change audited;
users not listed are viewers. The audit log is append-only in the database itself, and a brain
file the user can only read opens read-only (viewing works, nothing is written or migrated)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from brain import BrainError, open_brain
from brain.identity import current_actor
from scheduler.config import HuracanConfig, RolesConfig
from scheduler.services.roles import RoleRefused, effective_role, require_operator

OWNER = current_actor()[0]  # the test process made every brain here, so it owns them


def test_the_creator_owns_the_brain_and_everyone_else_is_a_viewer(brain):
    assert brain.brain_owner() == OWNER
    assert brain.role_of(OWNER) == "owner"
    assert brain.role_of("mallory") == "viewer"
    (owner,) = brain.list_roles()
    assert (owner.user, owner.role, owner.granted_by) == (OWNER, "owner", OWNER)


def test_the_owner_grants_and_revokes_and_each_change_is_audited(brain):
    record = brain.grant("alice", "operator", by=OWNER, origin="10.0.0.7")
    assert (record.user, record.role, record.granted_by) == ("alice", "operator", OWNER)
    assert brain.role_of("alice") == "operator"
    brain.grant("alice", "viewer", by=OWNER)
    assert brain.role_of("alice") == "viewer"
    assert [r.user for r in brain.list_roles()] == [OWNER, "alice"]
    assert brain.revoke("alice", by=OWNER) is True
    assert brain.revoke("alice", by=OWNER) is False
    assert brain.role_of("alice") == "viewer" and [r.user for r in brain.list_roles()] == [OWNER]
    audit = [(e.action, e.actor, e.target, e.outcome) for e in reversed(brain.list_audit())]
    assert audit == [("roles.grant", OWNER, "alice", "ok"), ("roles.grant", OWNER, "alice", "ok"),
                     ("roles.revoke", OWNER, "alice", "ok"),
                     ("roles.revoke", OWNER, "alice", "ok: had no role")]
    first = brain.list_audit()[-1]
    assert first.origin == "10.0.0.7" and first.details == {"role": "operator"}


def test_only_the_owner_may_grant_and_the_refusal_is_audited(brain):
    brain.grant("alice", "operator", by=OWNER)
    with pytest.raises(BrainError, match=f"alice is not the owner of this brain \\({OWNER}\\)"):
        brain.grant("bob", "operator", by="alice")
    with pytest.raises(BrainError, match="only the owner may revoke"):
        brain.revoke("alice", by="alice")
    assert brain.role_of("bob") == "viewer" and brain.role_of("alice") == "operator"
    refusals = [(e.action, e.actor, e.outcome.split(":")[0]) for e in brain.list_audit(limit=2)]
    assert refusals == [("roles.revoke", "alice", "refused"), ("roles.grant", "alice", "refused")]
    with pytest.raises(BrainError, match="cannot grant 'owner'"):
        brain.grant("alice", "owner", by=OWNER)
    with pytest.raises(BrainError, match="the owner's role cannot change"):
        brain.revoke(OWNER, by=OWNER)


def test_a_config_and_read_only_can_only_lower_the_brains_role(brain):
    brain.grant("alice", "operator", by=OWNER)
    everyone_operator = HuracanConfig()
    alice_viewer = HuracanConfig(roles=RolesConfig(users={"alice": "viewer"}))
    mallory_operator = HuracanConfig(roles=RolesConfig(default="operator", users={"mallory": "operator"}))
    assert effective_role(brain, everyone_operator, "alice") == "operator"
    assert effective_role(brain, everyone_operator, OWNER) == "operator"  # an owner acts as an operator
    assert effective_role(brain, alice_viewer, "alice") == "viewer"
    assert effective_role(brain, everyone_operator, "alice", read_only=True) == "viewer"
    # Today's code made anyone the config named (or anyone at all, without a config) an operator.
    assert effective_role(brain, mallory_operator, "mallory") == "viewer"
    assert effective_role(brain, everyone_operator, "mallory") == "viewer"


def test_require_operator_refuses_a_viewer_in_one_line_and_audits_it(brain):
    require_operator(brain, HuracanConfig(), OWNER, "train")
    with pytest.raises(RoleRefused) as refused:
        require_operator(brain, HuracanConfig(), "mallory", "train", origin="10.0.0.9")
    assert str(refused.value) == "mallory is a viewer: train not allowed"
    entry = brain.list_audit(limit=1)[0]
    assert (entry.action, entry.actor, entry.origin, entry.outcome) == (
        "train", "mallory", "10.0.0.9", "refused: mallory is a viewer: train not allowed")


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET outcome = 'forged'", "DELETE FROM audit_log"])
def test_the_audit_log_is_append_only_in_the_database(brain, raw_engine, statement):
    brain.audit("promote", actor="alice", outcome="ok")
    with pytest.raises(BrainError, match="audit_log is append-only"), brain._write() as conn:
        conn.execute(text(statement))
    with pytest.raises(Exception, match="audit_log is append-only"), raw_engine.begin() as conn:
        conn.execute(text(statement))  # a plain connection, past every check of ours
    (entry,) = brain.list_audit()
    assert entry.outcome == "ok"
    brain.audit("rollback", actor="alice", outcome="ok")  # appending still works
    assert len(brain.list_audit()) == 2


def test_no_product_code_rewrites_audit_rows():
    found = subprocess.run(["grep", "-rnE", r"(update|delete)\(audit_log|(UPDATE|DELETE FROM) audit_log",
                            "brain", "scheduler", "huracan_tui"], capture_output=True, text=True)
    assert found.stdout == ""


# ---- SQLite: a file the user can only read ---------------------------------------------------------


@pytest.fixture
def read_only_copy(tmp_path, seeded_brain_url):
    """The seeded brain as a file nobody may write: root ignores mode bits, not the immutable
    attribute (os.access says no to root too)."""
    path = tmp_path / "readonly" / "brain.db"
    path.parent.mkdir()
    shutil.copy(seeded_brain_url.removeprefix("sqlite:///"), path)
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a read-only file here: {made.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_file_the_user_can_only_read_opens_read_only(read_only_copy):
    with open_brain(f"sqlite:///{read_only_copy}") as brain:
        assert brain.read_only and not brain.can_write()
        assert {s.key for s in brain.list_slots()} == {"GOOG:1d:fwd_ret_1", "EURUSD:1h:fwd_ret_1"}
        assert effective_role(brain, HuracanConfig(), OWNER) == "viewer"
        with pytest.raises(BrainError, match="readonly database"):
            brain.audit("promote", actor=OWNER, outcome="ok")


def test_a_read_only_url_opens_read_only(seeded_brain_url):
    path = seeded_brain_url.removeprefix("sqlite:///")
    with open_brain(f"sqlite:///file:{path}?mode=ro&uri=true") as brain:
        assert brain.read_only and len(brain.list_slots()) == 2
        with pytest.raises(BrainError, match="readonly database"):
            brain.grant("alice", "operator", by=OWNER)


def test_a_read_only_brain_is_never_migrated(tmp_path):
    path = tmp_path / "old.db"
    with open_brain(f"sqlite:///{path}", migrate=False) as brain:
        brain.migrate(target=8)
    with pytest.raises(BrainError, match="read-only and at schema version 8"):
        open_brain(f"sqlite:///file:{path}?mode=ro&uri=true")
    with open_brain(f"sqlite:///{path}", migrate=False) as brain:
        assert brain.schema_version() == 8


def test_roles_rows_carry_aware_times(brain):
    before = datetime.now(UTC)
    assert brain.grant("alice", "viewer", by=OWNER).granted_at >= before
    (_, alice) = brain.list_roles()
    assert alice.granted_at.tzinfo is not None


# ---- PostgreSQL: the database enforces the roles -----------------------------------------------


@pytest.fixture
def postgres_logins(postgres_schema_url):
    """Two fresh logins (a viewer's and an operator's), dropped afterwards with the brain's group
    roles, and a way to connect as one of them straight to the brain's schema."""
    import uuid

    from sqlalchemy import create_engine

    from brain.roles import database_role_names
    from tests.brain.conftest import _admin_connection

    tag = uuid.uuid4().hex[:8]
    logins = {"viewer": f"huracan_test_viewer_{tag}", "operator": f"huracan_test_operator_{tag}"}
    with _admin_connection() as admin:
        for login in logins.values():
            admin.execute(f'CREATE ROLE "{login}" LOGIN')
    engines = []

    def connect_as(login: str):
        url = postgres_schema_url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{login}@")
        engines.append(engine := create_engine(url))
        return engine

    schema = postgres_schema_url.rsplit("%3D", 1)[1]
    try:
        yield logins, connect_as
    finally:
        for engine in engines:
            engine.dispose()
        with _admin_connection() as admin:
            for name in [*logins.values(), *database_role_names(schema).values()]:
                if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                    admin.execute(f'DROP OWNED BY "{name}"')
                    admin.execute(f'DROP ROLE "{name}"')


@pytest.mark.postgres
def test_postgresql_roles_hold_against_a_client_that_skips_every_check(postgres_schema_url, postgres_logins,
                                                                       monkeypatch, capsys):
    logins, connect_as = postgres_logins
    with open_brain(postgres_schema_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        brain.add_version("GOOG:1d:fwd_ret_1", model_kind="linear", manifest={}, artifact=b"m",
                          artifact_format="skops", metrics=[], data_start=None, data_end=None)
        brain.audit("promote", actor="alice", outcome="ok")
        names = brain.setup_database_roles(by=OWNER)
        with pytest.raises(BrainError, match="not the owner"):
            brain.setup_database_roles(by="mallory")
        assert brain.grant_login(logins["viewer"], "viewer", by=OWNER) == names["viewer"]
        brain.grant("alice", "operator", by=OWNER)
        assert brain.grant_login(logins["operator"], "operator", by=OWNER) == names["operator"]

    viewer, operator = connect_as(logins["viewer"]), connect_as(logins["operator"])
    request = ("INSERT INTO operator_requests (ts, actor, role, action, args, state) "
               "VALUES (now(), 'alice', 'operator', 'promote', '{}', 'pending')")
    writes = [request, "UPDATE model_versions SET notes = 'x'", "DELETE FROM model_versions",
              "INSERT INTO audit_log (ts, actor, action, outcome) VALUES (now(), 'm', 'forged', 'ok')",
              "UPDATE audit_log SET outcome = 'forged'", "DELETE FROM audit_log",
              "UPDATE operator_requests SET state = 'done'", "DELETE FROM operator_requests"]
    for statement in writes:
        with pytest.raises(Exception, match="permission denied"), viewer.begin() as conn:
            conn.execute(text(statement))
    with viewer.connect() as conn:  # reading works
        assert conn.execute(text("SELECT count(*) FROM model_versions")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() >= 1

    with operator.begin() as conn:  # an operator may ask
        conn.execute(text(request))
    for statement in ("UPDATE model_versions SET notes = 'x'", "UPDATE audit_log SET outcome = 'forged'",
                      "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="permission denied"), operator.begin() as conn:
            conn.execute(text(statement))
    with open_brain(postgres_schema_url) as brain:
        assert [r.actor for r in brain.pending_requests()] == ["alice"]
        assert brain.get_version("GOOG:1d:fwd_ret_1", 1).notes is None

    # The owner's OS user logged in as the viewer's login: train refuses before fitting anything.
    from engine.datasets import bundled_path
    from huracan_tui.cli import main as cli
    from scheduler.services import training

    viewer_url = str(viewer.url.render_as_string(hide_password=False))
    with open_brain(viewer_url) as brain:
        assert not brain.can_write() and len(brain.list_slots()) == 1
    monkeypatch.setattr(training, "fit_models", lambda *a, **k: pytest.fail("fitted on an unwritable brain"))
    code = cli.run(["train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG", "--brain", viewer_url])
    assert code == 1
    assert capsys.readouterr().err.strip().endswith("cannot be written by this user: train not allowed")

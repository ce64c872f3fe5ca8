import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import UniqueConstraint, insert, inspect, select, update

from brain import SCHEMA_VERSION, BrainError, open_brain, schema
from brain.migrations import m0006_lifecycle


def test_open_migrates_an_empty_database(brain_url):
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.schema_version() == 0
        assert brain.migrate() == list(range(1, SCHEMA_VERSION + 1))
        assert brain.schema_version() == SCHEMA_VERSION


def test_reopening_is_idempotent(brain_url, raw_engine):
    with open_brain(brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    with open_brain(brain_url) as brain:
        assert brain.migrate() == []
        assert brain.schema_version() == SCHEMA_VERSION
        assert [s.key for s in brain.list_slots()] == ["GOOG:1d:fwd_ret_1"]
    with raw_engine.connect() as conn:
        versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))


def test_opening_an_up_to_date_brain_waits_for_no_writer(brain_url, raw_engine):
    """A console opening the brain while the leader is mid-write must not queue behind it: an
    up-to-date brain is only read at open (the migration runner's lock is not taken)."""
    open_brain(brain_url).close()
    writer = raw_engine.raw_connection()
    try:
        if raw_engine.dialect.name == "sqlite":
            writer.driver_connection.execute("BEGIN IMMEDIATE")  # the write lock, held
        else:
            writer.cursor().execute(
                "SELECT pg_advisory_xact_lock(hashtext('huracan.brain.migrate:' || current_schema()))")
        with ThreadPoolExecutor(max_workers=1) as opener:
            opening = opener.submit(lambda: open_brain(brain_url).close())
            try:
                opening.result(timeout=5)  # a migrate() would wait for the writer (10 s, or forever)
            finally:
                writer.rollback()
    finally:
        writer.close()


def test_a_version_1_brain_upgrades_with_its_data(brain_url, raw_engine):
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.migrate(target=1) == [1]
    now = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    # Write rows the way version-1 code would have: only the columns that existed then.
    with raw_engine.begin() as conn:
        conn.execute(
            insert(schema.slots).values(
                id=1,
                key="GOOG:1d:fwd_ret_1",
                symbol="GOOG",
                timeframe="1d",
                target="fwd_ret_1",
                horizon=1,
                created_at=now,
            )
        )
        conn.execute(
            insert(schema.artifacts).values(
                sha256="ab" * 32, format="skops", size=3, data=b"old", created_at=now
            )
        )
        conn.execute(
            insert(schema.model_versions).values(
                id=1,
                slot_id=1,
                number=1,
                model_kind="ridge",
                status="trained",
                artifact_sha256="ab" * 32,
                manifest={"seed": 7},
                created_at=now,
            )
        )
        conn.execute(
            insert(schema.model_metrics).values(
                version_id=1, name="sharpe", value=0.8, fold=None, ts=now, scope="oos"
            )
        )
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.schema_version() == 1
        assert brain.migrate() == list(range(2, SCHEMA_VERSION + 1))

    with open_brain(brain_url) as brain:
        (version,) = brain.list_versions("GOOG:1d:fwd_ret_1")
        assert version.manifest == {"seed": 7}
        assert version.created_at == now
        assert version.notes is None
        assert [(m.name, m.value) for m in brain.version_metrics(version.id)] == [("sharpe", 0.8)]
        # What migration 2 added is usable.
        job = brain.create_job("train", slot_key="GOOG:1d:fwd_ret_1")
        assert brain.get_job(job.id).state == "queued"
        brain.audit("test.upgrade", actor="tester", outcome="ok")
        assert brain.list_audit()[0].action == "test.upgrade"
    with raw_engine.begin() as conn:
        conn.execute(update(schema.model_versions).values(notes="kept from v1"))
    with open_brain(brain_url) as brain:
        assert brain.get_version("GOOG:1d:fwd_ret_1", 1).notes == "kept from v1"


def test_a_version_7_brain_keeps_its_commands_as_operator_requests(brain_url, raw_engine):
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.migrate(target=7) == list(range(1, 8))
    asked = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    commands = m0006_lifecycle._metadata.tables["commands"]  # the table as version-7 code wrote it
    with raw_engine.begin() as conn:
        conn.execute(insert(commands), [
            dict(ts=asked, actor="alice", origin="10.0.0.7", role="operator", action="promote",
                 args={"slot": "GOOG:1d:fwd_ret_1", "version": 1}, state="done",
                 outcome="GOOG:1d:fwd_ret_1: v1 is the champion", handled_by="leader host:1"),
            dict(ts=asked, actor="alice", origin="10.0.0.7", role="operator", action="promote",
                 args={"slot": "GOOG:1d:fwd_ret_1", "version": 2}, state="pending",
                 outcome=None, handled_by=None),
        ])
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.migrate() == list(range(8, SCHEMA_VERSION + 1))
    inspector = inspect(raw_engine)
    assert "commands" not in inspector.get_table_names()
    indexes = [index["name"] for index in inspector.get_indexes("operator_requests")]
    assert indexes == ["ix_operator_requests_state_ts"]
    with open_brain(brain_url) as brain:
        first, second = reversed(brain.list_requests())
        assert (first.state, first.outcome, first.handled_by) == (
            "done", "GOOG:1d:fwd_ret_1: v1 is the champion", "leader host:1")
        assert first.args == {"slot": "GOOG:1d:fwd_ret_1", "version": 1} and first.ts == asked
        assert [r.id for r in brain.pending_requests()] == [second.id]
        # New requests number on from the old rows (PostgreSQL's renamed sequence still feeds the id).
        newer = brain.submit_request("rollback", {"slot": "GOOG:1d:fwd_ret_1"}, actor="bob", role="operator")
        assert newer.id == second.id + 1 and brain.get_request(newer.id).state == "pending"


@pytest.mark.parametrize("migrate", [True, False])
def test_a_brain_newer_than_the_code_is_refused(brain_url, raw_engine, migrate):
    open_brain(brain_url).close()
    with raw_engine.begin() as conn:
        conn.execute(
            insert(schema.schema_version).values(
                version=SCHEMA_VERSION + 1, name="from_the_future", applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(BrainError) as caught:
        open_brain(brain_url, migrate=migrate)
    assert str(caught.value) == (
        f"brain schema is version {SCHEMA_VERSION + 1}, this huracan knows up to "
        f"{SCHEMA_VERSION}; upgrade huracan"
    )


def _shape(inspector, table: str) -> dict:
    return {
        "columns": {
            c["name"]: (c["nullable"], c["type"]._type_affinity) for c in inspector.get_columns(table)
        },
        "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
        "foreign_keys": sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in inspector.get_foreign_keys(table)
        ),
        "unique": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)),
        "indexes": sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in inspector.get_indexes(table)
            if "duplicates_constraint" not in i  # PostgreSQL's index behind a UNIQUE
        ),
    }


def _expected_shape(table) -> dict:
    return {
        "columns": {c.name: (c.nullable, c.type._type_affinity) for c in table.columns},
        "primary_key": sorted(c.name for c in table.primary_key.columns),
        "foreign_keys": sorted(
            ((fk.parent.name,), fk.column.table.name, (fk.column.name,)) for fk in table.foreign_keys
        ),
        "unique": sorted(
            tuple(c.name for c in u.columns)
            for u in table.constraints
            if isinstance(u, UniqueConstraint)  # includes those from Column(unique=True)
        ),
        "indexes": sorted((i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes),
    }


def test_migrated_schema_equals_schema_module(brain, raw_engine):
    inspector = inspect(raw_engine)
    assert sorted(inspector.get_table_names()) == sorted(schema.metadata.tables)
    for name, table in schema.metadata.tables.items():
        assert _shape(inspector, name) == _expected_shape(table), name


def test_concurrent_openers_migrate_once(brain_url, raw_engine):
    errors = []
    start = threading.Barrier(3)

    def opener() -> None:
        try:
            start.wait()
            open_brain(brain_url).close()
        except Exception as exc:  # reported below; a thread can't fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with raw_engine.connect() as conn:
        versions = conn.execute(select(schema.schema_version.c.version)).scalars().all()
    assert sorted(versions) == list(range(1, SCHEMA_VERSION + 1))


def test_a_version_8_brain_gets_its_migrator_as_owner_and_an_append_only_audit_log(brain_url, raw_engine,
                                                                                  monkeypatch):
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.migrate(target=8) == list(range(1, 9))
        brain.audit("promote", actor="alice", outcome="ok")  # history from before version 9
    with raw_engine.begin() as conn:  # version-8 code could still rewrite it
        conn.execute(update(schema.audit_log).values(reason="edited before 9"))
    monkeypatch.setenv("LOGNAME", "carol")  # the OS user who runs the upgrade
    with open_brain(brain_url) as brain:
        assert brain.schema_version() == SCHEMA_VERSION
        assert [(r.user, r.role, r.granted_by) for r in brain.list_roles()] == [("carol", "owner", "carol")]
        assert brain.role_of("alice") == "viewer"
        (entry,) = brain.list_audit()
        assert (entry.actor, entry.reason) == ("alice", "edited before 9")
    with pytest.raises(Exception, match="audit_log is append-only"), raw_engine.begin() as conn:
        conn.execute(update(schema.audit_log).values(reason="edited after 9"))


def test_serve_gaps_keep_one_row_per_bar_and_state(brain_url):
    from datetime import UTC, datetime

    from engine.datasets import bundled_path  # noqa: F401 (the brain stores, the test seeds)

    with open_brain(brain_url) as brain:
        slot = brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        version = brain.add_version(slot.key, model_kind="linear", manifest={"features": []}, artifact=b"x",
                                    artifact_format="skops", metrics=[], data_start=None, data_end=None)
        bar = datetime(2026, 1, 5, tzinfo=UTC)
        gap = {"slot_key": slot.key, "version_id": version.id, "ts": bar, "state": "alt_stale",
               "detail": "funding_rate: last value 2026-01-01 01:00 is 4.0d old (max 1d)"}
        assert brain.record_serve_gaps([gap]) == 1
        assert brain.record_serve_gaps([gap]) == 0  # a tick that sees the bar again adds nothing
        (stored,) = brain.list_serve_gaps(slot.key)
        assert (stored.ts, stored.state, stored.version_id) == (bar, "alt_stale", version.id)
        assert brain.serve_gap_summary(slot.key) == {"alt_stale": (1, bar)}
        with pytest.raises(Exception, match="serve gap state"):
            brain.record_serve_gaps([{**gap, "state": "zero_filled"}])

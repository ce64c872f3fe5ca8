"""A version's walk-forward out-of-sample predictions (migration 12), on both backends: stored
with the version in its one transaction, read back in bar order, kept when it is pruned; a
failure or a kill while they are written leaves neither the version nor its rows."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from brain import BrainError, OutOfSampleRecord, open_brain
from brain.oos_predictions import INSERT_CHUNK
from brain.schema import artifacts, model_metrics, model_versions, version_oos_predictions

SLOT = "GOOG:1d:fwd_ret_1"
START = datetime(2020, 1, 1, tzinfo=UTC)


def rows(n: int, *, folds: int = 3) -> OutOfSampleRecord:
    return OutOfSampleRecord(
        fold=tuple(i * folds // n for i in range(n)),
        ts=tuple(START + timedelta(days=i) for i in range(n)),
        prediction=tuple(math.sin(i) * 10 for i in range(n)),
        next_ret=tuple(math.cos(i) / 100 for i in range(n)),
    )


def add(brain, out_of_sample: OutOfSampleRecord | None, artifact: bytes = b"model"):
    return brain.add_version(SLOT, model_kind="linear", manifest={"features": []}, artifact=artifact,
                             artifact_format="skops", metrics=[{"name": "sharpe", "value": 0.5}],
                             data_start=START, data_end=START, out_of_sample=out_of_sample)


def counts(brain) -> dict[str, int]:
    with brain._read() as conn:  # checking storage itself, under the API
        return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (model_versions, artifacts, model_metrics, version_oos_predictions)}


@pytest.fixture
def slotted(brain):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    return brain


def test_the_rows_come_back_as_stored_in_bar_order(slotted):
    brain = slotted
    stored = rows(2 * INSERT_CHUNK + 7)  # more than one chunk
    version = add(brain, stored)
    assert brain.oos_predictions(version.id) == stored
    other = add(brain, rows(5), artifact=b"other")  # each version reads its own
    assert len(brain.oos_predictions(other.id)) == 5
    back = brain.oos_predictions(version.id)
    assert back.ts[0].tzinfo is UTC and list(back.ts) == sorted(back.ts)
    assert set(back.fold) == {0, 1, 2}


def test_nan_is_stored_as_none_and_a_version_without_rows_has_none(slotted):
    brain = slotted
    version = add(brain, OutOfSampleRecord(fold=(0, 0), ts=(START, START + timedelta(days=1)),
                                           prediction=(float("nan"), 1.5), next_ret=(0.01, float("nan"))))
    back = brain.oos_predictions(version.id)
    assert back.prediction == (None, 1.5) and back.next_ret == (0.01, None)
    assert brain.oos_predictions(add(brain, None, artifact=b"before").id) is None


def test_a_pruned_version_keeps_its_rows(slotted):
    brain = slotted
    add(brain, rows(10), artifact=b"champion")
    pruned = add(brain, rows(12), artifact=b"challenger")
    brain.promote_version(SLOT, 1, actor="alice", reason="test", force=True)
    brain.prune_version(SLOT, 2, actor="alice", reason="test")
    assert brain.get_version(SLOT, 2).status == "pruned"
    assert brain.oos_predictions(pruned.id) == rows(12)


def test_rows_of_unequal_lengths_are_refused_and_nothing_is_written(slotted):
    brain = slotted
    before = counts(brain)
    bad = OutOfSampleRecord(fold=(0, 0), ts=(START,), prediction=(1.0, 2.0), next_ret=(0.0, 0.0))
    with pytest.raises(BrainError, match="unequal lengths: fold 2, ts 1"):
        add(brain, bad)
    assert counts(brain) == before
    assert brain.list_versions(SLOT) == []


def test_a_failure_while_the_rows_are_written_leaves_neither_the_version_nor_its_rows(slotted):
    brain = slotted
    before, audited = counts(brain), len(brain.list_audit())
    seen = []

    def fail_on_the_second_chunk(statement: str) -> None:
        if statement.startswith("INSERT INTO version_oos_predictions"):
            seen.append(statement)
            if len(seen) == 2:
                raise RuntimeError("the database went away")

    stop = brain.on_statement(fail_on_the_second_chunk)
    try:
        with pytest.raises(Exception, match="the database went away"):
            add(brain, rows(2 * INSERT_CHUNK))
    finally:
        stop()
    assert len(seen) == 2  # the version row and the first chunk were written, then rolled back
    assert counts(brain) == before and len(brain.list_audit()) == audited
    version = add(brain, rows(3))  # and the brain goes on as before
    assert version.number == 1 and len(brain.oos_predictions(version.id)) == 3


KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from tests.brain.test_brain_oos_predictions import add, rows
    from brain import open_brain
    from brain.oos_predictions import INSERT_CHUNK

    brain = open_brain(sys.argv[1])
    chunks = []

    def kill_on_the_second_chunk(statement):
        if statement.startswith("INSERT INTO version_oos_predictions"):
            chunks.append(statement)
            if len(chunks) == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    brain.on_statement(kill_on_the_second_chunk)
    add(brain, rows(3 * INSERT_CHUNK))
""")


def test_a_process_killed_while_the_rows_are_written_leaves_neither(brain_url, slotted):
    before = counts(slotted)
    slotted.close()
    repository = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, brain_url], cwd=repository,
                            env={**os.environ, "PYTHONPATH": repository}, capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    with open_brain(brain_url) as brain:
        assert counts(brain) == before
        assert brain.list_versions(SLOT) == []
        assert not [entry for entry in brain.list_audit() if entry.action == "version.add"]
        with brain._read() as conn:
            if brain.backend == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
        version = add(brain, rows(4))
        assert version.number == 1 and len(brain.oos_predictions(version.id)) == 4

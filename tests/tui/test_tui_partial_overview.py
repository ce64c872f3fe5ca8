"""The console's refresh reads only what changed: after any change the brain can see, a snapshot
read from the previous one equals a whole read, and a slot nothing touched keeps the very record of
the previous snapshot. Both backends."""

from __future__ import annotations

import random
from dataclasses import replace

from sqlalchemy import update

from brain.schema import model_metrics
from scheduler.services.overview import WHOLE_READ_SECONDS, read_snapshot, slot_overviews
from tests.brain.conftest import brain, brain_url  # noqa: F401  (fixtures: SQLite and PostgreSQL)
from tests.brain.test_brain_overview_changes import SYMBOLS, add_version, key, live, three_slots


def test_a_partial_read_equals_a_whole_read_after_every_kind_of_change(brain):  # noqa: F811
    versions = three_slots(brain)
    chance = random.Random(7)
    snapshot = read_snapshot(brain)
    hour = 10
    for step in range(40):
        hour += 1
        symbol = chance.choice(SYMBOLS)
        change = chance.choice(("live", "live", "version", "promote", "drift", "queue"))
        touched = {key(symbol)}
        if change == "live":
            live(brain, versions[symbol], chance.uniform(-1, 1), hour)
        elif change == "version":
            versions[symbol] = add_version(brain, symbol, chance.uniform(-1, 1))
        elif change == "promote" and brain.champions().get(key(symbol)) != versions[symbol].number:
            brain.promote_version(key(symbol), versions[symbol].number, actor="alice", reason="test",
                                  force=True)
        elif change == "drift":
            check = {"feature": "rsi_14", "method": "psi", "statistic": 0.3, "threshold": 0.2,
                     "drifted": chance.randint(0, 1)}
            brain.record_drift_results([check], slot_key=key(symbol))
        else:
            item = brain.enqueue("retrain", key(symbol), rule="live_sharpe", reason=f"step {step}")
            if item is not None and chance.random() < 0.5:
                brain.decide_queue_item(item.id, approve=chance.random() < 0.5, actor="alice", reason="x")
        before = {slot.slot: slot for slot in snapshot.slots}
        snapshot = read_snapshot(brain, previous=snapshot)
        assert snapshot.slots == slot_overviews(brain), f"step {step}: {change} on {symbol}"
        for slot in snapshot.slots:
            if slot.slot not in touched:
                assert slot is before[slot.slot], f"step {step}: {slot.slot} was rebuilt"


def test_a_change_the_marks_cannot_see_is_read_by_the_periodic_whole_read(brain):  # noqa: F811
    versions = three_slots(brain)
    snapshot = read_snapshot(brain)
    # An existing row changes without a new id: what an out-of-order PostgreSQL commit looks like
    # to the marks (its id is below the newest one already seen).
    with brain._write() as connection:
        connection.execute(update(model_metrics).where(model_metrics.c.version_id == versions["AAA"].id)
                           .values(value=42.0))
    stale = read_snapshot(brain, previous=snapshot)
    assert stale.slots == snapshot.slots  # the marks did not move: the overview is not read
    due = replace(stale, read_whole_at=stale.read_whole_at - WHOLE_READ_SECONDS)
    fresh = read_snapshot(brain, previous=due)
    assert fresh.slots == slot_overviews(brain)
    assert next(slot for slot in fresh.slots if slot.slot == key("AAA")).live.sharpe == 42.0
    assert fresh.read_whole_at > due.read_whole_at

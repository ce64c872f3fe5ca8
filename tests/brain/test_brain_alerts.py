"""The brain's alerts: one row per dedupe key, its deliveries written with it, one attempt in
flight per delivery, and what the console and the CLI list. Both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from brain import open_brain
from brain.alerts import NewAlert

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _drift_on(after: int = 0) -> NewAlert:
    return NewAlert("drift", "GOOG:1d:fwd_ret_1", "on", f"drift:GOOG:1d:fwd_ret_1:after:{after}",
                    "GOOG:1d:fwd_ret_1: drift detected", {"drifted": 2, "features": 8})


def test_migration_13_adds_alerts_to_a_version_12_brain(brain_url, raw_engine):
    with open_brain(brain_url, migrate=False) as brain:
        assert brain.migrate(target=12) == list(range(1, 13))
    assert "alerts" not in inspect(raw_engine).get_table_names()
    with open_brain(brain_url) as brain:
        assert brain.schema_version() >= 13  # later migrations may follow
        assert brain.list_alerts() == [] and brain.alerts_summary().undeliverable == 0
    tables = inspect(raw_engine).get_table_names()
    assert {"alerts", "alert_deliveries"} <= set(tables)


def test_one_alert_per_dedupe_key_with_a_delivery_per_sink(brain):
    first = brain.record_alert(_drift_on(), ["webhook ops", "command page"], at=T0)
    assert first is not None
    assert brain.record_alert(_drift_on(), ["webhook ops", "command page"], at=T0) is None
    (alert,) = brain.list_alerts()
    assert (alert.id, alert.kind, alert.subject, alert.condition, alert.state) == (
        first, "drift", "GOOG:1d:fwd_ret_1", "on", "pending")
    assert alert.payload == {"drifted": 2, "features": 8} and alert.created_at == T0
    assert [(d.sink, d.state, d.attempts) for d in alert.deliveries] == [
        ("webhook ops", "pending", 0), ("command page", "pending", 0)]
    assert brain.last_told(["drift"])[("drift", "GOOG:1d:fwd_ret_1")].condition == "on"
    assert brain.stored_dedupe_keys([_drift_on().dedupe_key, "other"]) == {_drift_on().dedupe_key}


def test_racing_writers_of_one_change_store_it_once(brain_url):
    open_brain(brain_url).close()

    def write(_):
        with open_brain(brain_url) as brain:
            return brain.record_alert(_drift_on(), ["webhook ops"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(write, range(4)))
    assert len([alert_id for alert_id in ids if alert_id is not None]) == 1
    with open_brain(brain_url) as brain:
        (alert,) = brain.list_alerts()
        assert len(alert.deliveries) == 1


def test_a_delivery_is_claimed_by_one_attempt_and_ends_undeliverable_with_its_error(brain):
    brain.record_alert(_drift_on(), ["webhook ops"], at=T0)
    ((delivery, alert),) = brain.due_deliveries(now=T0)
    hold = datetime.now(UTC) + timedelta(minutes=1)
    assert brain.claim_delivery(delivery.id, 0, hold_until=hold)
    assert not brain.claim_delivery(delivery.id, 0, hold_until=hold)  # someone else's attempt now
    assert brain.due_deliveries() == []  # held until the attempt's time is up
    retry = datetime.now(UTC) - timedelta(seconds=1)
    brain.delivery_failed(delivery.id, "ops answered HTTP 500 Internal Server Error", retry_at=retry)
    ((again, _),) = brain.due_deliveries()
    assert (again.attempts, again.last_error) == (1, "ops answered HTTP 500 Internal Server Error")
    assert brain.claim_delivery(again.id, 1, hold_until=hold)
    brain.delivery_failed(again.id, "ops answered HTTP 503 Service Unavailable", retry_at=None)
    assert brain.due_deliveries() == []
    summary = brain.alerts_summary()
    assert summary.undeliverable == 1 and [a.id for a in summary.newest] == [alert.id]
    (listed,) = brain.list_alerts(undeliverable=True)
    assert listed.state == "undeliverable"
    assert listed.deliveries[0].last_error == "ops answered HTTP 503 Service Unavailable"


def test_a_delivered_alert_is_not_listed_as_undeliverable(brain):
    brain.record_alert(_drift_on(), ["webhook ops"], at=T0)
    ((delivery, _),) = brain.due_deliveries()
    assert brain.claim_delivery(delivery.id, 0, hold_until=datetime.now(UTC) + timedelta(minutes=1))
    brain.delivery_done(delivery.id)
    (alert,) = brain.list_alerts()
    assert alert.state == "delivered" and alert.deliveries[0].delivered_at is not None
    assert brain.list_alerts(undeliverable=True) == [] and brain.alerts_summary().undeliverable == 0

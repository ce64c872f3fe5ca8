"""The Audit log and the Rollback log: newest first, `/` filters, Enter shows the details."""

from __future__ import annotations

from textual.widgets import DataTable

from brain import open_brain
from huracan_tui.console.screens.audit import AuditScreen
from huracan_tui.console.screens.rollbacks import RollbacksScreen
from tests.tampering import audit_log_unlocked
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_registry import SLOT, seed_versions


def table(app, table_id: str) -> DataTable:
    return app.screen.query_one(f"#{table_id}", DataTable)


def column(app, table_id: str, name: str) -> list[str]:
    grid = table(app, table_id)
    return [str(grid.get_cell_at((i, grid.get_column_index(name)))) for i in range(grid.row_count)]


async def test_the_audit_log_is_newest_first_filterable_and_opens_details(any_brain_url):
    seed_versions(any_brain_url)
    with open_brain(any_brain_url) as brain:
        brain.audit("job.cancel", actor="bob", origin="10.0.0.9", target="job 7", reason="wrong window",
                    outcome="ok")
        total = len(brain.list_audit())
    app = make_app(any_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("A")
        assert isinstance(app.screen, AuditScreen)
        await wait_until(pilot, lambda: table(app, "audit").row_count == total, what="the entries")
        assert column(app, "audit", "action")[:2] == ["job.cancel", "promote"]
        assert column(app, "audit", "actor")[0] == "bob@10.0.0.9"
        await pilot.press("slash", *"promote")
        await wait_until(pilot, lambda: table(app, "audit").row_count == 1, what="the filter")
        assert "1 of" in str(app.screen.query_one("#log-title").render())
        await pilot.press("enter", "enter")  # keep the filter, then open the entry
        details = str(app.screen.query_one("#log-details").render())
        assert "first model" in details and '"verdict": "first_champion"' in details
        await pilot.press("escape")  # closes the details
        assert isinstance(app.screen, AuditScreen) and not app.screen.query_one("#log-details").display
        await pilot.press("slash", "escape")  # clears the filter
        await wait_until(pilot, lambda: table(app, "audit").row_count == total, what="all entries again")
        await pilot.press("escape")
        assert not isinstance(app.screen, AuditScreen)


async def test_the_rollback_log_marks_automatic_rollbacks_and_shows_the_evidence(any_brain_url):
    seed_versions(any_brain_url)
    with open_brain(any_brain_url) as brain:
        brain.promote_version(SLOT, 2, actor="alice", reason="override", force=True)
        brain.rollback(SLOT, actor="bob", reason="desk call")
        brain.rollback(SLOT, actor="scheduler", reason="live Sharpe -1.2 < -0.5", to=3, automatic=True,
                       evidence={"live_sharpe": -1.2, "threshold": -0.5})
    app = make_app(any_brain_url, read_only=True)  # viewers may look
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("colon", *"rollbacks", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RollbacksScreen), what="the rollback log")
        await wait_until(pilot, lambda: table(app, "rollbacks").row_count == 2, what="the rollbacks")
        assert column(app, "rollbacks", "how") == ["AUTO", "manual"]
        assert column(app, "rollbacks", "change") == ["v1 → v3", "v2 → v1"]
        await pilot.press("enter")
        details = str(app.screen.query_one("#log-details").render())
        assert details.startswith("automatic rollback") and '"live_sharpe": -1.2' in details
        assert '"v3": {' in details  # both versions' metrics are kept as evidence


def store_lifecycle(url: str) -> None:
    """A frozen lifecycle for the snapshots: GOOG promoted, forced, rolled back by hand and by a
    policy; EURUSD with a retrain and a prune item waiting; every audit time pinned."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from brain.schema import audit_log

    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    goog, eurusd = "GOOG:1d:fwd_ret_1", "EURUSD:1h:fwd_ret_1"
    with open_brain(url) as brain:
        brain.promote_version(goog, 1, actor="carol", reason="first model", at=t0)
        brain.record_comparison([{"slot_key": goog, "champion_version": 1, "challenger_version": 2,
                                  "test": "paired_t", "verdict": "no_difference", "ts": t0}])
        brain.promote_version(goog, 2, actor="alice", origin="10.0.0.7", reason="desk override", force=True,
                              at=t0 + timedelta(hours=1))
        brain.rollback(goog, actor="bob", reason="live Sharpe fell", at=t0 + timedelta(hours=2))
        brain.rollback(goog, actor="scheduler", reason="live Sharpe -1.2 < -0.5 over 50 bars", to=2,
                       automatic=True, evidence={"live_sharpe": -1.2, "threshold": -0.5},
                       at=t0 + timedelta(hours=3))
        brain.promote_version(eurusd, 1, actor="carol", reason="first model", at=t0)
        brain.enqueue("retrain", eurusd, rule="live_sharpe", reason="Sharpe -0.8 over 50 bars",
                      evidence={"live_sharpe": -0.8}, now=t0 + timedelta(hours=4))
        brain.enqueue("prune", eurusd, version=2, rule="stale_challenger", reason="never promoted in 30d",
                      now=t0 + timedelta(hours=5))
        with brain._write() as connection, audit_log_unlocked(connection):  # test set-up: pin the times
            for (entry_id,) in connection.execute(audit_log.select().with_only_columns(audit_log.c.id)):
                connection.execute(update(audit_log).where(audit_log.c.id == entry_id)
                                   .values(ts=t0 + timedelta(minutes=entry_id)))

"""The Queues view: retrain and prune items with rule, reason and state; operators approve or
reject with a reason as operator requests; viewers are refused, and the refusal audited."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import DataTable, Input

from brain import open_brain
from huracan_tui.console.screens.confirm import ConfirmScreen
from huracan_tui.console.screens.queues import QueuesScreen
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_registry import SLOT, seed_versions


def seed_queue(url: str) -> tuple[int, int]:
    seed_versions(url)
    with open_brain(url) as brain:
        retrain = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="Sharpe -0.8 over 50 bars",
                                evidence={"live_sharpe": -0.8, "bars": 50},
                                now=datetime(2026, 1, 5, 9, tzinfo=UTC))
        prune = brain.enqueue("prune", SLOT, version=2, rule="stale_challenger",
                              reason="never promoted in 30d", now=datetime(2026, 1, 5, 10, tzinfo=UTC))
    return retrain.id, prune.id


def items(app) -> DataTable:
    return app.screen.query_one("#queue-items", DataTable)


def row(app, index: int) -> list[str]:
    return [str(cell) for cell in items(app).get_row_at(index)]


async def open_queues(pilot, app) -> None:
    await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
    await pilot.press("Q")
    assert isinstance(app.screen, QueuesScreen)
    await wait_until(pilot, lambda: items(app).row_count == 2, what="the queue items")


async def decide(pilot, app, key: str, reason: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
    app.screen.query_one("#confirm-reason", Input).value = reason
    await pilot.press("enter")


async def test_an_operator_approves_a_prune_and_rejects_a_retrain(any_brain_url):
    retrain_id, prune_id = seed_queue(any_brain_url)
    app = make_app(any_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_queues(pilot, app)
        assert row(app, 0)[:7] == [str(prune_id), "prune", SLOT, "v2", "pending", "stale_challenger",
                                   "never promoted in 30d"]
        assert row(app, 1)[:5] == [str(retrain_id), "retrain", SLOT, "-", "pending"]
        await decide(pilot, app, "a", "agreed, v2 is stale")
        await wait_until(pilot, lambda: row(app, 0)[4] == "done", what="the prune carried out")
        await pilot.press("down")
        await pilot.press("enter")  # the evidence the policy recorded
        details = str(app.screen.query_one("#log-details").render())
        assert '"live_sharpe": -0.8' in details and "rule live_sharpe" in details
        await decide(pilot, app, "x", "one bad day")
        await wait_until(pilot, lambda: row(app, 1)[4] == "rejected", what="the retrain rejected")
        await pilot.press("a")  # a decided item is not decided again
        assert isinstance(app.screen, QueuesScreen)
    with open_brain(any_brain_url) as brain:
        assert brain.get_version(SLOT, 2).status == "pruned"
        assert brain.get_queue_item(retrain_id).decided_by == "alice"
        audit = [(e.action, e.reason, e.outcome) for e in brain.list_audit(limit=3)]
        assert audit == [("queue.reject", "one bad day", "ok"), ("prune", "agreed, v2 is stale", "ok"),
                         ("queue.approve", "agreed, v2 is stale", "ok")]
        assert [c.action for c in brain.list_requests()] == ["queue.reject", "queue.approve"]


async def test_a_viewer_cannot_approve_or_reject_and_each_refusal_is_audited(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        item = brain.enqueue("retrain", SLOT, rule="live_sharpe", reason="bad week")
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("colon", *"queues", "enter")  # looking is allowed
        await wait_until(pilot, lambda: isinstance(app.screen, QueuesScreen), what="the queues")
        await wait_until(pilot, lambda: items(app).row_count == 1, what="the item")
        await pilot.press("a", "x")
        assert isinstance(app.screen, QueuesScreen)  # no confirmation opened
    with open_brain(seeded_brain_url) as brain:
        assert brain.get_queue_item(item.id).state == "pending" and brain.list_requests() == []
        denied = sorted(e.action for e in brain.list_audit() if e.outcome == "denied")
        assert denied == ["queue.approve", "queue.reject"]

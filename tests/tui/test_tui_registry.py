"""The Registry view: versions with their status and the promotion timeline; operators promote
(with the A/B verdict shown, force offered explicitly when it does not pass), roll back and
prune with a reason, as operator requests; viewers are refused, and the refusal audited."""

from __future__ import annotations

from textual.widgets import Checkbox, DataTable, Input, Static

from brain import open_brain
from huracan_tui.console.screens.promote import PromoteScreen
from huracan_tui.console.screens.registry import RegistryScreen, RollbackDialog
from tests.tui.helpers import make_app, wait_until

SLOT = "GOOG:1d:fwd_ret_1"


def seed_versions(url: str, count: int = 3, *, champion: int | None = 1) -> None:
    with open_brain(url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
        for number in range(1, count + 1):
            brain.add_version(
                SLOT, model_kind="linear" if number % 2 else "lightgbm", manifest={"features": ["rsi_14"]},
                artifact=f"model {number}".encode(), artifact_format="skops",
                metrics=[{"name": "sharpe", "value": 0.5 * number}, {"name": "hit_rate", "value": 0.5}],
                data_start=None, data_end=None,
            )
        if champion is not None:
            brain.promote_version(SLOT, champion, actor="carol", reason="first model")


def compare(url: str, challenger: int, verdict: str, champion: int = 1) -> None:
    with open_brain(url) as brain:
        brain.record_comparison([
            {"slot_key": SLOT, "champion_version": champion, "challenger_version": challenger,
             "test": test, "verdict": verdict}
            for test in ("paired_t", "diebold_mariano")
        ])


def versions(app) -> DataTable:
    return app.screen.query_one("#registry-versions", DataTable)


def cells(table: DataTable, row: int) -> list[str]:
    return [str(cell) for cell in table.get_row_at(row)]


async def open_registry(pilot, app, rows: int = 3) -> None:
    await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
    await pilot.press("G")
    assert isinstance(app.screen, RegistryScreen) and app.screen.slot_key == SLOT
    await wait_until(pilot, lambda: versions(app).row_count == rows, what="the versions")


async def open_promote(pilot, app, down: int) -> PromoteScreen:
    for _ in range(down):
        await pilot.press("down")
    await pilot.press("P")
    await wait_until(pilot, lambda: isinstance(app.screen, PromoteScreen), what="the promote dialog")
    return app.screen


async def confirm(pilot, dialog: PromoteScreen, reason: str, *, force: bool = False) -> None:
    if force:
        dialog.query_one("#promote-force", Checkbox).value = True
    dialog.query_one("#confirm-reason", Input).value = reason
    await pilot.press("enter")


def verdict_shown(dialog: PromoteScreen) -> str:
    return str(dialog.query_one("#promote-verdict").render())


def champion(app) -> int:
    return app.brain.champion(SLOT).number


async def test_registry_shows_statuses_and_the_timeline_and_an_operator_promotes(any_brain_url):
    seed_versions(any_brain_url)
    compare(any_brain_url, 2, "challenger_better")
    app = make_app(any_brain_url, identity=("alice", "10.0.0.7"))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_registry(pilot, app)
        assert [cells(versions(app), i)[:3] for i in range(3)] == [
            ["v3", "linear", "challenger"], ["v2", "lightgbm", "challenger"], ["v1", "linear", "champion"]]
        timeline = app.screen.query_one("#timeline", DataTable)
        assert cells(timeline, 0)[2:] == ["v1", "-", "promote", "-", "first_champion", "carol", "first model"]
        dialog = await open_promote(pilot, app, 1)
        assert "challenger_better (passes)" in verdict_shown(dialog)
        assert not dialog.query("#promote-force")  # nothing to force
        await confirm(pilot, dialog, "beats v1 on every test")
        await wait_until(pilot, lambda: champion(app) == 2, what="v2 promoted")
        await wait_until(pilot, lambda: cells(versions(app), 1)[2] == "champion", what="the status cell")
        await wait_until(pilot, lambda: timeline.row_count == 2, what="the new timeline row")
        assert cells(timeline, 0)[2:8] == ["v2", "v1", "promote", "-", "challenger_better", "alice@10.0.0.7"]
        await pilot.press("tab", "enter")  # Enter on the timeline row: the metrics it rested on
        details = str(app.screen.query_one("#registry-details").render())
        assert "verdict: challenger_better" in details and '"sharpe": 1.0' in details
    with open_brain(any_brain_url) as brain:
        entry = brain.list_audit(limit=1)[0]
        assert (entry.action, entry.target, entry.actor, entry.origin, entry.reason, entry.outcome) == (
            "promote", f"{SLOT} v2", "alice", "10.0.0.7", "beats v1 on every test", "ok")
        (command,) = brain.list_requests()
        assert (command.action, command.state, command.role) == ("promote", "done", "operator")


async def test_promotion_without_a_passing_verdict_is_refused_unless_forced(any_brain_url):
    seed_versions(any_brain_url)
    compare(any_brain_url, 3, "champion_better")
    app = make_app(any_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_registry(pilot, app)
        dialog = await open_promote(pilot, app, 0)
        verdict = verdict_shown(dialog)
        assert "champion_better: it does NOT pass" in verdict and "unless you force it" in verdict
        assert dialog.query_one("#promote-force", Checkbox).value is False  # offered, never on by itself
        await confirm(pilot, dialog, "looks better to me")
        await wait_until(pilot, lambda: [c.state for c in app.brain.list_requests()] == ["failed"],
                         what="the refused promotion")
        assert champion(app) == 1
        # Refused, the dialog stays: the reason typed is kept, and it says why and how to force.
        hint = dialog.query_one("#confirm-hint", Static)
        await wait_until(pilot, lambda: "Not promoted" in str(hint.render()),
                         what="the refusal in the dialog")
        assert app.screen is dialog
        assert dialog.query_one("#confirm-reason", Input).value == "looks better to me"
        assert "Ctrl+F forces it" in str(hint.render())
        await pilot.press("escape")
        dialog = await open_promote(pilot, app, 0)
        await confirm(pilot, dialog, "desk override: v1 data was stale", force=True)
        await wait_until(pilot, lambda: champion(app) == 3, what="the forced promotion")
        await wait_until(pilot, lambda: isinstance(app.screen, RegistryScreen), what="the dialog closed")
        await wait_until(pilot, lambda: "FORCED" in cells(app.screen.query_one("#timeline", DataTable), 0),
                         what="FORCED in the timeline")
        # No comparison at all: the dialog says so, and offers force.
        dialog = await open_promote(pilot, app, 1)
        assert "No A/B comparison of v2 against champion v3" in verdict_shown(dialog)
        await confirm(pilot, dialog, "x")
        await wait_until(pilot, lambda: len(app.brain.list_requests()) == 3, what="the third command")
        await pilot.press("escape")
    with open_brain(any_brain_url) as brain:
        audit = [(e.action, e.outcome.split(":")[0], e.reason) for e in brain.list_audit(limit=3)]
        assert audit == [("promote", "failed", "x"),
                         ("promote", "forced", "desk override: v1 data was stale"),
                         ("promote", "failed", "looks better to me")]
        assert brain.promotion_history(SLOT)[0].forced


async def test_an_operator_rolls_back_and_prunes(any_brain_url):
    seed_versions(any_brain_url)
    with open_brain(any_brain_url) as brain:
        brain.promote_version(SLOT, 3, actor="carol", reason="override", force=True)
    app = make_app(any_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_registry(pilot, app)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RollbackDialog), what="the rollback dialog")
        dialog = app.screen
        reason, target = dialog.query_one("#confirm-reason", Input), dialog.query_one("#rollback-to", Input)
        assert dialog.focused is reason  # the first field first
        target.focus()
        await pilot.press(*"live Sharpe fell", "enter")  # the reason, typed into the wrong field
        hint = str(dialog.query_one("#confirm-hint", Static).render())
        assert app.screen is dialog and "Not a version number" in hint and "field above" in hint
        target.value = ""
        await pilot.press("enter")  # a blank version and no reason: said, and on to the reason
        assert dialog.focused is reason and "A reason is required" in str(dialog.query_one("#confirm-hint",
                                                                                             Static).render())
        await pilot.press(*"live Sharpe fell", "enter")
        await wait_until(pilot, lambda: champion(app) == 1, what="the rollback to v1")
        await wait_until(pilot, lambda: cells(versions(app), 0)[2] == "challenger",
                         what="v3 no longer champion")
        await pilot.press("X")  # v3, the selected row
        app.screen.query_one("#confirm-reason", Input).value = "superseded"
        await pilot.press("enter")
        await wait_until(pilot, lambda: cells(versions(app), 0)[2] == "pruned", what="v3 pruned")
    with open_brain(any_brain_url) as brain:
        (rollback,) = brain.list_rollbacks(SLOT)
        assert (rollback.from_version, rollback.to_version, rollback.actor) == (3, 1, "alice")
        assert brain.get_version(SLOT, 3).status == "pruned"
        assert [e.action for e in brain.list_audit(limit=2)] == ["prune", "rollback"]


async def test_a_viewer_is_refused_promote_rollback_and_prune_and_each_is_audited(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(SLOT, 1, actor="carol", reason="first")
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("colon", *"registry GOOG", "enter")  # looking is allowed
        await wait_until(pilot, lambda: isinstance(app.screen, RegistryScreen), what="the registry")
        await wait_until(pilot, lambda: versions(app).row_count == 2, what="the versions")
        await pilot.press("P", "R", "X")
        assert isinstance(app.screen, RegistryScreen)  # no dialog opened
        await pilot.press("ctrl+p")
        await pilot.press(*"promote")
        await pilot.pause(0.3)
        options = app.screen.query("CommandList").first()
        assert all("Promote" not in str(options.get_option_at_index(i).prompt)
                   for i in range(options.option_count))
        await pilot.press("escape")
    with open_brain(seeded_brain_url) as brain:
        assert brain.champion(SLOT).number == 1 and brain.list_requests() == []
        denied = [(e.action, e.actor, e.outcome) for e in brain.list_audit() if e.outcome == "denied"]
        assert sorted(denied) == [("promote", "alice", "denied"), ("prune", "alice", "denied"),
                                  ("rollback", "alice", "denied")]


async def test_g_opens_the_registry_of_the_slot_in_view_from_its_detail_screen(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("colon", *"slot GOOG", "enter")
        await wait_until(pilot, lambda: getattr(app.screen, "slot_key", None) == SLOT, what="the detail")
        await pilot.press("G")
        assert isinstance(app.screen, RegistryScreen) and app.screen.slot_key == SLOT
        await wait_until(pilot, lambda: versions(app).row_count == 2, what="the versions")
        assert "no champion yet" in str(app.screen.query_one("#registry-title").render())
        await pilot.press("escape")
        assert getattr(app.screen, "slot_key", None) == SLOT and not isinstance(app.screen, RegistryScreen)

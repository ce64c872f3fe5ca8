"""The A/B view: the slot's challengers, the latest stored comparison at once, an operator's
Enter queueing a `compare` job that a worker runs and whose stored result the view then shows;
viewers see stored results only."""

from __future__ import annotations

from datetime import timedelta

from textual.widgets import DataTable, Input, Static

from brain import open_brain
from engine import abtest
from huracan_tui.console.screens.compare import CompareScreen
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.promote import PromoteScreen
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def store_comparison(brain_url: str, slot_key: str = GOOG) -> None:
    """A stored comparison of v2 against champion v1 in which the challenger wins two tests."""
    winners = {"diebold_mariano", "sharpe_bootstrap"}
    rows = [
        {"ts": FROZEN_NOW - timedelta(hours=1), "slot_key": slot_key, "champion_version": 1,
         "challenger_version": 2, "test": test, "statistic": 2.5 if test in winners else 0.4,
         "p_value": 0.004 if test in winners else 0.6, "p_adjusted": 0.008 if test in winners else 0.6,
         "correction": "holm", "effect_size": 0.21,
         "verdict": "challenger_better" if test in winners else "no_difference",
         "details": {"alpha": 0.05, "best_model": "v2"}}
        for test in abtest.TESTS
    ]
    with open_brain(brain_url) as brain:
        brain.record_comparison(rows)


def results(app) -> DataTable:
    return app.screen.query_one("#results", DataTable)


def text_of(app, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_an_operator_compares_a_challenger_in_a_worker_and_sees_the_verdict(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"compare GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen)
                         and app.screen.state is not None,
                         what="the A/B view")
        challengers = app.screen.query_one("#challengers", DataTable)
        assert [key.value for key in challengers.rows] == ["2"]  # every version but champion v1
        assert "No comparison stored" in text_of(app, "#results-title")
        await pilot.press("enter")
        await wait_until(pilot, lambda: results(app).row_count == len(abtest.TESTS), timeout=240,
                         what="the comparison job's stored result")
        # The worker stores the rows, then marks its job finished: the view polls until it has.
        await wait_until(pilot, lambda: app.screen.state.job.state != "running", what="the job finished")
        assert app.screen.state.job.kind == "compare" and app.screen.state.job.state == "succeeded"
        assert "finished" in text_of(app, "#compare-job")
        overall = text_of(app, "#overall")
        assert "Overall: v2 " in overall and "best by composite score" in overall
        assert "holm correction, alpha 0.05" in text_of(app, "#results-title")
        with open_brain(seeded_brain_url) as brain:
            stored = brain.list_comparisons(GOOG)
            entry = next(a for a in brain.list_audit() if a.action == "compare.start")
        assert len(stored) == len(abtest.TESTS) and entry.outcome == "ok" and entry.actor == "alice"
        row = results(app).get_row(f"2:{stored[0]['test']}")
        assert str(row[1]) == stored[0]["test"] and str(row[6]) == stored[0]["verdict"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back to Models")


async def test_a_viewer_sees_the_stored_comparison_but_cannot_start_one(seeded_brain_url):
    store_comparison(seeded_brain_url, GOOG)
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        app.open_slot(GOOG)
        await wait_until(pilot, lambda: isinstance(app.screen, ModelDetailScreen), what="the slot")
        await pilot.press("C")  # from a slot's detail view: the A/B view of that slot
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen)
                         and results(app).row_count == len(abtest.TESTS), what="the stored comparison")
        assert app.screen.slot_key == GOOG
        overall = text_of(app, "#overall")
        assert "v2 challenger_better" in overall and "best by composite score: v2" in overall
        assert "v2" in str(app.screen.query_one("#challengers", DataTable).get_row("2")[0])
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("needs the operator role (you are a viewer)" in n.message
                                            for n in app._notifications), what="the refusal")
        await wait_until(pilot, lambda: any(a.action == "compare.start" for a in app.brain.list_audit()),
                         what="the refusal audited")  # the row is written off the UI thread
        with open_brain(seeded_brain_url) as brain:
            assert [job for job in brain.list_jobs() if job.kind == "compare"] == []
            denied = next(a for a in brain.list_audit() if a.action == "compare.start")
        assert (denied.outcome, denied.target) == ("denied", GOOG)  # the slot the viewer was looking at
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelDetailScreen), what="back to the slot")


async def test_c_on_the_models_view_opens_the_selected_slot(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("down", "C")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen)
                         and app.screen.state is not None,
                         what="the A/B view")
        assert app.screen.slot_key == GOOG  # the second row, sorted by slot
        assert "champion v1 linear" in text_of(app, "#compare-title")


async def test_p_in_the_a_b_view_promotes_the_challenger_whose_verdict_is_shown(seeded_brain_url):
    """The decision is made where the verdict sits: P on a result row opens the promote dialog
    with that comparison's verdict, and the promotion lands."""
    store_comparison(seeded_brain_url, GOOG)
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="carol", reason="first model")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"compare GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen)
                         and results(app).row_count == len(abtest.TESTS), what="the stored comparison")
        view = app.screen
        results(app).focus()
        await pilot.press("P")
        await wait_until(pilot, lambda: bool(app.screen.query("PromoteScreen #promote-verdict")),
                         what="the promote dialog")
        dialog = app.screen
        assert isinstance(dialog, PromoteScreen)
        assert "Promote GOOG:1d:fwd_ret_1 v2" in str(dialog.query_one("#confirm-question", Static).render())
        assert "against champion v1: challenger_better (passes)" in str(
            dialog.query_one("#promote-verdict", Static).render())
        dialog.query_one("#confirm-reason", Input).value = "wins DM and the Sharpe bootstrap"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.brain.champion(GOOG).number == 2, what="v2 promoted")
        await wait_until(pilot, lambda: app.screen is view, what="back in the A/B view")
        await wait_until(pilot, lambda: "champion v2" in text_of(app, "#compare-title"),
                         what="the view reloaded with the new champion")


async def test_a_viewer_pressing_p_in_the_a_b_view_is_refused_aloud(seeded_brain_url):
    store_comparison(seeded_brain_url, GOOG)
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"compare GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen)
                         and app.screen.state is not None, what="the A/B view")
        await pilot.press("P")
        await wait_until(pilot, lambda: any("needs the operator role" in note.message
                                            for note in app._notifications), what="the refusal")
        assert isinstance(app.screen, CompareScreen)
        assert app.brain.champion(GOOG) is None and app.brain.list_requests() == []

"""The Importance view: top features of a slot with their rank across versions, the alert when
the top features changed between the last two versions, the per-version drill-down, Esc back."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from brain import open_brain
from huracan_tui.console.screens.importance import TOP_K, FeatureImportanceScreen, ImportanceScreen
from huracan_tui.console.screens.models import ModelsScreen
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def store_shifting_importance(brain_url: str, slot_key: str) -> list[str]:
    """tree_shap for both versions: `f0` falls out of the top 5 in v2 and `f6` enters it."""
    names = [f"f{i}" for i in range(8)]
    with open_brain(brain_url) as brain:
        v1, v2 = brain.list_versions(slot_key)[:2]
        brain.record_feature_importance(v1.id, "tree_shap", {n: 8.0 - i for i, n in enumerate(names)})
        second = {n: 8.0 - i for i, n in enumerate(names)}
        second["f0"], second["f6"] = 0.5, 9.0
        brain.record_feature_importance(v2.id, "tree_shap", second)
    return names


def table(app) -> DataTable:
    return app.screen.query_one("#importance", DataTable)


async def test_importance_view_by_key_shows_ranks_trend_and_the_top_k_alert(seeded_brain_url):
    store_shifting_importance(seeded_brain_url, EURUSD)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("I")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportanceScreen) and table(app).row_count > 0,
                         what="the importance rows")
        screen = app.screen
        assert screen.slot_key == EURUSD and screen.data.method == "tree_shap"  # preferred to native
        assert [str(key.value) for key in table(app).rows][:2] == ["f6", "f1"]  # v2's order
        f6 = table(app).get_row("f6")
        assert str(f6[0]).strip() == "1" and str(f6[3]).strip() == "+6" and str(f6[5]) == "7 → 1"
        assert str(f6[4]) == "▁█"  # rank 7 then rank 1: the sparkline rises
        alert = str(screen.query_one("#importance-alert", Static).render())
        assert f"Top {TOP_K} changed from v1 to v2" in alert and "in f6" in alert and "out f0" in alert
        table(app).move_cursor(row=list(table(app).rows).index("f0") if "f0" in table(app).rows else 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FeatureImportanceScreen), what="drill-down")
        versions = app.screen.query_one("#feature-versions", DataTable)
        assert versions.row_count == 2
        assert [str(cell).strip() for cell in versions.get_row("2")][:2] == ["v2", "lightgbm"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportanceScreen), what="back")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back to Models")


async def test_importance_command_opens_the_named_slot_with_training_importance(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"importance GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportanceScreen) and table(app).row_count > 0,
                         what="the importance rows")
        screen = app.screen
        assert screen.slot_key == GOOG and screen.data.method == "native"  # what training stores
        with open_brain(seeded_brain_url) as brain:
            trend = brain.importance_trend(GOOG, "native", top_k=TOP_K)
        latest = trend["versions"][-1]
        assert list(table(app).rows)[0].value == latest["top"][0]
        alert = str(screen.query_one("#importance-alert", Static).render())
        assert ("changed" in alert) == latest["alert"]


def shown_order(app) -> list[str]:
    """The features top to bottom as the table shows them (its sort, not its insertion order)."""
    return [str(row.key.value) for row in table(app).ordered_rows]


async def test_m_cycles_the_methods_the_slot_has_and_shows_each_ones_ranks(seeded_brain_url):
    names = store_shifting_importance(seeded_brain_url, EURUSD)
    with open_brain(seeded_brain_url) as brain:
        latest = brain.list_versions(EURUSD)[1]
        # permutation ranks the features the other way round from tree_shap.
        brain.record_feature_importance(latest.id, "permutation", {n: float(i) for i, n in enumerate(names)})
        native = {row["feature"]: row["rank"] for row in brain.feature_importance(latest.id, "native")}
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("I")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportanceScreen) and table(app).row_count > 0,
                         what="the importance rows")
        screen = app.screen
        assert screen.data.method == "tree_shap"
        assert screen.data.methods == ("tree_shap", "permutation", "native")
        title = str(screen.query_one("#importance-title", Static).render())
        assert "tree_shap, top" in title and "m: permutation, native" in title
        assert shown_order(app)[:2] == ["f6", "f1"]

        await pilot.press("m")
        await wait_until(pilot, lambda: screen.data.method == "permutation", what="the permutation ranks")
        assert shown_order(app)[:3] == ["f7", "f6", "f5"]
        assert [v.number for v in screen.data.versions] == [latest.number]  # only v2 has permutation
        title = str(screen.query_one("#importance-title", Static).render())
        assert "permutation, top" in title and "m: tree_shap, native" in title

        await pilot.press("m")
        await wait_until(pilot, lambda: screen.data.method == "native", what="the native ranks")
        shown = shown_order(app)
        assert shown == sorted(native, key=native.get)[: len(shown)]

        await pilot.press("m")  # the cycle comes back to the first
        await wait_until(pilot, lambda: screen.data.method == "tree_shap", what="back to tree_shap")
        assert shown_order(app)[:2] == ["f6", "f1"]


async def test_m_with_one_method_says_how_to_store_more(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("colon", *"importance GOOG", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportanceScreen) and table(app).row_count > 0,
                         what="the importance rows")
        assert app.screen.data.methods == ("native",)
        await pilot.press("m")
        await wait_until(pilot, lambda: any("training.importance" in str(n.message)
                                            for n in app._notifications), what="the hint")
        assert app.screen.data.method == "native"

"""A version's spec in the console: the slot detail shows recipe, preprocessing, target and the
bars the live loop could not serve; the retrain dialog defaults to the champion's recipe and target
and the job it queues carries them; the Importance view switches between the stored methods."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import Button, DataTable, Select, Static

from brain import open_brain
from engine.pipeline import make_spec
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.importance import ImportanceScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.retrain import RetrainScreen
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def champion_on_full_recipe(brain_url: str) -> None:
    """GOOG's v2 says it was trained on the full recipe with PCA, and is the champion."""
    spec = make_spec("lightgbm", recipe="full", preprocessing=({"step": "scale"}, {"step": "pca"}))
    with open_brain(brain_url) as brain:
        v2 = brain.get_version(GOOG, 2)
        brain.add_version(
            GOOG,
            model_kind="lightgbm",
            manifest={**v2.manifest, "spec": spec.to_json(), "spec_sha256": spec.digest()},
            artifact=brain.load_artifact(v2.artifact_sha256),
            artifact_format=v2.manifest["artifact_format"],
            metrics=[],
            data_start=v2.data_start,
            data_end=v2.data_end,
        )
        brain.promote_version(GOOG, 3, actor="alice", reason="test")


def features_label(dialog) -> str:
    """The champion's features as the dialog states them, once it has read them."""
    label = str(dialog.query_one("#retrain-features-label").render())
    return label if dialog.champion_loaded else ""


async def models_ready(pilot) -> None:
    await wait_until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, ModelsScreen)
            and pilot.app.screen.query_one("#models", DataTable).row_count == 2
        ),
        what="two slot rows",
    )


async def test_slot_detail_shows_the_spec_and_the_serve_gaps(seeded_brain_url):
    champion_on_full_recipe(seeded_brain_url)
    with open_brain(seeded_brain_url) as brain:
        v3 = brain.get_version(GOOG, 3)
        brain.record_serve_gaps(
            [
                {
                    "slot_key": GOOG,
                    "version_id": v3.id,
                    "ts": datetime(2013, 3, 4, tzinfo=UTC),
                    "state": "alt_stale",
                    "detail": "funding_rate: last value 2013-02-28 01:00 is 4.0d old (max 1d)",
                }
            ]
        )
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ModelDetailScreen) and app.screen.detail,
            what="the detail view",
        )
        manifest = str(app.screen.query_one("#manifest", Static).render())
        assert "full (8 inputs" in manifest  # the stored features are v2's, the recipe v3's
        assert "scale standard → pca 95%" in manifest and "forward return (bps) over 1 bar(s)" in manifest
        gaps = app.screen.query_one("#serve-gaps", Static)
        assert gaps.display and "alt data too old on 1 bar" in str(gaps.render())
        assert "4.0d old" in str(gaps.render())
        app.screen.query_one("#versions", DataTable).move_cursor(row=2)  # v1: trained before specs
        await pilot.pause()
        manifest = str(app.screen.query_one("#manifest", Static).render())
        assert "core (8 inputs; recipe columns: all)" in manifest and "preprocessing     none" in manifest


async def test_no_gaps_no_line(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ModelDetailScreen) and app.screen.detail,
            what="the detail view",
        )
        assert not app.screen.query_one("#serve-gaps", Static).display


async def test_retrain_defaults_to_the_champions_recipe_and_carries_the_choice(seeded_brain_url):
    champion_on_full_recipe(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "t")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, RetrainScreen) and "full" in features_label(app.screen),
            what="the dialog with the champion's recipe",
        )
        dialog = app.screen
        assert "scale standard → pca 95%" in features_label(dialog)
        assert dialog.query_one("#retrain-target", Select).value == "fwd_ret"
        dialog.query_one("#retrain-kind", Select).value = "linear"
        dialog.query_one("#retrain-target", Select).value = "net_edge"
        dialog.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the dialog closed")

        def queued():
            with open_brain(seeded_brain_url) as brain:
                return brain.list_jobs()

        (job,) = await wait_until(pilot, queued, timeout=60, what="the train job")
    training = job.params["training"]
    assert (training["recipe"], training["target"], training["models"]) == ("full", "net_edge", ["linear"])
    # The champion's preprocessing carries over: a retrain is of the model as it was made.
    assert [step["step"] for step in training["preprocessing"]] == ["scale", "pca"]


async def test_the_importance_view_switches_between_stored_methods(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        v2 = brain.get_version(EURUSD, 2)
        brain.record_feature_importance(v2.id, "shap", {"ret_1": 3.0, "rsi_14": 2.0, "hl_range": 1.0})
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="first snapshot")
        await pilot.press("I")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ImportanceScreen) and app.screen.data,
            what="the importance view",
        )
        screen = app.screen
        assert screen.data.method == "shap" and screen.data.methods == ("shap", "native")
        title = str(screen.query_one("#importance-title", Static).render())
        assert "shap, top 3" in title and "m: native" in title
        await pilot.press("m")
        await wait_until(pilot, lambda: screen.data.method == "native", what="the native ranks")
        assert "native, top" in str(screen.query_one("#importance-title", Static).render())
        assert screen.query_one("#importance", DataTable).row_count == 8
        await pilot.press("m")
        await wait_until(pilot, lambda: screen.data.method == "shap", what="back to shap")


async def test_retrain_with_a_features_preset_sends_its_recipe_and_steps(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("t")  # EURUSD: its champion is on the core recipe
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, RetrainScreen) and "core" in features_label(app.screen),
            what="the dialog",
        )
        dialog = app.screen
        dialog.query_one("#retrain-kind", Select).value = "linear"
        dialog.query_one("#retrain-features", Select).value = "full-pca"
        dialog.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")

        def queued():
            with open_brain(seeded_brain_url) as brain:
                return brain.list_jobs()

        (job,) = await wait_until(pilot, queued, timeout=60, what="the train job")
    training = job.params["training"]
    assert training["recipe"] == "full" and training["target"] is None
    assert [(step["step"], step.get("variance")) for step in training["preprocessing"]] == [
        ("scale", None),
        ("pca", 0.95),
    ]


async def test_the_versions_table_marks_the_champion_and_the_pruned(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="first", force=True)
        brain.prune_version(GOOG, 2, actor="alice", reason="worse")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelDetailScreen) and app.screen.detail,
                         what="the detail view")
        table = app.screen.query_one("#versions", DataTable)
        shown = {str(table.get_row_at(i)[0]).strip(): table.get_row_at(i)[0] for i in range(table.row_count)}
        assert set(shown) == {"★ v1", "v2"}
        assert "strike" in str(shown["v2"].style) and "bold" in str(shown["★ v1"].style)

"""Retrain from the console: t (Models view or a slot's detail) or `:retrain SLOT` asks for the
model kind, device and cadence, and queues a train job that a real worker runs with them."""

from __future__ import annotations

from textual.widgets import Button, DataTable, Select

from brain import open_brain
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.retrain import RetrainScreen
from tests.tui.helpers import make_app, wait_until

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


async def models_ready(pilot) -> None:
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ModelsScreen)
                     and pilot.app.screen.query_one("#models", DataTable).row_count == 2,
                     what="two slot rows")


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon", *text, "enter")
    await pilot.pause()


def choose(screen: RetrainScreen, **values: str) -> None:
    for name, value in values.items():
        screen.query_one(f"#retrain-{name}", Select).value = value


async def test_an_operator_queues_a_retrain_with_kind_device_and_cadence(seeded_brain_url, tmp_path):
    app = make_app(seeded_brain_url, worker_log=tmp_path / "worker.log")
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down")  # rows sort by slot: EURUSD, then GOOG
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the retrain dialog")
        dialog = app.screen
        assert dialog.slot_key == GOOG
        kinds = [value for _, value in dialog.query_one("#retrain-kind", Select)._options]
        assert {"linear", "lightgbm", "lstm", "river_linear"} <= set(kinds)  # names only: no torch needed
        assert dialog.choice().device == "auto" and dialog.choice().cadence == "full"
        choose(dialog, kind="linear", device="cpu", cadence="quick")
        dialog.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the dialog closed")
        await wait_until(pilot, lambda: app.snapshot.jobs and app.snapshot.jobs[0].state == "succeeded",
                         timeout=120, what="the retrain job to finish")
    with open_brain(seeded_brain_url) as brain:
        (job,) = brain.list_jobs()
        assert (job.kind, job.slot_key, job.device, job.params["device"]) == ("train", GOOG, "cpu", "cpu")
        assert (job.params["training"]["models"], job.params["training"]["cadence"]) == (["linear"], "quick")
        assert [v["model_kind"] for v in job.result["versions"]] == ["linear"]
        latest = brain.latest_version(GOOG)
        assert (latest.model_kind, latest.manifest["cadence"]) == ("linear", "quick")
        assert len(latest.manifest["folds"]) == 2  # quick: at most two folds
        (entry,) = [e for e in brain.list_audit() if e.action == "retrain"]
        assert (entry.actor, entry.target, entry.outcome) == ("alice", GOOG, "ok")


async def test_the_detail_view_and_the_command_line_open_the_dialog_and_escape_queues_nothing(
        seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelDetailScreen), what="the detail view")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the dialog")
        assert app.screen.slot_key == GOOG
        await pilot.press("escape")
        assert isinstance(app.screen, ModelDetailScreen)
        await type_command(pilot, "retrain EUR")
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the dialog")
        assert app.screen.slot_key == EURUSD
        await pilot.press("escape")
        await pilot.pause()
    with open_brain(seeded_brain_url) as brain:
        assert brain.list_jobs() == [] and brain.list_requests() == []


async def test_viewers_cannot_retrain_by_key_or_command(seeded_brain_url):
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ModelsScreen)
        await type_command(pilot, "retrain GOOG")
        assert isinstance(app.screen, ModelsScreen)
    with open_brain(seeded_brain_url) as brain:
        assert brain.list_jobs() == []
        denied = [(e.action, e.actor) for e in brain.list_audit() if e.outcome == "denied"]
        assert denied == [("retrain", "alice")] * 2  # the key and `:retrain`, each refused aloud


async def test_an_ensemble_kind_blends_the_newest_version_of_each_kind(seeded_brain_url, tmp_path):
    """The seeded GOOG slot has a linear v1 and a LightGBM v2: the ensemble kind queues an
    ensemble job of both, a real worker stores it as v3, and the audit names who asked."""
    app = make_app(seeded_brain_url, worker_log=tmp_path / "worker.log")
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "t")
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the retrain dialog")
        dialog = app.screen
        kinds = [value for _, value in dialog.query_one("#retrain-kind", Select)._options]
        assert {"ensemble:stacking", "ensemble:average", "ensemble:optimised"} <= set(kinds)
        choose(dialog, kind="ensemble:stacking")
        dialog.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.snapshot.jobs and app.snapshot.jobs[0].state == "succeeded",
                         timeout=120, what="the ensemble job to finish")
    with open_brain(seeded_brain_url) as brain:
        (job,) = brain.list_jobs()
        assert (job.kind, job.slot_key) == ("ensemble", GOOG)
        # The house's labelling config travels with the job (the blend's metrics by regime).
        assert job.params == {"members": [1, 2], "method": "stacking",
                              "regimes": app.config.regimes.model_dump(mode="json")}
        latest = brain.latest_version(GOOG)
        assert (latest.number, latest.model_kind) == (3, "ensemble")
        assert latest.manifest["spec"]["ensemble"] == {"members": [1, 2], "method": "stacking"}
        (entry,) = [e for e in brain.list_audit() if e.action == "ensemble" and e.actor == "alice"]
        assert entry.details["members"] == [1, 2] and entry.target == GOOG


async def test_an_ensemble_of_a_slot_with_one_kind_is_refused_in_one_line(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:  # EURUSD keeps one live kind
        brain.prune_version(EURUSD, 2, actor="alice", reason="test")
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen), what="the retrain dialog")
        choose(app.screen, kind="ensemble:average")
        app.screen.query_one("#retrain-queue", Button).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="the dialog closed")
        with open_brain(seeded_brain_url) as brain:
            done = await wait_until(pilot, lambda: [r for r in brain.list_requests() if r.state != "pending"],
                                    timeout=60, what="the request to be decided")
            assert done[0].state == "failed" and "an ensemble blends at least 2 kinds" in done[0].outcome
            assert brain.list_jobs() == []


async def test_the_dialog_starts_on_the_champions_kind_and_offers_only_kinds_fitting_the_target(
        seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        champion = brain.promote_version(GOOG, 2, actor="carol", reason="first", force=True)
        champion_kind = brain.get_version(GOOG, champion.version).model_kind
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await models_ready(pilot)
        await pilot.press("down", "t")
        await wait_until(pilot, lambda: isinstance(app.screen, RetrainScreen) and app.screen.champion_loaded,
                         what="the dialog with the champion's spec")
        dialog = app.screen
        kind = dialog.query_one("#retrain-kind", Select)
        assert kind.value == champion_kind == "lightgbm"  # not the first kind of the list
        offered = [value for _, value in kind._options]
        assert "lightgbm" in offered and "logistic" not in offered  # a regression target: no classifiers
        dialog.query_one("#retrain-target", Select).value = "direction"
        await wait_until(pilot, lambda: "logistic" in [v for _, v in kind._options], what="classifiers")
        offered = [value for _, value in kind._options]
        assert "lightgbm_classifier" in offered and "lightgbm" not in offered and "linear" not in offered
        assert kind.value in offered
        # The list is searched by typing: open it, type, Enter picks the match.
        kind.focus()
        await pilot.press("enter", *"xgb", "enter")
        await wait_until(pilot, lambda: kind.value == "xgboost_classifier", what="the typed kind chosen")


def test_the_agents_are_offered_where_they_can_learn_and_only_there():
    from huracan_tui.console.screens.retrain import kind_options, retrain_kinds

    kinds = retrain_kinds()
    offered = {target: [value for _, value in kind_options(kinds, target)]
               for target in ("fwd_ret", "net_edge", "direction")}
    assert {"dqn", "ppo_sizing"} <= set(offered["fwd_ret"])  # they learn from the next bar's return
    assert not {"dqn", "ppo_sizing"} & set(offered["net_edge"] + offered["direction"])
    assert "linear" in offered["net_edge"]

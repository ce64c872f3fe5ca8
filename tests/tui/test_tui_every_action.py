"""Issue 7, walked over the ACTIONS registry itself (a new action is covered the day it lands):
a viewer is refused every action that changes things, by key where a key reaches it, by the
command palette and by `:`, and each refusal lands in the audit log as 'denied'; an operator
reaches every view and every dialog; every table view filters with `/` and drills in with Enter,
and Esc walks back. One seeded brain copy per test, no training."""

from __future__ import annotations

from textual.widgets import DataTable, Input

from huracan_tui.console.actions import ACTIONS, action_name
from huracan_tui.console.prompt import PROMPT_WORDS
from huracan_tui.console.screens.audit import AuditScreen
from huracan_tui.console.screens.compare import CompareScreen
from huracan_tui.console.screens.confirm import ConfirmScreen
from huracan_tui.console.screens.data import DataQualityScreen
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.drift import DriftScreen
from huracan_tui.console.screens.drift_feature import DriftFeatureScreen
from huracan_tui.console.screens.help import HelpScreen
from huracan_tui.console.screens.importance import FeatureImportanceScreen, ImportanceScreen
from huracan_tui.console.screens.jobs import JobsScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.notifications import NotificationsScreen
from huracan_tui.console.screens.prompt import PromptScreen
from huracan_tui.console.screens.queues import QueuesScreen
from huracan_tui.console.screens.regimes import RegimesScreen
from huracan_tui.console.screens.registry import RegistryScreen
from huracan_tui.console.screens.replay import ReplayScreen
from huracan_tui.console.screens.retrain import RetrainScreen
from huracan_tui.console.screens.rollbacks import RollbacksScreen
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_audit import store_lifecycle
from tests.tui.test_tui_compare import store_comparison
from tests.tui.test_tui_data import store_reports
from tests.tui.test_tui_drift import store_drift_checks
from tests.tui.test_tui_importance import store_shifting_importance
from tests.tui.test_tui_jobs import running_job

EURUSD = "EURUSD:1h:fwd_ret_1"  # the Models view's first row: the slot in view
CHANGING = [action for action in ACTIONS if action.changes_things]
# Where each scope's screen is reached from the Models view, and the table that must be loaded.
OPENERS = {"models": (None, "models"), "detail": ("enter", None), "jobs": ("J", "all-jobs"),
           "registry": ("G", "registry-versions"), "queues": ("Q", "queue-items"),
           "compare": ("C", "challengers"), "data": ("D", "quality"), "drift": ("F", "drift-grid"),
           "importance": ("I", "importance"), "audit": ("A", "audit"), "rollbacks": ("L", "rollbacks")}
# What an operator's invocation of each view action opens.
VIEWS = {"help": HelpScreen, "command-line": PromptScreen, "data": DataQualityScreen,
         "jobs": JobsScreen, "replay": ReplayScreen, "registry": RegistryScreen, "rollbacks": RollbacksScreen,
         "audit": AuditScreen, "queues": QueuesScreen, "drift": DriftScreen, "importance": ImportanceScreen,
         "compare": CompareScreen, "notifications": NotificationsScreen, "regimes": RegimesScreen}
# An operator's changing action opens its dialog first (nothing happens until it is confirmed).
# Left out: `d` (demo) trains in a worker and `Enter` on a challenger (compare) refits models.
DIALOGS = {"cancel-job": ConfirmScreen, "registry-promote": ConfirmScreen, "compare-promote": ConfirmScreen,
           "registry-rollback": ConfirmScreen, "registry-prune": ConfirmScreen,
           "queues-approve": ConfirmScreen, "queues-reject": ConfirmScreen, "retrain": RetrainScreen,
           "retrain-detail": RetrainScreen}


def seed(url: str) -> None:
    store_lifecycle(url)
    running_job(url)
    store_reports(url)
    store_drift_checks(url, EURUSD)
    store_shifting_importance(url, EURUSD)
    store_comparison(url, EURUSD)


def denials(app) -> list[str]:
    return [entry.action for entry in app.brain.list_audit(limit=5000) if entry.outcome == "denied"]


async def back_to_models(pilot, app) -> None:
    while not isinstance(app.screen, ModelsScreen):
        app.pop_screen()
        await pilot.pause()


async def open_scope(pilot, app, scope: str) -> None:
    await back_to_models(pilot, app)
    key, table_id = OPENERS[scope]
    if key is not None:
        before = app.screen
        await pilot.press(key)
        await wait_until(pilot, lambda: app.screen is not before, what=f"the {scope} view")
    if table_id is not None:
        await wait_until(pilot, lambda: app.screen.query(f"#{table_id}")
                         and app.screen.query_one(f"#{table_id}", DataTable).row_count > 0,
                         what=f"rows in #{table_id}")
        app.screen.query_one(f"#{table_id}", DataTable).focus()
        await pilot.pause()


async def test_a_viewer_is_refused_every_changing_action_by_key_palette_and_command_line(seeded_brain_url):
    seed(seeded_brain_url)
    app = make_app(seeded_brain_url, read_only=True)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        jobs_before = len(app.brain.list_jobs(limit=1000))
        expected: list[str] = []
        for action in CHANGING:
            # By key: on the view that binds it, with a row under the cursor.
            await open_scope(pilot, app, action.scope)
            screen = app.screen
            # Not in a viewer's footer, and a press is refused aloud: a toast and an audit row.
            assert screen.check_action(action_name(action.action), ()) is False, action.id
            shown = screen.active_bindings.get(action.keys.split(",")[0])
            assert shown is None or shown.binding.action != action.action, action.id
            audited = len(expected)
            await pilot.press(action.keys.split(",")[0])
            await wait_until(pilot, lambda n=audited: len(denials(app)) == n + 1,
                             what=f"{action.id}'s key refused and audited")
            assert denials(app)[0] == action.audit_name, action.id  # as an operator's would be
            expected.append(denials(app)[0])
            newest_toast = list(app._notifications)[-1].message
            refusal = f"{action.description}: needs the operator role (you are a viewer)"
            assert newest_toast == refusal, action.id
            assert app.screen is screen, f"{action.id}: the key opened {app.screen!r}"
            # By the command palette.
            audited = len(expected)
            app.run_registered_action(action)
            await wait_until(pilot, lambda n=audited: len(denials(app)) == n + 1,  # written in a thread
                             what=f"{action.id} refused by the palette and audited")
            assert denials(app)[0] == action.audit_name, action.id
            expected.append(action.audit_name)
            assert app.screen is screen, f"{action.id}: the palette opened {app.screen!r}"
            # By `:` wherever a command maps to it.
            for name, (command_action, _, _) in PROMPT_WORDS.items():
                if command_action == action_name(action.action):
                    audited = len(expected)
                    await pilot.press("colon", *name, "enter")
                    await wait_until(pilot, lambda n=audited: len(denials(app)) == n + 1,
                                     what=f":{name} refused and audited")
                    assert denials(app)[0] == action.audit_name
                    expected.append(action.audit_name)
                    assert app.screen is screen, f":{name} opened {app.screen!r}"
        assert sorted(denials(app)) == sorted(expected)
        assert {"demo.start", "retrain", "promote", "job.cancel", "queue.approve"} <= set(expected)
        # Nothing changed: no operator request was recorded, no job started.
        assert app.brain.list_requests(limit=100) == []
        assert len(app.brain.list_jobs(limit=1000)) == jobs_before


async def test_an_operator_opens_every_view_and_every_dialog(seeded_brain_url):
    seed(seeded_brain_url)
    app = make_app(seeded_brain_url)
    views = [a for a in ACTIONS if a.scope == "app" and (a.action.startswith("show_")
                                                         or a.action in ("help", "command_line"))]
    views += [a for a in ACTIONS if a.action == "show_compare" and a.scope == "models"]
    assert {a.id for a in views} <= set(VIEWS), "a new view action needs an entry in VIEWS"
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        for action in views:
            await back_to_models(pilot, app)
            app.run_registered_action(action)  # the palette's way
            await wait_until(pilot, lambda: not isinstance(app.screen, ModelsScreen), what=action.id)
            assert isinstance(app.screen, VIEWS[action.id]), (action.id, app.screen)
            assert getattr(app.screen, "slot_key", EURUSD) == EURUSD
        # Every `:` command that opens a view opens it too.
        for name, (command_action, _, _) in PROMPT_WORDS.items():
            if command_action.startswith("show_") and name != "replay":
                await back_to_models(pilot, app)
                await pilot.press("colon", *name, "enter")
                await wait_until(pilot, lambda: not isinstance(app.screen, (ModelsScreen, PromptScreen)),
                                 what=f":{name}")
        # Every action that changes things (bar the two that start work) asks first; Esc cancels.
        for action in CHANGING:
            if action.id not in DIALOGS:
                assert action.id in ("demo", "compare-start"), f"{action.id} needs an entry in DIALOGS"
                continue
            await open_scope(pilot, app, action.scope)
            screen = app.screen
            await pilot.press(action.keys.split(",")[0])
            await wait_until(pilot, lambda dialog=DIALOGS[action.id]: isinstance(app.screen, dialog),
                             what=action.id)
            await pilot.press("escape")
            await wait_until(pilot, lambda screen=screen: app.screen is screen, what=f"{action.id} cancelled")
        assert app.brain.list_requests(limit=100) == []
        assert not [e for e in app.brain.list_audit(limit=5000) if e.outcome == "denied"]


# Per view with a `/` filter: a word that matches some rows but not all, and what Enter opens
# (a details panel, or a screen of its own).
FILTERS = {"models": ("eur", ModelDetailScreen), "jobs": ("zzz", "#details"),
           "data": ("goog", "#details"), "registry": ("auto", "#registry-details"),
           "drift": ("zzz", DriftFeatureScreen), "importance": ("zzz", FeatureImportanceScreen),
           "compare": ("mann", "#details"), "queues": ("prune", "#log-details"),
           "audit": ("rollback", "#log-details"), "rollbacks": ("auto", "#log-details")}


def rows_of(app) -> dict[str, int]:
    return {table.id: table.row_count for table in app.screen.query(DataTable)}


async def test_every_table_view_filters_with_slash_and_drills_in_with_enter(seeded_brain_url):
    seed(seeded_brain_url)
    app = make_app(seeded_brain_url, read_only=True)  # looking is for viewers too
    filtering = {a.scope for a in ACTIONS if a.action == "filter"}
    assert filtering == set(FILTERS), "every view with a table filters, and is tested here"
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        for scope, (word, opens) in FILTERS.items():
            await open_scope(pilot, app, scope)
            screen = app.screen
            table_id = OPENERS[scope][1]
            everything = rows_of(app)
            await pilot.press("slash", *word)
            box = screen.query_one("#filter", Input)
            assert box.display and box.has_focus, scope
            await wait_until(pilot, lambda everything=everything: rows_of(app) != everything,
                             what=f"{scope} filtered by {word!r}")
            narrowed = rows_of(app)
            assert all(narrowed[key] <= everything[key] for key in everything), (scope, narrowed)
            if word == "zzz":  # nothing matches but the dataset row of the drift grid
                assert narrowed[table_id] <= 1, (scope, narrowed)
            await pilot.press("escape")  # clears the filter, back on the table
            await wait_until(pilot, lambda everything=everything: rows_of(app) == everything,
                             what=f"{scope} unfiltered")
            assert not box.display and screen.query_one(f"#{table_id}", DataTable).has_focus
            # Enter drills in: the first data row (the drift grid's first is the dataset row).
            if scope == "drift":
                await pilot.press("down")
            if scope == "compare":  # Enter on a challenger compares; on a result row, its details
                screen.query_one("#results", DataTable).focus()
            await pilot.press("enter")
            if isinstance(opens, str):
                await wait_until(pilot, lambda screen=screen, opens=opens: screen.query_one(opens).display,
                                 what=f"{scope} details")
                assert str(screen.query_one(opens).render()).strip(), scope
                await pilot.press("escape")  # Esc closes the details first ...
                assert app.screen is screen and not screen.query_one(opens).display, scope
            else:
                await wait_until(pilot, lambda opens=opens: isinstance(app.screen, opens),
                                 what=f"{scope} drill-down")
                await pilot.press("escape")
                await wait_until(pilot, lambda screen=screen: app.screen is screen, what=f"back to {scope}")
            if scope != "models":
                await pilot.press("escape")  # ... then leaves the view
                await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what=f"{scope} left")

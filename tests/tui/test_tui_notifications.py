"""Issue 14: every toast is kept in a Notifications view (N, the palette, `:notifications`), newest
first with its time; no toast is drawn over the `:` prompt while it is typed in (it waits, logged
at once); every view's status bar ticks with each poll; the header names the brain's file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from textual.widgets import DataTable
from textual.widgets._toast import Toast

from brain import open_brain
from huracan_tui.console.app import HuracanApp, brain_label
from huracan_tui.console.screens.detail import ModelDetailScreen
from huracan_tui.console.screens.drift import DriftScreen
from huracan_tui.console.screens.models import ModelsScreen
from huracan_tui.console.screens.notifications import NotificationsScreen
from huracan_tui.console.screens.prompt import PromptScreen
from huracan_tui.console.status_line import StatusPart, fit_status, shorten_left
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.config import HuracanConfig
from tests.grants import grant_quietly
from tests.tui.helpers import FROZEN_NOW, make_app, wait_until
from tests.tui.test_console_keys import first_palette_hit
from tests.tui.test_tui_events import count_polls
from tests.tui.test_tui_jobs import running_job

GOOG = "GOOG:1d:fwd_ret_1"


def finished_text(job_id: int) -> str:
    return f"Job {job_id} (train {GOOG}) finished: stored 1 version"


def finish(url: str, job_id: int) -> None:
    with open_brain(url) as brain:
        brain.finish_job(job_id, {"versions": [3]})


def toasted(app, text: str) -> bool:
    return any(note.message == text for note in app._notifications)


def toasts_on_screen(app) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query(Toast)]


def log_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#notifications", DataTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def bar_text(screen) -> str:
    return str(screen.query_one(StatusBar).render())


# ---- A: the Notifications view --------------------------------------------------------------------

async def test_a_finished_job_is_in_the_notifications_view_with_its_time(seeded_brain_url):
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        finish(seeded_brain_url, job_id)
        await wait_until(pilot, lambda: toasted(app, finished_text(job_id)), what="the job's toast")
        await pilot.press("N")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen), what="the view")
        newest = log_rows(app)[0]
        assert newest[1:] == [f"{FROZEN_NOW:%H:%M:%S}", "information", "Job finished", finished_text(job_id)]
        # A toast raised while the view is open is at its top at once, newest first.
        app.notify("disk nearly full", title="Export", severity="warning")
        await wait_until(pilot, lambda: log_rows(app)[0][3:] == ["Export", "disk nearly full"],
                         what="the new toast on top")
        assert log_rows(app)[1][4] == finished_text(job_id)
        await pilot.press("enter")  # the whole message, with the date
        details = str(app.screen.query_one("#log-details").render())
        assert f"{FROZEN_NOW:%Y-%m-%d %H:%M:%S} UTC" in details and "disk nearly full" in details
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back on Models")


async def test_the_notifications_view_opens_from_the_palette_and_the_command_line(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        app.notify("hello from a test", title="Test")
        await pilot.press("ctrl+p", *"notifications: every toast")
        await wait_until(pilot, lambda: "Notifications" in first_palette_hit(app), what="the palette hit")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen), what="the view")
        await wait_until(pilot, lambda: any("hello from a test" in row for row in log_rows(app)),
                         what="the toast in the view")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="back on Models")
        await pilot.press("colon", *"notifications", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen), what=":notifications")
        assert any("hello from a test" in row for row in log_rows(app))


async def test_the_log_keeps_the_newest_500():
    from huracan_tui.console.notification_log import NotificationLog

    log = NotificationLog()
    for number in range(1, 503):
        log.add(FROZEN_NOW, "information", "", f"toast {number}")
    assert len(log) == 500 and [toast.message for toast in log][0] == "toast 3"
    assert [toast.id for toast in log][-1] == 502


# ---- B: nothing drawn over the `:` prompt while it is typed in --------------------------------------

async def test_a_toast_waits_while_the_prompt_is_typed_in(seeded_brain_url):
    job_id = running_job(seeded_brain_url)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # toasts drawn, as for real
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("colon", *"slot GO")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen) and app.focused is not None
                         and app.focused.id == "command-input", what="the prompt, focused")
        polls = count_polls(app)
        finish(seeded_brain_url, job_id)
        await wait_until(pilot, lambda: any(toast.message == finished_text(job_id)
                                            for toast in app.notification_log), what="the toast logged")
        await wait_until(pilot, lambda: len(polls) >= 2, what="another poll")
        assert not toasted(app, finished_text(job_id))
        assert not any("finished" in text for text in toasts_on_screen(app))
        assert app.screen.query_one("#command-input").value == "slot GO"
        await pilot.press("escape")
        await wait_until(pilot, lambda: toasted(app, finished_text(job_id)), what="the toast, now shown")
        await wait_until(pilot, lambda: any("finished" in text for text in toasts_on_screen(app)),
                         what="the toast on the screen")
        assert isinstance(app.screen, ModelsScreen)
        assert [toast.message for toast in app.notification_log].count(finished_text(job_id)) == 1


async def test_a_toast_raised_outside_a_dialog_shows_at_once(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        app.notify("right away", title="Test")
        await wait_until(pilot, lambda: any("right away" in text for text in toasts_on_screen(app)),
                         what="the toast on the screen")


# ---- C: one status bar that ticks in every view ----------------------------------------------------

class SteppingClock:
    """A second later at every call: each poll's snapshot has a time of its own."""

    def __init__(self) -> None:
        self.now = FROZEN_NOW

    def __call__(self):
        self.now += timedelta(seconds=1)
        return self.now


async def test_every_view_in_the_stack_shows_each_polls_time(seeded_brain_url):
    config = HuracanConfig.model_validate({"console": {"refresh_seconds": 0.2}})
    brain = open_brain(seeded_brain_url)
    grant_quietly(brain, "alice")
    app = HuracanApp(brain, seeded_brain_url, config, clock=SteppingClock(), identity=("alice", None))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelDetailScreen), what="the detail view")
        detail = app.screen
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, DriftScreen), what="the drift view")
        drift = app.screen
        await pilot.pause()
        shown = {screen: bar_text(screen) for screen in (drift, detail)}
        polls = count_polls(app)
        await wait_until(pilot, lambda: len(polls) >= 2, what="two polls")
        refreshed = f"refreshed {app.snapshot.taken_at:%H:%M:%S} UTC"
        for screen in (drift, detail):  # the view on top and the one under it
            assert bar_text(screen) != shown[screen] and refreshed in bar_text(screen), screen


# ---- D: the header names the brain's file, and fits ------------------------------------------------

def test_brain_label_names_the_file_or_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert brain_label(f"sqlite:///{tmp_path}/data/brain.db") == "sqlite:~/data/brain.db"
    assert brain_label(f"sqlite:///file:{tmp_path}/b.db?mode=ro&uri=true") == "sqlite:~/b.db"
    assert brain_label("sqlite:////srv/huracan/brain.db") == "sqlite:/srv/huracan/brain.db"
    monkeypatch.chdir(tmp_path)
    assert brain_label("sqlite:///brain.db") == "sqlite:~/brain.db"  # relative: made absolute
    assert brain_label("sqlite://") == "sqlite::memory:"
    label = brain_label("postgresql+psycopg://bob:s3cret@db.example:5432/huracan")
    assert label == "postgresql:db.example/huracan" and "s3cret" not in label and "bob" not in label


def test_a_line_too_wide_gives_way_least_important_first():
    parts = [StatusPart("brain sqlite:/very/long/path/to/the/brain.db", drop=1, shrink=8, keep=13),
             StatusPart("no leader", drop=3), StatusPart("alice OPERATOR", drop=7, short="OPERATOR"),
             StatusPart("2 slots", drop=6), StatusPart("idle", drop=2),
             StatusPart("refreshed 12:00:00 UTC (every 2s)", drop=9, short="refreshed 12:00:00 UTC")]
    full = fit_status(parts, 200)
    assert full.endswith("(every 2s)") and "  ·  " in full
    closer = full.replace("  ·  ", " · ")
    assert fit_status(parts, len(full) - 1) == closer  # the parts closer together first
    assert "(every" not in fit_status(parts, len(closer) - 1)  # then the interval goes
    # Then the path from its left, the user (not the role), the slots, the leader; the path keeps
    # the room the drops leave it, and its tail before the brain goes at all.
    assert fit_status(parts, 100) == ("brain sqlite:…to/the/brain.db · no leader · alice OPERATOR · "
                                      "2 slots · idle · refreshed 12:00:00 UTC")
    assert fit_status(parts, 78) == ("brain sqlite:…/path/to/the/brain.db · OPERATOR · idle · "
                                     "refreshed 12:00:00 UTC")
    assert fit_status(parts, 60) == "brain sqlite:…e/brain.db · OPERATOR · refreshed 12:00:00 UTC"
    assert shorten_left("abcdef", 4) == "…def"


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_status_bar_shows_the_brains_path_and_fits(seeded_brain_url, tmp_path, monkeypatch, size):
    monkeypatch.setenv("HOME", str(tmp_path))
    app = make_app(seeded_brain_url)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.pause()
        line = bar_text(app.screen)
        assert line.startswith("brain sqlite:~/brain.db") and len(line) <= size[0] - 2, line
        assert line.endswith("refreshed 12:00:00 UTC" + ("" if size[0] < 100 else " (every 0.2s)")), line
        assert "OPERATOR" in line and "idle" in line


async def test_a_long_path_is_shortened_from_the_left_and_refitted_on_resize(
        seeded_brain_url, tmp_path, monkeypatch):
    deep = tmp_path / "a-rather-long-folder-name" / "and-another-one-below-it" / "huracan-brains"
    deep.mkdir(parents=True)
    path = deep / "production-brain.db"
    Path(path).write_bytes(Path(seeded_brain_url.removeprefix("sqlite:///")).read_bytes())
    monkeypatch.setenv("HOME", "/nonexistent")
    app = make_app(f"sqlite:///{path}")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
        await pilot.pause()
        wide = bar_text(app.screen)
        assert len(wide) <= 118 and wide.startswith("brain sqlite:…") and "production-brain.db" in wide
        assert "alice OPERATOR" in wide
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: bar_text(app.screen) != wide, what="the line refitted")
        narrow = bar_text(app.screen)
        assert len(narrow) <= 78 and narrow.endswith("refreshed 12:00:00 UTC"), narrow
        assert "-brain.db" in narrow and "OPERATOR" in narrow

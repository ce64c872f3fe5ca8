"""Issue 18, item 3, in the console: an alert that no sink got after its last retry is a toast (so
the Notifications view lists it) and a count in every view's status line, read by the poll."""

from __future__ import annotations

from brain import open_brain
from huracan_tui.console.screens.notifications import NotificationsScreen
from scheduler.services.alerts import run_alerts
from tests.scheduler.test_alerts import Hook, alerts_config, failed_job
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_notifications import bar_text, log_rows
from tests.waiting import wait_until as wait_outside


async def test_an_undeliverable_alert_is_a_toast_a_row_and_a_count_in_the_status_line(empty_brain_url):
    hook = Hook(fail_first=None)  # answers 500 to everything
    config = alerts_config({"webhook": hook.url, "name": "ops"}, retries=1)
    with open_brain(empty_brain_url) as brain:
        brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)  # a brain with a slot: no demo offer
    app = make_app(empty_brain_url)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: app.snapshot is not None, what="the first poll")
            assert "UNDELIVERABLE" not in bar_text(app.screen)
            with open_brain(empty_brain_url) as brain:  # the leader's side, as its schedule entry runs
                job_id = failed_job(brain)
                wait_outside(lambda: (run_alerts(brain, config), brain.alerts_summary().undeliverable)[1],
                             timeout=20, what="the alert undeliverable")
            title = "Alert undeliverable"
            await wait_until(pilot, lambda: any(n.title == title for n in app._notifications),
                             what="the toast")
            (note,) = [n for n in app._notifications if n.title == title]
            assert note.severity == "error"
            assert note.message.startswith(f"#1 job_failed: job {job_id} (train GOOG:1d:fwd_ret_1) failed")
            assert note.message.endswith("(ops: 127.0.0.1 answered HTTP 500 Internal Server Error)")
            await wait_until(pilot, lambda: "1 alert UNDELIVERABLE" in bar_text(app.screen),
                             what="the count in the status line")
            await pilot.press("N")
            await wait_until(pilot, lambda: isinstance(app.screen, NotificationsScreen), what="the view")
            assert log_rows(app)[0][2:4] == ["error", title]
            assert "1 alert UNDELIVERABLE" in bar_text(app.screen)  # every view's status line
    finally:
        hook.close()
    assert len(hook.requests) == 2  # the first attempt and its one retry

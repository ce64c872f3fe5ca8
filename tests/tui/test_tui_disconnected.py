"""The console when the brain goes away: a banner under the status bar says since when and how
often it retries, polls back off, and the banner goes on the first good poll. And the status
bar names the leader."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import make_url

from brain import open_brain
from huracan_tui.console.widgets.disconnected import DisconnectedBanner, retry_seconds
from huracan_tui.console.widgets.status_bar import StatusBar
from scheduler.daemon.lease import LeaderLease
from tests.brain.conftest import POSTGRES_URL, _admin_connection, require_postgres
from tests.tui.helpers import make_app, wait_until


def status(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


def banners(app) -> list[DisconnectedBanner]:
    return list(app.screen.query(DisconnectedBanner))


def test_backoff_doubles_up_to_a_ceiling():
    assert [retry_seconds(2.0, failures) for failures in (1, 2, 3, 4, 10)] == [2, 4, 8, 16, 30]


async def test_the_status_bar_names_the_leader(any_brain_url):
    app = make_app(any_brain_url, read_only=True)  # no demo offer over the view
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: "no leader" in status(app), what="no leader shown")
        lease = LeaderLease(open_brain(any_brain_url))
        assert lease.try_acquire()
        label = lease.holder().label
        await wait_until(pilot, lambda: f"leader: {label}" in status(app), what="the leader shown")
        lease.release()
        await wait_until(pilot, lambda: "no leader" in status(app), what="the leader gone")
        lease.brain.close()


@pytest.fixture
def postgres_database_url():
    """A database of its own, so the test can drop it under the console and make it again."""
    require_postgres()
    name = f"huracan_gone_{uuid.uuid4().hex[:10]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False), name
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
async def test_a_dropped_postgres_brain_shows_the_banner_until_it_is_back(postgres_database_url):
    url, name = postgres_database_url
    open_brain(url).close()  # migrated
    app = make_app(url, read_only=True)  # no demo offer over the view
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: "refreshed" in status(app), what="a first good poll")
        assert banners(app) == []
        with _admin_connection() as admin:  # the server ends the console's sessions too
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await wait_until(pilot, lambda: banners(app), what="the banner")
        text = str(banners(app)[0].render())
        assert "Brain unreachable since 12:00:00 UTC — retrying every" in text
        assert "cannot reach the brain" in text and name in text
        # Polls go on, further apart each time.
        await wait_until(pilot, lambda: "retrying every 0.8s" in str(banners(app)[0].render()),
                         what="the retry interval to back off")
        assert app.is_running
        with _admin_connection() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        open_brain(url).close()
        await wait_until(pilot, lambda: not banners(app), timeout=30, what="the banner to go")
        assert app.unreachable_since is None
        await wait_until(pilot, lambda: "no leader" in status(app), what="polls as before")


async def test_a_vanished_sqlite_folder_shows_the_banner_until_it_is_back(tmp_path):
    folder = tmp_path / "brains"
    url = f"sqlite:///{folder / 'brain.db'}"
    open_brain(url).close()
    app = make_app(url, read_only=True)  # no demo offer over the view
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: "refreshed" in status(app), what="a first good poll")
        folder.rename(tmp_path / "elsewhere")
        # An open SQLite connection keeps reading the moved file; a console's connection is
        # recycled sooner or later (pool timeout, error), and a fresh one finds no folder.
        app.brain._engine.dispose()
        await wait_until(pilot, lambda: banners(app), what="the banner")
        assert "Brain unreachable since 12:00:00 UTC" in str(banners(app)[0].render())
        (tmp_path / "elsewhere").rename(folder)
        await wait_until(pilot, lambda: not banners(app), timeout=30, what="the banner to go")

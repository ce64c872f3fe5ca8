"""`huracan roles` and the role every writing command checks, as a user runs them: real processes
on real brains. The brain says who may act; no config (or its absence) makes anyone an operator."""

from __future__ import annotations

import json

from brain import open_brain
from brain.identity import current_actor
from engine.datasets import bundled_path
from tests.brain.test_brain_roles import read_only_copy  # noqa: F401  (a fixture, shared)
from tests.cli.test_cli import run

SLOT = "GOOG:1d:fwd_ret_1"
OWNER = current_actor()[0]  # the test process makes the brains: it owns them
MALLORY = {"USER": "mallory", "LOGNAME": "mallory"}
ALICE = {"USER": "alice", "LOGNAME": "alice"}


def test_the_owner_grants_lists_and_revokes(any_brain_url):
    url = any_brain_url
    granted = run("roles", "grant", "alice", "operator", "--brain", url, "--json")
    assert granted.returncode == 0, granted.stderr
    assert json.loads(granted.stdout)["role"] == "operator"
    listed = json.loads(run("roles", "list", "--brain", url, "--json").stdout)
    assert listed["owner"] == OWNER and listed["default"] == "viewer"
    assert [(r["user"], r["role"], r["granted_by"]) for r in listed["roles"]] == [
        (OWNER, "owner", OWNER), ("alice", "operator", OWNER)]
    assert "anyone else is a viewer" in run("roles", "--brain", url).stdout

    for argv, code, message in [
        (("roles", "grant", "bob", "boss"), 2, "unknown role 'boss'"),
        (("roles", "grant", "bob", "operator", "--login", "bob"), 2 if "sqlite" in url else 1,
         "--login is for a PostgreSQL brain" if "sqlite" in url else "no database roles yet"),
    ]:
        bad = run(*argv, "--brain", url)
        assert bad.returncode == code and message in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    refused = run("roles", "grant", "bob", "operator", "--brain", url, env=ALICE)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "alice is not the owner of this brain" in refused.stderr

    revoked = run("roles", "revoke", "alice", "--brain", url)
    assert revoked.returncode == 0 and revoked.stdout.strip() == "alice is a viewer"
    with open_brain(url) as brain:
        assert brain.role_of("alice") == "viewer" and brain.role_of("bob") == "viewer"
        actions = [(e.action, e.actor, e.outcome.split(":")[0]) for e in reversed(brain.list_audit())]
    assert actions == [("roles.grant", OWNER, "ok"), ("roles.grant", "alice", "refused"),
                       ("roles.revoke", OWNER, "ok")]


def test_roles_setup_is_postgresqls(empty_brain_url):
    done = run("roles", "setup", "--brain", empty_brain_url)
    assert done.returncode == 2 and "roles setup is for a PostgreSQL brain" in done.stderr


def test_a_viewer_cannot_write_by_any_command_and_each_refusal_is_audited(seeded_brain_url, tmp_path):
    """Without --config, today's code made mallory an operator: train, ab, data --store and
    import-alt all wrote to the brain."""
    url = seeded_brain_url
    funding = tmp_path / "btcusdt_funding.csv"
    funding.write_text("ts,rate\n2024-01-01 00:00,0.0001\n")
    goog = str(bundled_path("GOOG"))
    commands = {
        "train": ("train", "--data", goog, "--symbol", "GOOG"),
        "ab": ("ab", SLOT, "--challenger", "2", "--n-boot", "50"),
        "data validate --store": ("data", "validate", "--data", goog, "--store"),
        "data import-alt": ("data", "import-alt", "funding_rate", str(funding)),
        "auto-tune": ("auto-tune", "--data", goog, "--symbol", "GOOG", "--trials", "1"),
        "promote": ("promote", SLOT, "1", "--reason", "mine now"),
    }
    with open_brain(url) as brain:
        versions_before = len(brain.list_versions(SLOT))
    for what, argv in commands.items():
        refused = run(*argv, "--brain", url, env=MALLORY)
        assert refused.returncode == 1, (what, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert f"mallory is a viewer: {what} not allowed" in refused.stderr
    with open_brain(url) as brain:
        assert len(brain.list_versions(SLOT)) == versions_before and brain.champion(SLOT) is None
        assert brain.list_comparisons(SLOT) == []
        assert brain.load_alt_data("funding_rate", "BTCUSDT").is_empty()
        denied = [e for e in brain.list_audit() if e.actor == "mallory"]
    assert sorted(e.action for e in denied) == sorted(commands)
    assert all(e.outcome.startswith("refused: mallory is a viewer") for e in denied)


def test_a_granted_operator_acts_without_any_config(seeded_brain_url):
    url = seeded_brain_url
    assert run("roles", "grant", "alice", "operator", "--brain", url).returncode == 0
    done = run("promote", SLOT, "1", "--reason", "first", "--brain", url, "--json", env=ALICE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["actor"] == "alice"


def test_a_config_cannot_raise_a_viewer(seeded_brain_url, tmp_path):
    from tests.conftest import write_config

    config = write_config(tmp_path / "roles.yaml",
                          roles={"default": "operator", "users": {"mallory": "operator"}})
    refused = run("promote", SLOT, "1", "--reason", "x", "--brain", seeded_brain_url,
                  "--config", str(config), env=MALLORY)
    assert refused.returncode == 1 and "mallory is a viewer" in refused.stderr


def test_a_brain_file_the_user_can_only_read_is_viewed_and_never_written(read_only_copy):  # noqa: F811
    url = f"sqlite:///{read_only_copy}"
    status = run("status", "--json", "--brain", url)
    assert status.returncode == 0, status.stderr
    assert {row["slot"] for row in json.loads(status.stdout)["slots"]} == {SLOT, "EURUSD:1h:fwd_ret_1"}
    assert run("audit", "--brain", url).returncode == 0
    refused = run("promote", SLOT, "1", "--reason", "x", "--brain", url)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert f"{OWNER} is a viewer: promote not allowed" in refused.stderr
    train = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG", "--brain", url)
    assert train.returncode == 1 and "viewer: train not allowed" in train.stderr


async def test_the_console_views_a_read_only_brain(read_only_copy):  # noqa: F811
    from textual.widgets import DataTable

    from tests.tui.helpers import make_app, wait_until

    app = make_app(f"sqlite:///{read_only_copy}", identity=(OWNER, None))
    assert app.brain.read_only and app.role == "viewer"
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#models", DataTable)
        await wait_until(pilot, lambda: table.row_count == 2, what="two slot rows")
        assert f"{OWNER} READ-ONLY" in app.status_line(app.snapshot)
        await pilot.press("r")  # a refresh: another read in the same read-only opening
        await wait_until(pilot, lambda: table.row_count == 2, what="still two rows")
    app.brain.close()

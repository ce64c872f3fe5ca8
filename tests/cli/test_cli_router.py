"""`huracan ensemble --method regime_router` as a user runs it: a real process on a seeded brain
(GOOG:1d with two versions) stores a regime router and prints its routes; `huracan ab` compares
it, `huracan promote` / `huracan rollback` move the champion to it and back, `huracan show` shows
it; bad input is refused in one line and nothing is written."""

from __future__ import annotations

import json

import pytest

from brain import open_brain
from tests.cli.test_cli import run

SLOT = "GOOG:1d:fwd_ret_1"


def test_a_router_is_stored_compared_promoted_and_rolled_back_from_the_cli(seeded_brain_url):
    url = seeded_brain_url
    done = run("ensemble", SLOT, "--members", "1,2", "--method", "regime_router", "--axis", "trend",
               "--min-rows", "10", "--brain", url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{SLOT} v3 regime_router (trend: ") and "fallback → v" in done.stdout
    with open_brain(url) as brain:
        stored = brain.get_version(SLOT, 3)
        assert stored.model_kind == "regime_router" and stored.artifact_sha256[:12] in done.stdout
        router = stored.manifest["spec"]["router"]
        assert (router["members"], router["axis"], router["method"], router["min_rows"]) == (
            [1, 2], "trend", "select", 10)
        assert set(stored.manifest["params"]["routes"]) <= {"trending_up", "trending_down", "ranging"}

    compared = run("ab", SLOT, "--champion", "1", "--challenger", "3", "--n-boot", "50", "--brain", url,
                   "--json")
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["challengers"] == [3]
    promoted = run("promote", SLOT, "3", "--reason", "switch by trend", "--force", "--brain", url)
    assert promoted.returncode == 0, promoted.stderr
    with open_brain(url) as brain:
        assert brain.champion(SLOT).number == 3
    back = run("rollback", SLOT, "--to", "1", "--reason", "the linear model again", "--brain", url)
    assert back.returncode == 0, back.stderr
    with open_brain(url) as brain:
        assert brain.champion(SLOT).number == 1
    shown = run("show", SLOT, "--number", "3", "--brain", url)
    assert shown.returncode == 0, shown.stderr
    assert "regime_router on trend: " in shown.stdout and "otherwise v" in shown.stdout
    assert "each member's own" in shown.stdout


@pytest.mark.parametrize(("options", "words"), [
    (["--members", "1,2", "--axis", "trend"], "--axis and --min-rows are for --method regime_router"),
    (["--members", "1", "--method", "regime_router"], "members: a router needs at least 2 versions, got 1"),
    (["--members", "1,2", "--method", "regime_router", "--axis", "hmm"],
     "axis hmm: the labelling config has no hmm_states"),
])
def test_bad_router_input_is_one_line_and_writes_nothing(seeded_brain_url, options, words):
    done = run("ensemble", SLOT, *options, "--brain", seeded_brain_url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and words in done.stderr
    with open_brain(seeded_brain_url) as brain:
        assert len(brain.list_versions(SLOT)) == 2

"""A full operator round trip in a real terminal, and the same session as a viewer.

The console starts its own leader beside it (no --no-leader), so every action travels as a row
of the `operator_requests` table to the leader, which checks and carries it out — the compare job runs in
a worker process the leader dispatches."""

from __future__ import annotations

import pytest

from brain import open_brain
from tests.tui.test_tmux import BIN, Terminal

pytestmark = pytest.mark.tmux
GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def test_operator_filters_opens_compares_promotes_and_rolls_back(seeded_brain_url, terminal_env, tmp_path):
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url], terminal_env,
                    tmp_path / "exit-status")
    try:
        term.wait_for(GOOG)
        term.wait_for("leader: ")  # the console's own leader has taken the lead
        term.keys("/")
        term.wait_for("filter rows")  # the filter box has the focus
        term.keys("GOOG", "Enter")
        assert EURUSD not in term.wait_gone(EURUSD)
        term.keys("Enter")
        term.wait_for("walk-forward folds")

        term.keys("C")  # A/B: v2 against v1 (no champion yet: the first version defends)
        term.wait_for(f"A/B: {GOOG}")
        term.wait_for(" v2  lightgbm")  # the challengers are listed
        term.keys("Enter")
        screen = term.wait_for("Overall: ", timeout=240)
        assert "v2" in screen
        term.keys("Escape")
        term.wait_gone(f"A/B: {GOOG}")

        term.keys("G")  # the registry of the slot in view
        term.wait_for("Registry")
        term.wait_for(" v1  linear")
        term.keys("Down", "P")  # versions are newest first: v1, the slot's first champion
        term.wait_for("becomes the first")
        term.keys("first champion of the slot", "Enter")
        term.wait_for("champion v1")

        term.keys("Up", "P")
        screen = term.wait_for("reason (required")
        if "does NOT pass" in screen or "No A/B" in screen:
            term.keys("C-f")  # tick "Force it", explicitly
            term.wait_for("Force: YES")
        term.keys("v2 wins on the comparison", "Enter")
        term.wait_for("champion v2")

        term.keys("R")
        term.wait_for("version to put back")
        term.keys("live numbers disappoint", "Enter")  # the reason, first; no version: the previous
        term.wait_for("champion v1")
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()

    with open_brain(seeded_brain_url) as brain:
        history = brain.promotion_history(GOOG)
        assert [(p.kind, p.version) for p in history] == [("rollback", 1), ("promote", 2), ("promote", 1)]
        assert history[0].reason == "live numbers disappoint"
        assert brain.champion(GOOG).number == 1
        assert len(brain.list_comparisons(GOOG, challenger_version=2)) >= 4
        handled = [c for c in brain.list_requests() if c.action in ("compare", "promote", "rollback")]
        assert len(handled) == 4 and all(c.state == "done" for c in handled)
        assert all(c.handled_by.startswith("leader ") for c in handled)  # the leader carried them out
        actions = [e.action for e in brain.list_audit(limit=50)]
        for action in ("compare.start", "promote", "rollback"):
            assert action in actions


def test_the_same_session_as_a_viewer_looks_but_cannot_act(seeded_brain_url, terminal_env, tmp_path):
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 1, actor="alice", reason="first")
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url, "--read-only"], terminal_env,
                    tmp_path / "exit-status")
    try:
        term.wait_for("READ-ONLY")
        term.wait_for(GOOG)
        term.keys("/")
        term.wait_for("filter rows")  # the filter box has the focus
        term.keys("GOOG", "Enter")
        term.wait_gone(EURUSD)
        term.keys("Enter")
        term.wait_for("walk-forward folds")
        term.keys("C")
        term.wait_for(f"A/B: {GOOG}")
        term.wait_for(" v2  lightgbm")
        term.keys("Enter")  # starting a comparison is for operators
        term.wait_for("Compare the selected")
        term.keys("Escape")
        term.wait_gone(f"A/B: {GOOG}")
        term.keys("G")
        term.wait_for(" v1  linear")
        term.keys("P")
        term.wait_for("Promote the selected version")  # refused, in the action's words
        term.keys("R")
        term.wait_for("Roll back to the previous")
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
    with open_brain(seeded_brain_url) as brain:
        assert brain.champion(GOOG).number == 1 and len(brain.promotion_history(GOOG)) == 1
        assert brain.list_requests() == [] and brain.list_jobs() == []
        denied = {e.action for e in brain.list_audit() if e.outcome == "denied"}
        assert {"promote", "rollback"} <= denied and any("compare" in action for action in denied)

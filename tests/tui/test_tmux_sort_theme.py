"""In a real terminal (tmux): the order shown holds across refreshes while the numbers it sorts by
change underneath, and a theme chosen is there again after a restart."""

from __future__ import annotations

import re
import time

from brain import open_brain
from tests.conftest import write_config
from tests.tui.test_tmux import BIN, Terminal, pytestmark  # noqa: F401  (tmux marks, shared)

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"


def live_sharpe(brain, values: dict[str, float]) -> None:
    for slot, sharpe in values.items():
        brain.record_metrics(brain.champion(slot).id, [
            {"name": "live_sharpe", "value": sharpe, "scope": "live"},
            {"name": "live_n", "value": 50.0, "scope": "live"}])


def slot_order(screen: str) -> list[str]:
    return [slot for line in screen.splitlines() for slot in (GOOG, EURUSD) if line.lstrip().startswith(slot)]


def refreshed(screen: str) -> str | None:
    found = re.search(r"refreshed (\d\d:\d\d:\d\d)", screen)
    return found.group(1) if found else None


def after_refreshes(term: Terminal, count: int, timeout: float = 60.0) -> str:
    """The screen once the status bar's refresh time has moved on `count` times."""
    seen = refreshed(term.screen())
    deadline = time.monotonic() + timeout
    while count:
        assert time.monotonic() < deadline, "the console stopped refreshing"
        now = refreshed(screen := term.screen())
        if now and now != seen:
            seen, count = now, count - 1
        time.sleep(0.05)
    return screen


def test_the_sort_shown_holds_across_refreshes_as_numbers_change(seeded_brain_url, terminal_env, tmp_path):
    with open_brain(seeded_brain_url) as brain:
        for slot in (GOOG, EURUSD):
            brain.promote_version(slot, 1, actor="alice", reason="first")
        live_sharpe(brain, {GOOG: 1.5, EURUSD: -0.5})
    config = write_config(tmp_path / "huracan.yaml", console={"refresh_seconds": 1})
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url, "--config", str(config),
                     "--no-leader"], terminal_env, tmp_path / "exit-status")
    try:
        term.wait_for(GOOG)
        while "sorted by Live Sharpe ↑" not in term.screen():
            term.keys("s")
            time.sleep(0.2)
        term.keys("S")
        screen = term.wait_for("sorted by Live Sharpe ↓")
        assert slot_order(screen) == [GOOG, EURUSD]
        with open_brain(seeded_brain_url) as brain:
            for flip, (goog, eurusd) in enumerate([(-2.0, 0.7), (3.0, 0.1), (-1.0, 2.5)]):
                live_sharpe(brain, {GOOG: goog, EURUSD: eurusd})
                expected = [GOOG, EURUSD] if goog > eurusd else [EURUSD, GOOG]
                shown = f"{goog:+.2f}"
                deadline = time.monotonic() + 30
                while shown not in (screen := term.screen()):
                    assert time.monotonic() < deadline, f"flip {flip}: {shown} never shown:\n{screen}"
                    time.sleep(0.05)
                assert slot_order(screen) == expected, screen
                assert slot_order(after_refreshes(term, 2)) == expected  # and it holds
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()


def command(term: Terminal, text: str) -> None:
    """Type `text` at the `:` prompt once it is open (keys typed before would land in the view)."""
    term.keys(":")
    term.wait_for("slot GOOG · models · theme")  # the prompt's placeholder
    term.keys(text)
    term.keys("Enter")
    term.wait_gone("slot GOOG · models · theme")


def test_a_theme_chosen_is_there_after_a_restart(seeded_brain_url, terminal_env, tmp_path):
    def console(name: str) -> Terminal:
        return Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url, "--no-leader"], terminal_env,
                        tmp_path / f"{name}.exit")

    first = console("first")
    try:
        first.wait_for(GOOG)
        command(first, "theme huracan-light")
        command(first, "theme")
        first.wait_for("now huracan-light")
        first.keys("q")
        assert first.wait_exit() == 0
    finally:
        first.close()
    second = console("second")
    try:
        second.wait_for(GOOG)
        command(second, "theme")
        second.wait_for("now huracan-light")  # remembered for this user, not the default
        second.keys("q")
        assert second.wait_exit() == 0
    finally:
        second.close()

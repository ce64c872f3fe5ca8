"""Every view in a real 80×24 terminal (tmux): it opens, its header keeps the refresh time, its
key column (the slot) is in view, and its key bar shows Help and Quit; Esc comes back."""

from __future__ import annotations

import time

from tests.tui.test_tmux import BIN, Terminal, pytestmark  # noqa: F401  (tmux marks, shared)

GOOG = "GOOG:1d:fwd_ret_1"
EURUSD = "EURUSD:1h:fwd_ret_1"
# key -> what the view shows once open (the slot in view is EURUSD, the first row).
VIEWS = {
    "Enter": f"Slot {EURUSD}: versions",
    "D": "Data quality",
    "J": "Jobs",
    "H": "Replay",
    "G": f"Registry: {EURUSD}",
    "L": "Rollback log",
    "A": "Audit log",
    "Q": "Queues: retrain and prune",
    "F": f"Drift: {EURUSD}",
    "I": f"Importance: {EURUSD}",
    "C": f"A/B: {EURUSD}",
    "N": "Notifications",
}

# The views whose tables (on this brain) are wider than 80 columns: they fit them and say so.
NARROW = ("A", "I")


def fits(screen: str) -> bool:
    """The header keeps its clock, no line passes the edge, and the key bar (the last line drawn)
    is not cut before Help and Quit."""
    lines = screen.splitlines()
    drawn = [line for line in lines if line.strip()]
    return (bool(drawn) and "refreshed" in lines[0] and "UTC" in lines[0]
            and all(len(line) <= 80 for line in lines) and "Help" in drawn[-1] and "Quit" in drawn[-1])


def settled(term: Terminal, shows: str, timeout: float = 30.0) -> str:
    """The screen once the view showing `shows` is drawn whole (its key bar painted too)."""
    deadline = time.monotonic() + timeout
    while not (shows in (screen := term.screen()) and fits(screen)):
        assert time.monotonic() < deadline, f"{shows!r} never fit 80x24; the screen was:\n{screen}"
        time.sleep(0.1)
    return screen


def test_every_view_is_usable_at_80x24(seeded_brain_url, terminal_env, tmp_path):
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url, "--no-leader"], terminal_env,
                    tmp_path / "exit-status", size=(80, 24))
    try:
        screen = settled(term, GOOG)
        assert "columns (w shows all)" in screen  # the Models view says what the width left out
        for key, shows in VIEWS.items():
            screen = term.wait_for("refreshed")
            term.keys(key)
            screen = settled(term, shows)
            if key in ("Enter", "G", "F", "I", "C"):
                assert EURUSD in screen  # the slot the view is about stays in view
            if key in NARROW:  # a table too wide for 80 columns says what it left out
                screen = term.wait_for("(w shows all)")
                assert "column" in screen and fits(screen), screen
            term.keys("Escape")
            term.wait_gone(shows)
            term.wait_for("Models")
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()

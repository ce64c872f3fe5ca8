"""The console in a real terminal: tmux runs `huracan-tui`, send-keys types, capture-pane reads."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from brain import open_brain
from tests.conftest import write_config
from tests.waiting import wait_until

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.skipif(shutil.which("tmux") is None and os.environ.get("CI") != "true",
                       reason="tmux is not installed (CI installs it and never skips)"),
]
BIN = Path(sys.executable).parent


class Terminal:
    """One tmux server of our own (its own socket), one session, 120×40."""

    def __init__(self, command: list[str], env: dict[str, str], exit_file: Path, size=(120, 40)):
        self.socket = f"huracan-test-{uuid.uuid4().hex[:8]}"
        self.exit_file = exit_file
        program = " ".join(shlex.quote(part) for part in command)
        variables = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        # Without COLUMNS / LINES: a pane started from pytest had COLUMNS=80 LINES=24 in its
        # environment, and Python's terminal size reads those first (the console drew 80×24 in
        # a 120×40 pane).
        line = f"env -u COLUMNS -u LINES {variables} {program}; echo $? > {shlex.quote(str(exit_file))}"
        self.tmux("new-session", "-d", "-s", "main", "-x", str(size[0]), "-y", str(size[1]), line)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "main", *keys)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")
            time.sleep(0.1)

    def wait_gone(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while text in (screen := self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never went away; the screen was:\n{screen}")
            time.sleep(0.1)
        return screen

    def wait_exit(self, timeout: float = 15.0) -> int:
        """The console's exit status, which the wrapping shell writes to a file."""
        deadline = time.monotonic() + timeout
        while not self.exit_file.exists() or not self.exit_file.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"the console did not exit; the screen was:\n{self.screen()}")
            time.sleep(0.1)
        return int(self.exit_file.read_text())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def test_operator_round_trip(seeded_brain_url, terminal_env, tmp_path):
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url], terminal_env,
                    tmp_path / "exit-status")
    try:
        screen = term.wait_for("lightgbm")
        row = next(line for line in screen.splitlines() if "GOOG:1d:fwd_ret_1" in line)
        assert "lightgbm" in row and "+0.74" in row  # the model kind and the out-of-sample Sharpe
        assert "+6 columns (w shows all)" in screen  # 120 columns: the least important left out
        assert "EURUSD:1h:fwd_ret_1" in screen
        term.keys("Down", "Enter")
        screen = term.wait_for("walk-forward folds")
        assert "Slot GOOG:1d:fwd_ret_1" in screen and "model card" in screen and "purpose" in screen
        # Wait for each Escape to land: an ESC followed at once by a key reads as Alt+key.
        term.keys("Escape")
        assert "EURUSD:1h:fwd_ret_1" in term.wait_gone("walk-forward folds")
        term.keys("?")
        term.wait_for("Huracan — help")
        term.keys("Escape")
        term.wait_gone("Huracan — help")
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()


def test_console_shows_a_headless_leaders_jobs_live(seeded_brain_url, terminal_env, tmp_path):
    config = write_config(tmp_path / "huracan.yaml",
                          schedule={"retrain_every": "1h", "retrain_on_start": True,
                                    "dispatch_every": "1s"})
    env = {**os.environ, **terminal_env}
    leader = subprocess.Popen(
        [str(BIN / "huracan-tui"), "--headless", "--brain", seeded_brain_url, "--config", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # The headless leader must lead before the console starts: a console that finds no leader
    # alive starts its own beside it (a run under load here saw that one win the lease, and the
    # test's leader, with the retrain-on-start schedule, wait as a standby).
    with open_brain(seeded_brain_url) as brain:
        deadline = time.monotonic() + 60
        while (lead := brain.current_leader()) is None or lead.pid != leader.pid:
            assert leader.poll() is None, leader.stderr.read()
            assert time.monotonic() < deadline, "the headless leader did not take the lease"
            time.sleep(0.1)
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url], terminal_env,
                    tmp_path / "exit-status")
    try:
        term.wait_for("GOOG:1d:fwd_ret_1")
        assert f"leader: {lead.host}:{leader.pid}" in term.screen()
        # The leader queues a retrain per slot at start; its workers store versions 3 and 4.
        screen = term.wait_for("succeeded", timeout=120)
        assert "· GOOG:1d:fwd_ret_1" in screen or "· EURUSD:1h:fwd_ret_1" in screen
        assert "train linear" in screen or "train lightgbm" in screen  # what the job trains
        deadline = time.monotonic() + 120
        while True:
            rows = [line for line in term.screen().splitlines() if "fwd_ret_1" in line and "v4" in line]
            if len(rows) == 2:
                break
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.2)
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(timeout=30) == 0, leader.stderr.read()


def test_a_lost_terminal_ends_the_console(seeded_brain_url, terminal_env, tmp_path):
    """Over SSH a dropped connection closes the pty; the console must not linger."""
    term = Terminal([str(BIN / "huracan-tui"), "--brain", seeded_brain_url], terminal_env,
                    tmp_path / "exit-status")
    term.wait_for("GOOG:1d:fwd_ret_1")
    shell = int(term.tmux("display-message", "-p", "-t", "main", "#{pane_pid}"))
    children = subprocess.run(["pgrep", "-P", str(shell)], capture_output=True, text=True).stdout.split()
    assert children, "the console process was not found under the pane's shell"
    console = int(children[0])
    term.close()  # the tmux server goes, and with it the terminal
    wait_until(lambda: not Path(f"/proc/{console}").exists(), 20, "the console to end with its terminal")


def test_a_viewer_session_looks_but_cannot_act(empty_brain_url, terminal_env, tmp_path):
    term = Terminal([str(BIN / "huracan-tui"), "--brain", empty_brain_url, "--read-only"], terminal_env,
                    tmp_path / "exit-status")
    try:
        screen = term.wait_for("READ-ONLY")
        assert "Start the demo" not in screen and "d Demo" not in screen  # not offered, not shown
        term.keys("d")  # pressed anyway, it is refused aloud
        term.wait_for("Import the bundled data")  # refused in the action's own words, not its id
        wait_for_denials(empty_brain_url, 1)
        term.keys(":")
        term.wait_for("slot GOOG")  # the command line's placeholder
        term.keys("demo", "Enter")
        wait_for_denials(empty_brain_url, 2)
        term.keys("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
    from brain import open_brain

    with open_brain(empty_brain_url) as brain:
        assert brain.list_jobs() == []
        refused = [(entry.action, entry.outcome) for entry in brain.list_audit()]
        assert refused == [("demo.start", "denied")] * 2


def wait_for_denials(url: str, count: int, timeout: float = 20.0) -> None:
    from brain import open_brain

    with open_brain(url) as brain:
        wait_until(lambda: len([entry for entry in brain.list_audit() if entry.outcome == "denied"]) >= count,
                   timeout, f"{count} refusals to be audited")

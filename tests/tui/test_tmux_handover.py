"""Two consoles on one brain, each with the embedded leader enabled: the first leads, the second's
stands by; when the first quits it says so, and the second's takes the lead within seconds."""

from __future__ import annotations

import shlex
import subprocess
import time

from brain import open_brain
from huracan_tui.main import HANDOVER_NOTE
from tests.tui.test_tmux import BIN, Terminal, pytestmark  # noqa: F401  (tmux marks, shared)


def embedded_leaders() -> set[int]:
    """The `huracan-tui --headless --exit-with CONSOLE` processes consoles started beside themselves."""
    found = subprocess.run(["pgrep", "-f", "huracan_tui.main --headless --exit-with"],
                           capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in found}


def new_embedded_leader(known: set[int]) -> int:
    deadline = time.monotonic() + 60
    while not (started := embedded_leaders() - known):
        assert time.monotonic() < deadline, "the console started no embedded leader"
        time.sleep(0.1)
    (pid,) = started
    return pid


def leader_pid(brain) -> int | None:
    lead = brain.current_leader()
    return None if lead is None else lead.pid


def wait_for_leader(brain, pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while leader_pid(brain) != pid:
        assert time.monotonic() < deadline, f"pid {pid} never led (the leader is {leader_pid(brain)})"
        time.sleep(0.1)


def test_quitting_the_leading_console_hands_the_scheduler_to_the_other(seeded_brain_url, terminal_env,
                                                                       tmp_path):
    def console(name: str) -> Terminal:
        # The pane stays after the console exits (its last words are read there), saying how it ended.
        program = f"{shlex.quote(str(BIN / 'huracan-tui'))} --brain {shlex.quote(seeded_brain_url)}"
        command = ["sh", "-c", f"{program}; echo \"console exited $?\"; sleep 600"]
        return Terminal(command, terminal_env, tmp_path / f"{name}.exit")

    before = embedded_leaders()  # other tests' consoles may run beside this one
    first = console("first")
    second = None
    try:
        first.wait_for("GOOG:1d:fwd_ret_1")
        first_leader = new_embedded_leader(before)
        with open_brain(seeded_brain_url) as brain:
            wait_for_leader(brain, first_leader)
            second = console("second")
            second.wait_for("GOOG:1d:fwd_ret_1")
            standby = new_embedded_leader(before | {first_leader})  # started although a leader is alive
            assert leader_pid(brain) == first_leader
            first.keys("q")
            said = "".join(first.wait_for("console exited 0").split())  # the terminal wraps it anywhere
            assert "".join(HANDOVER_NOTE.split()) in said
            wait_for_leader(brain, standby, timeout=30)
            assert "GOOG:1d:fwd_ret_1" in second.screen()  # the other console carries on
        second.keys("q")
        second.wait_for("console exited 0")
    finally:
        first.close()
        if second is not None:
            second.close()

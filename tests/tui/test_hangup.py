"""A console whose terminal went away ends, with its leader, even when Textual's own shutdown is
stuck writing to the dead terminal (seen: its writer thread blocked for good when the hang-up came
while the first frames were still being written). The hang-up's watchdog stops the leader and
ends the process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

# A process that hangs up on itself with an app whose exit never finishes (a stuck shutdown), and
# a leader that is a real child process; it prints the child's pid, then blocks forever.
STUCK_CONSOLE = textwrap.dedent("""
    import asyncio, os, signal, subprocess, sys
    from huracan_tui import main

    class StuckApp:
        def exit(self, *args):
            pass  # Textual's shutdown, blocked on the dead terminal

    leader = main.LeaderProcess.__new__(main.LeaderProcess)
    leader.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    print(leader.process.pid, flush=True)
    main.HangUp.HANGUP_GRACE_SECONDS = 0.5
    hangup = main.HangUp(StuckApp(), leader)

    async def app_loop():  # the app's loop, never ending
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.Event().wait()

    asyncio.run(app_loop())
""")


def test_a_stuck_shutdown_after_a_hang_up_still_ends_the_console_and_its_leader():
    process = subprocess.Popen([sys.executable, "-c", STUCK_CONSOLE], stdout=subprocess.PIPE, text=True,
                               cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    child = int(process.stdout.readline())
    try:
        assert process.wait(timeout=60) == 129
    finally:
        process.kill()
    # The leader was stopped (SIGTERM) before the console ended: it is gone, not orphaned.
    try:
        os.kill(child, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    if alive:  # reaped by init a moment later at most; a zombie's /proc state says so
        with open(f"/proc/{child}/stat") as stat:
            alive = stat.read().split()[2] != "Z"
    assert not alive

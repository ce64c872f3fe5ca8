"""A child process that must not outlive the process that started it: the worker a console
started, the /metrics endpoint of a headless process. Its parent may be killed without a chance
to stop it (kill -9), and nothing tells the child then; so it looks."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from brain.lease import pid_alive

log = logging.getLogger("huracan.lifeline")


def exit_with(pid: int, what: str, every: float = 1.0) -> threading.Thread:
    """Send this process SIGTERM (its own handler decides what stopping means) once process `pid`
    has ended. `what` names this process in the log line."""

    def watch() -> None:
        while pid_alive(pid):
            time.sleep(every)  # a poll of the process table: there is no event to wait on
        log.info("process %d, which started this %s, is gone: stopping", pid, what)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True)
    watcher.start()
    return watcher

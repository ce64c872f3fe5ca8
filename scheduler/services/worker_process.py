"""Starting a worker process for one job: what the console, the CLI and the local executor share.

The brain URL (which may hold a password) travels in the child's environment, never on its
command line, where `ps` and /proc/PID/cmdline show it to every user of the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BRAIN_URL_ENV = "HURACAN_BRAIN"


def worker_launch(brain_url: str, job_id: int, *, exit_with: int | None = None
                  ) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a worker for `job_id` (`exit_with`: a process whose
    end stops the worker)."""
    command = [sys.executable, "-m", "scheduler.daemon.worker", "--job", str(job_id)]
    if exit_with is not None:
        command += ["--exit-with", str(exit_with)]
    return command, {**os.environ, BRAIN_URL_ENV: brain_url, "PYTHONUNBUFFERED": "1"}


def start_worker(brain_url: str, job_id: int, *, log_path: Path | None = None,
                 exit_with: int | None = None) -> subprocess.Popen:
    """Start a worker for one job. Its output goes to log_path (or is discarded): a console's
    terminal must not be written over by a child process. `exit_with`: the pid of a process the
    worker must not outlive (a console's: its jobs stop, interrupted, when it ends however it
    ends, a kill -9 included)."""
    command, env = worker_launch(brain_url, job_id, exit_with=exit_with)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the operator's terminal goes to the console only.
            start_new_session=True,
            env=env,
        )
    finally:
        if not isinstance(log, int):  # the child has its own copy of the descriptor now
            log.close()

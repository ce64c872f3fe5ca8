"""/metrics served from a process of its own, as `huracan-tui --headless` serves it.

Every number on the page comes from the brain, so nothing ties the endpoint to the leader's
process, and keeping it out takes the page's cost off the leader's interpreter: a page at 1,000
slots is tens of ms of Python (the overview read, the text), and made in a thread of the leader it
held the GIL the leader's live tick needed (a scraper once a second cost the tick's p95 up to
10 %; benchmarks/bench_metrics.py measures both ways). Whether this process's headless process
leads is read from the brain too: the lease's live holder is the `holder` it was started for.

The parent starts it with `start_metrics_process`, which returns once the child listens, or
raises MetricsUnavailable with the child's one line (a port in use) and nothing left running.
The brain URL travels in the environment and the config on standard input: neither may show on a
command line, where `ps` shows it to every user. The child ends on SIGTERM (the parent's close)
and on its own once the parent is gone, however the parent ended (a kill -9 included): its end of
the standard-input pipe, which no other process holds, closes then.

Pages are made between the leader's live ticks. A page's CPU (some 12 ms at 1,000 slots, a whole
read 80 ms) landing on a tick slowed that tick, and the few ticks it met were enough to move the
tick's p95 by some 10 % on two cores, whichever process made the page. So the parent says on the
child's standard input when a tick starts and ends (`MetricsProcess.ticking`), and the child
starts no page while one runs (for `TICK_WAIT_SECONDS` at most: a tick that hangs must not stop
the metrics that would show it). A scrape meanwhile gets the page made last.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from scheduler.config import HuracanConfig
from scheduler.daemon.metrics_server import MetricsUnavailable, serve_metrics
from scheduler.services.worker_process import BRAIN_URL_ENV

log = logging.getLogger("huracan.metrics")

READY = "listening"
FAILED = "error:"
# The endpoint's niceness, below the headless process's: a page (some 25 ms of CPU at 1,000 slots)
# is worth less than a live tick, whose polars work uses every core. On two cores the benchmark
# could not tell nice 0, 10 and SCHED_IDLE apart (p95 1.06-1.15x each, noise about as wide);
# SCHED_IDLE was not kept, as a machine whose cores training fills would all but starve scrapes.
NICENESS = 10
# The child imports the brain, SQLAlchemy and prometheus_client and opens the brain before it
# answers; on a loaded machine that has taken seconds.
START_SECONDS = 60.0
TICK, TICKED = "tick\n", "ticked\n"  # the parent's lines: a live tick started, ended
TICK_WAIT_SECONDS = 5.0


@dataclass
class MetricsProcess:
    """The running endpoint process: where it listens, and how to stop it."""

    process: subprocess.Popen
    host: str
    port: int

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    @contextlib.contextmanager
    def ticking(self) -> Iterator[None]:
        """Around a live tick: the endpoint makes no page meanwhile (see the module)."""
        self._tell(TICK)
        try:
            yield
        finally:
            self._tell(TICKED)

    def _tell(self, line: str) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(line)
            stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the endpoint is gone: its absence is for the scraper to notice, not the tick

    def close(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except BrokenPipeError:
                    pass


def start_metrics_process(brain_url: str, config: HuracanConfig, *, holder: str,
                          start_seconds: float = START_SECONDS) -> MetricsProcess | None:
    """Start the endpoint the config asks for in a child process (None when `metrics.enabled` is
    false); see the module. MetricsUnavailable, one line, when it cannot listen there."""
    if not config.metrics.enabled:
        return None
    command = [sys.executable, "-m", "scheduler.daemon.metrics_process", "--holder", holder]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True,
        # Its own session: Ctrl-C in the operator's terminal goes to the headless process only,
        # which then closes this one.
        start_new_session=True,
        env={**os.environ, BRAIN_URL_ENV: brain_url, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(config.model_dump_json() + "\n")  # one line: pydantic's JSON has no newline
    process.stdin.flush()
    line = _first_line(process, start_seconds)
    if line.startswith(READY + " "):
        host, port = line[len(READY) + 1:].rsplit(" ", 1)
        return MetricsProcess(process, host, int(port))
    MetricsProcess(process, "", 0).close()
    if line.startswith(FAILED):
        raise MetricsUnavailable(line[len(FAILED):].strip())
    code = process.returncode
    raise MetricsUnavailable("metrics: the endpoint's process " + (
        f"exited with code {code} before listening" if code is not None
        else f"did not listen within {start_seconds:g} s"))


def _first_line(process: subprocess.Popen, seconds: float) -> str:
    """The child's first line of output, "" if it ends or stays silent for `seconds`."""
    lines: list[str] = []
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    if not lines:
        return ""
    if not lines[0]:
        process.wait()  # the child ended without a word: its exit code says how
    return lines[0].strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.daemon.metrics_process",
                                     description="the /metrics endpoint of a headless process")
    parser.add_argument("--holder", required=True, help="the lease holder id of the headless process")
    args = parser.parse_args(argv)
    os.nice(NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    brain_url = os.environ.get(BRAIN_URL_ENV)
    if not brain_url:
        print(f"{FAILED} metrics: {BRAIN_URL_ENV} is not set", flush=True)
        return 2
    config = HuracanConfig.model_validate_json(sys.stdin.readline())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        gate = TickGate()
        server = serve_metrics(brain_url, config, holder=args.holder, before_page=gate.wait)
    except MetricsUnavailable as error:
        print(f"{FAILED} {error}", flush=True)
        return 1
    assert server is not None  # the parent starts this process only when metrics are enabled
    host, port = server.address
    print(f"{READY} {host} {port}", flush=True)
    threading.Thread(target=gate.follow, args=(sys.stdin, stop), name="huracan-metrics-ticks",
                     daemon=True).start()
    try:
        stop.wait()
    finally:
        server.close()
    return 0


class TickGate:
    """Open between the parent's live ticks; `wait` returns once it is (TICK_WAIT_SECONDS at most)."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()

    def wait(self) -> None:
        self._open.wait(TICK_WAIT_SECONDS)

    def follow(self, lines, stop: threading.Event) -> None:
        """Read the parent's lines until its end of the pipe closes (it is gone: stop)."""
        for line in lines:
            if line == TICK:
                self._open.clear()
            elif line == TICKED:
                self._open.set()
        self._open.set()
        stop.set()


if __name__ == "__main__":
    sys.exit(main())

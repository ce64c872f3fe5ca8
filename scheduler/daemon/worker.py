"""A worker process: runs one job from the brain and reports progress and the outcome there.

Training never runs in the console's process; the console and the headless leader start
`python -m scheduler.daemon.worker --brain URL --job ID`. SIGTERM marks the job interrupted before the
process exits, so a stopped job is never left looking as if it were still running.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import socket
import sys
import traceback

from brain import Brain, BrainError, open_brain
from scheduler.daemon import pause_points
from scheduler.daemon.gpu import GpuSampler, describe_gpus
from scheduler.daemon.lifeline import exit_with
from scheduler.daemon.runners import RUNNERS
from scheduler.services.worker_process import BRAIN_URL_ENV

log = logging.getLogger("huracan.worker")


class Cancelled(BaseException):
    """The job is no longer ours to run (cancelled by an operator, or reaped as stale): stop
    at once and leave its recorded state alone."""


class Interrupted(BaseException):
    """Raised in the worker's main thread by SIGTERM / SIGINT; BaseException so no `except
    Exception` in library code swallows it."""


# The stop signal that arrived, if one did. The handler raises Interrupted wherever the main
# thread is, and that may be inside native code calling back into Python: polars' Rust numpy
# bindings turn an exception there into a panic (pyo3's PanicException), other libraries wrap it
# in their own error. Once a stop signal has arrived, whatever unwinds the job is that stop.
_stop_signal: str | None = None


def _raise_interrupted(signum, _frame):
    global _stop_signal
    _stop_signal = signal.Signals(signum).name
    raise Interrupted(_stop_signal)


def install_stop_handlers() -> None:
    """SIGTERM and SIGINT interrupt the running job (see `stopped_by`)."""
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)


def stopped_by(_error: BaseException) -> str | None:
    """The stop signal behind an error unwinding the job, or None when it is the job's own error.
    The signal's name, not the error's text: polars, for one, appends to the message of an
    exception raised inside it."""
    return _stop_signal


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(brain: Brain, job_id: int) -> str:
    """Claim a queued job and run it to its end; returns its final state."""
    pause_points.pause_if_asked("claim")  # test hook; a no-op unless asked
    if not brain.claim_job(job_id, worker=worker_name(), pid=os.getpid()):
        job = brain.get_job(job_id)
        log.warning("job %s is %s, not queued; nothing to do", job_id, job.state)
        return job.state
    pause_points.pause_if_asked("claimed")  # test hook; a no-op unless asked
    pause_points.install_store_pause(brain)  # test hook; a no-op unless asked
    job = brain.get_job(job_id)
    run = RUNNERS.get(job.kind)
    if run is None:
        brain.fail_job(job_id, f"unknown job kind {job.kind!r}")
        return "failed"

    steps = itertools.count()  # one numbering for the whole job, across kinds, folds and slots
    gpus = GpuSampler()  # utilisation and memory, on CUDA jobs where NVML finds a GPU

    def progress(fraction: float, message: str, values: dict | None = None) -> None:
        gpu = gpus.sample(brain.get_job(job_id).device)
        if gpu.get("gpus"):
            message = f"{message} · {describe_gpus(gpu['gpus'])}"
        if not brain.update_job(job_id, progress=max(0.0, min(1.0, fraction)), message=message):
            raise Cancelled(message)
        if _stop_signal is not None:  # swallowed on its way (a weakref callback, a library): stop now
            raise Interrupted(_stop_signal)
        pause_points.after_progress(fraction)  # test hook; a no-op unless asked
        if values is not None or gpu:  # an epoch's losses (the loss curve), GPU figures
            brain.record_job_event(job_id, next(steps), {**(values or {}), **gpu})

    try:
        result = run(brain, job, progress)
    except Cancelled:
        state = brain.get_job(job_id).state
        log.info("job %s is %s: stopping", job_id, state)
        return state
    except BaseException as error:  # every ending is recorded, never lost
        if stop := stopped_by(error):
            brain.interrupt_job(job_id, f"worker stopped by {stop}")
            return "interrupted"
        if not isinstance(error, Exception):
            raise
        log.debug("job %s failed:\n%s", job_id, traceback.format_exc())
        brain.fail_job(job_id, f"{type(error).__name__}: {error}")
        return "failed"
    if not brain.finish_job(job_id, result):  # cancelled while its last step ran
        return brain.get_job(job_id).state
    return "succeeded"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.daemon.worker", description=__doc__)
    parser.add_argument("--job", required=True, type=int, help="job id")
    parser.add_argument("--exit-with", type=int, metavar="PID",
                        help="stop (the job interrupted) when this process ends")
    args = parser.parse_args(argv)
    brain_url = os.environ.get(BRAIN_URL_ENV)
    if not brain_url:  # the URL comes in the environment: a command line is readable by all users
        print(f"huracan worker: {BRAIN_URL_ENV} is not set (the brain URL)", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    install_stop_handlers()
    if args.exit_with is not None:
        exit_with(args.exit_with, "worker")  # its job ends interrupted, as on SIGTERM
    try:
        with open_brain(brain_url) as brain:
            try:
                state = run_job(brain, args.job)
            except BaseException as error:
                if (stop := stopped_by(error)) is None:
                    raise
                # A stop that landed outside the runner (while claiming, before the runner
                # started): the job this worker holds still ends interrupted, never "running".
                brain.interrupt_running_jobs(worker=worker_name(), reason=f"worker stopped by {stop}")
                return 143
    except BrainError as error:
        print(f"huracan worker: {error}", file=sys.stderr)
        return 1
    except BaseException as error:
        if stopped_by(error) is None:
            raise
        return 143
    return {"succeeded": 0, "cancelled": 0, "interrupted": 143}.get(state, 1)


if __name__ == "__main__":
    sys.exit(main())

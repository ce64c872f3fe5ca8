"""Local execution: each job in its own worker process, so training never blocks the caller and
a crash or kill of a worker cannot take the console or the leader down with it."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from scheduler.services.worker_process import start_worker


class ExecutorUnavailable(RuntimeError):
    """The configured executor cannot be used (a cluster unreachable, TLS refused): one line."""


class Executor(Protocol):
    """What the leader needs of an executor, local processes or a Dask cluster alike."""

    def has_capacity(self) -> bool: ...
    def submit(self, job_id: int) -> None: ...
    def reap(self) -> dict[int, int]: ...
    def stop_all(self, timeout: float = 20.0) -> dict[int, int | None]: ...


@dataclass
class LocalExecutor:
    """Runs at most `max_workers` worker processes at once and remembers which job each runs."""

    brain_url: str
    max_workers: int = 1
    log_path: Path | None = None
    running: dict[int, subprocess.Popen] = field(default_factory=dict)

    def has_capacity(self) -> bool:
        # Ended workers are counted out but kept until reap() hands their exit codes over: the
        # leader learns of every ending (a worker dead before its claim must be dispatched again).
        alive = sum(1 for proc in self.running.values() if proc.poll() is None)
        return alive < self.max_workers

    def submit(self, job_id: int) -> None:
        self.running[job_id] = start_worker(self.brain_url, job_id, log_path=self.log_path)

    def reap(self) -> dict[int, int]:
        """Forget finished workers; returns {job_id: exit code} of those that ended."""
        ended = {job_id: proc.poll() for job_id, proc in self.running.items()}
        ended = {job_id: code for job_id, code in ended.items() if code is not None}
        for job_id in ended:
            del self.running[job_id]
        return ended

    def stop_all(self, timeout: float = 20.0) -> dict[int, int | None]:
        """SIGTERM every worker (each marks its job interrupted), then wait; SIGKILL stragglers."""
        for proc in self.running.values():
            proc.terminate()
        codes = {}
        for job_id, proc in self.running.items():
            try:
                codes[job_id] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[job_id] = proc.wait()
        self.running.clear()
        return codes


def make_executor(config, brain_url: str, *, log_path: Path | None = None):
    """The executor the config names: `executor: {kind: local}` (default) or `{kind: dask,
    address: ..., tls: ...}`. Takes a HuracanConfig or its ExecutorConfig. Dask is imported only
    for kind dask; an unreachable cluster raises DaskExecutorError (one line naming the address)."""
    executor_config = getattr(config, "executor", config)
    if executor_config.kind == "dask":
        from scheduler.daemon.dask_executor import DaskExecutor

        return DaskExecutor.from_config(executor_config, brain_url)
    return LocalExecutor(brain_url, max_workers=executor_config.max_workers or 1, log_path=log_path)

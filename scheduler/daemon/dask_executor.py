"""Scale-out execution on a Dask distributed cluster, with the same interface as LocalExecutor
(has_capacity, submit, reap, stop_all) so the leader can drive either.

A task runs a job through the very code a worker process runs (`scheduler.daemon.worker.run_job`): it
claims the job, reports progress, and writes its results to the brain; what comes back through
Dask is only a small record (job id, final state, seconds). Jobs whose device is `cuda` ask for
`resources={"GPU": 1}`, so they only land on workers started with `--resources GPU=1`; when no
worker of the cluster advertises a GPU the job is failed at once with a message saying so, rather
than left waiting on the Dask scheduler forever.

Dask is imported only here, and this module only when the config says `executor: {kind: dask}`.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from brain import Brain, open_brain
from scheduler.daemon.executor import ExecutorUnavailable

if TYPE_CHECKING:  # the real imports are lazy: dask costs a second to import
    from distributed import Client, Future
    from distributed.security import Security

    from scheduler.config import ExecutorConfig

log = logging.getLogger("huracan.dask")

GPU_RESOURCE = "GPU"
CONNECT_TIMEOUT_SECONDS = 10.0
# What a LocalExecutor's worker process would have exited with, so the leader reads both alike.
EXIT_CODES = {"succeeded": 0, "cancelled": 0, "interrupted": 143}


class DaskExecutorError(ExecutorUnavailable):
    """The cluster cannot be used (unreachable, refused TLS); one line naming the address."""


def run_job_task(brain_url: str, job_id: int) -> dict[str, Any]:
    """What a Dask worker runs for one job: the worker process's code, in the worker's process."""
    from scheduler.daemon.worker import run_job, worker_name

    started = time.perf_counter()
    with open_brain(brain_url) as brain:
        state = run_job(brain, job_id)
    return {"job_id": job_id, "state": state, "seconds": round(time.perf_counter() - started, 3),
            "worker": worker_name()}


def security_from_config(tls) -> Security | None:
    """A `distributed.security.Security` for the client side of a TLS cluster (None: no TLS)."""
    if tls is None:
        return None
    from distributed.security import Security

    return Security(tls_ca_file=tls.ca_file, tls_client_cert=tls.cert, tls_client_key=tls.key,
                    require_encryption=True)


def connect(address: str, security: Security | None = None,
            timeout: float = CONNECT_TIMEOUT_SECONDS) -> Client:
    """A client of the scheduler at `address`, or DaskExecutorError in one line."""
    from distributed import Client

    try:
        return Client(address, security=security, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DaskExecutorError(f"executor.address: cannot reach the Dask scheduler at {address}: "
                                f"{reason}") from None


@dataclass
class DaskExecutor:
    """Submits jobs as Dask tasks; at most `max_workers` at once (None: the cluster's threads)."""

    brain_url: str
    client: Client
    max_workers: int | None = None
    owns_client: bool = True
    running: dict[int, Future] = field(default_factory=dict)
    # Jobs refused before they reached Dask (a CUDA job with no GPU worker): reported by reap.
    refused: dict[int, int] = field(default_factory=dict)
    _brain: Brain | None = None

    @classmethod
    def from_config(cls, config: ExecutorConfig, brain_url: str) -> DaskExecutor:
        client = connect(config.address, security_from_config(config.tls))
        return cls(brain_url, client, max_workers=config.max_workers)

    @property
    def brain(self) -> Brain:
        if self._brain is None:
            self._brain = open_brain(self.brain_url)
        return self._brain

    def _workers(self) -> dict[str, dict]:
        return self.client.scheduler_info(n_workers=-1).get("workers", {})

    def capacity(self) -> int:
        if self.max_workers is not None:
            return self.max_workers
        return sum(worker.get("nthreads", 1) for worker in self._workers().values())

    def gpu_workers(self) -> int:
        return sum(1 for worker in self._workers().values()
                   if worker.get("resources", {}).get(GPU_RESOURCE, 0) >= 1)

    def has_capacity(self) -> bool:
        # Finished tasks stay in `running` until reap() hands their codes to the caller: a
        # capacity check must not swallow them.
        busy = sum(1 for future in self.running.values() if not future.done())
        return busy < self.capacity()

    def submit(self, job_id: int) -> None:
        device = self.brain.get_job(job_id).device
        resources = None
        if device.startswith("cuda"):
            if not self.gpu_workers():
                reason = (f"no Dask worker at {self.client.scheduler.address} advertises a "
                          f"{GPU_RESOURCE} resource; start one with "
                          f"`dask worker ... --resources {GPU_RESOURCE}=1` or queue the job on cpu")
                self.brain.fail_job(job_id, reason)
                self.refused[job_id] = 1
                log.warning("job %d refused: %s", job_id, reason)
                return
            resources = {GPU_RESOURCE: 1}
        self.running[job_id] = self.client.submit(
            run_job_task, self.brain_url, job_id, key=f"huracan-job-{job_id}-{uuid.uuid4().hex[:8]}",
            pure=False, resources=resources, retries=0,
        )

    def reap(self) -> dict[int, int]:
        """Forget finished tasks; returns {job_id: exit-code-like} of those that ended."""
        ended, self.refused = dict(self.refused), {}
        for job_id, future in list(self.running.items()):
            if not future.done():
                continue
            del self.running[job_id]
            if future.status == "finished":
                ended[job_id] = EXIT_CODES.get(future.result()["state"], 1)
            else:  # the task raised or its worker died: the leader sees the job still running
                error = future.exception() if future.status == "error" else future.status
                log.warning("job %d: its Dask task ended with %s", job_id, error)
                ended[job_id] = 1
        return ended

    def stop_all(self, timeout: float = 20.0) -> dict[int, int | None]:
        """Cancel every task. A task already running is not killed by Dask: the leader marks its
        job interrupted, and the task stops at its next progress report (update_job is refused)."""
        codes: dict[int, int | None] = {job_id: None for job_id in self.running}
        if self.running:
            self.client.cancel(list(self.running.values()))
        self.running.clear()
        if self.owns_client:
            self.client.close(timeout=timeout)
        if self._brain is not None:
            self._brain.close()
            self._brain = None
        return codes

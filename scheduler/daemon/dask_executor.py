"""Scale-out execution on a Dask distributed cluster, with the same interface as LocalExecutor
(has_capacity, submit, reap, stop_all) so the leader can drive either.

A task runs a job through the very code a worker process runs (`scheduler.daemon.worker.run_job`): it
claims the job, reports progress, and writes its results to the brain; what comes back through
Dask is only a small record (job id, final state, seconds). Jobs whose device is `cuda` ask for
`resources={"GPU": 1}`, so they only land on workers started with `--resources GPU=1`; when no
worker of the cluster advertises a GPU the job is failed at once with a message saying so, rather
than left waiting on the Dask scheduler forever.

A distributed training job (training.distributed.processes > 1) runs its fits' ranks as tasks
of their own, one per Dask worker (`DaskRankLauncher`): rank 0 hosts the rendezvous store on its
worker's host, on a port the OS picks, and passes the address to the others through a Dask
Variable; nccl ranks go to the workers that advertise a GPU resource, one GPU each. Each rank
trains in a child process of its worker (`run_rank_process`): when one rank fails, dies or loses
its worker, the launcher sets the fit's Dask Event, and every other rank's task kills its child at
once (a thread blocked in a gloo collective could not be stopped, and would hold the worker's
thread, cores and memory until the group's timeout). A fit that keeps checkpoints gets rank 0's
after each epoch through a second Dask Queue, and saves it in the job's store.

Dask is imported only here, and this module only when the config says `executor: {kind: dask}`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from brain import Brain, open_brain
from scheduler.daemon.executor import ExecutorUnavailable

if TYPE_CHECKING:  # the real imports are lazy: dask costs a second to import
    from distributed import Client, Future
    from distributed.security import Security

    from scheduler.config import ExecutorConfig

log = logging.getLogger("huracan.dask")

GPU_RESOURCE = "GPU"
CONNECT_TIMEOUT_SECONDS = 10.0
# After a rank fails, how long the launcher waits for the others' tasks to end (stopped, or failed
# on the broken group) before it names the rank to blame: a rank that died is named, not the
# peer that lost its connection to it.
SETTLE_SECONDS = 10.0
RENDEZVOUS_STEP_SECONDS = 0.5  # how often a rank waiting for rank 0's address asks if it should stop
# What a LocalExecutor's worker process would have exited with, so the leader reads both alike.
EXIT_CODES = {"succeeded": 0, "cancelled": 0, "interrupted": 143}


class DaskExecutorError(ExecutorUnavailable):
    """The cluster cannot be used (unreachable, refused TLS); one line naming the address."""


def run_job_task(brain_url: str, job_id: int) -> dict[str, Any]:
    """What a Dask worker runs for one job: the worker process's code, in the worker's process."""
    from engine.models.neural.distributed import use_launcher
    from scheduler.daemon.worker import run_job, worker_name

    started = time.perf_counter()
    with open_brain(brain_url) as brain, use_launcher(DaskRankLauncher()):
        state = run_job(brain, job_id)
    return {"job_id": job_id, "state": state, "seconds": round(time.perf_counter() - started, 3),
            "worker": worker_name()}


def run_rank_task(task, rank: int, name: str) -> dict | None:
    """One rank of a distributed fit, in a Dask worker; rank 0 returns the fitted payload.

    Rank 0 opens the rendezvous store on its own host (the others reach it as they reach any
    worker of the cluster) and publishes host:port in the Variable `name`; rank 0 also passes
    each epoch's report on through the Queue `name`, and each epoch's checkpoint (when the fit
    keeps them) through the Queue `name`-checkpoints. The rank trains in a child process, killed
    as soon as the Event `name`-stop is set (RankStopped)."""
    import torch.distributed as dist
    from distributed import Event, Queue, Variable, get_worker
    from distributed.comm import get_address_host

    from engine.models.neural.distributed import run_rank_process

    stop = Event(_stop_event(name))
    report: Callable[..., None] | None = None
    save: Callable[[int, bytes], None] | None = None
    store = None  # rank 0's server, alive as long as this task runs
    if rank == 0:
        host = get_address_host(get_worker().address)
        store = dist.TCPStore(host, 0, is_master=True, wait_for_workers=False,
                              timeout=_timedelta(task.timeout_seconds))
        address = (host, store.port)
        Variable(name).set(f"{host}:{store.port}")
        events = Queue(name)

        def report(fraction, message, values=None):
            events.put([fraction, message, values])

        if task.checkpoint_stage is not None:
            saved = Queue(_checkpoint_queue(name))

            def save(epoch: int, data: bytes) -> None:
                saved.put([epoch, data])
    else:
        address = _rendezvous_address(Variable(name), rank, task, stop)
    # A Dask GPU worker owns one GPU (CUDA_VISIBLE_DEVICES, as dask-cuda sets it): device 0.
    result = run_rank_process(task, rank, address, report, save, gpu=0, stopped=stop.is_set)
    return None if result is None else result.as_payload()


def _rendezvous_address(variable, rank: int, task, stop) -> tuple[str, int]:
    """Rank 0's store address from `variable`, waited for in steps: a fit whose rank 0 failed
    before it published one stops this rank at once (`stop` set), not after the group's timeout."""
    from engine.models.neural.distributed import RankStopped

    deadline = time.monotonic() + task.timeout_seconds
    while True:
        try:
            host, port = variable.get(timeout=RENDEZVOUS_STEP_SECONDS).rsplit(":", 1)
            return host, int(port)
        except TimeoutError:
            if stop.is_set():
                raise RankStopped(f"rank {rank} of {task.world_size} stopped: another rank of its "
                                  "fit failed") from None
            if time.monotonic() > deadline:
                raise


def _stop_event(name: str) -> str:
    return f"{name}-stop"


def _checkpoint_queue(name: str) -> str:
    return f"{name}-checkpoints"


def _timedelta(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)


@dataclass
class DaskRankLauncher:
    """Starts a distributed fit's ranks as Dask tasks pinned one per worker (GPU workers for
    nccl). `client`: None inside a job's task, which then borrows the worker's client, seceding
    from the worker's thread pool while its ranks run (they may need that very thread)."""

    client: Client | None = None
    poll_seconds: float = 0.2

    def run_ranks(self, task, progress, save=None):
        if self.client is not None:
            return self._run(self.client, task, progress, save)
        from distributed import worker_client

        with worker_client() as client:
            return self._run(client, task, progress, save)

    def _run(self, client: Client, task, progress, save):
        from distributed import Event, Queue

        from engine.models.neural.distributed import DistributedTrainingError, RankResult

        workers = client.scheduler_info(n_workers=-1).get("workers", {})
        nccl = task.backend == "nccl"
        hosts = sorted(address for address, worker in workers.items()
                       if not nccl or worker.get("resources", {}).get(GPU_RESOURCE, 0) >= 1)
        if len(hosts) < task.world_size:
            kind = f"worker(s) advertising a {GPU_RESOURCE} resource" if nccl else "worker(s)"
            raise DistributedTrainingError(
                f"training.distributed.processes is {task.world_size}, but the Dask cluster at "
                f"{client.scheduler.address} has {len(hosts)} {kind}: each rank runs on a worker of its own"
            )
        name = f"huracan-ddp-{uuid.uuid4().hex[:12]}"
        events = Queue(name, client=client)
        checkpoints = Queue(_checkpoint_queue(name), client=client)
        # Never cleared: a rank task that starts late (Dask reran it) must see it set too.
        stop = Event(_stop_event(name), client=client)
        futures = [
            client.submit(run_rank_task, task, rank, name, key=f"{name}-rank-{rank}", pure=False,
                          workers=[hosts[rank]], allow_other_workers=False, retries=0)
            for rank in range(task.world_size)
        ]
        ranks = _Ranks(client, futures, hosts[: task.world_size])

        def forward_events() -> None:
            reports = [events.get() for _ in range(events.qsize())]
            # Rank 0 put an epoch's checkpoint before its report: saved before the caller hears
            # of the epoch. Only the newest is kept, as the store keeps only the newest.
            newest = [checkpoints.get() for _ in range(checkpoints.qsize())][-1:]
            for epoch, data in newest:
                if save is not None:
                    save(epoch, data)
            for fraction, message, values in reports:
                if progress is not None:
                    progress(fraction, message, values)

        fitted = False
        try:
            while not ranks.failing():
                if ranks.all_finished():
                    forward_events()
                    result = RankResult(**cast(dict, futures[0].result()))  # rank 0's payload
                    fitted = True
                    return result
                ranks.ended.wait(self.poll_seconds)
                ranks.ended.clear()
                forward_events()
            stop.set()
            ranks.settle(SETTLE_SECONDS)
            forward_events()  # what rank 0 saved before the failure is the resume point
            raise DistributedTrainingError(ranks.blame(task.world_size))
        finally:
            if not fitted:
                stop.set()  # failed, or the caller stopped (its job cancelled): no rank goes on
            client.cancel([future for future in futures if not future.done()])


@dataclass
class _Ranks:
    """A fit's rank tasks as the launcher watches them: which ended, in what order, and whether
    each one's worker is still in the cluster (a task whose worker died is not failed by Dask: it
    waits, pinned to a worker that is gone)."""

    client: Client
    futures: list[Future]
    hosts: list[str]
    ended_keys: list[str] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)  # set as each task ends

    def __post_init__(self) -> None:
        for future in self.futures:
            future.add_done_callback(self._on_done)

    def _on_done(self, future) -> None:
        self.ended_keys.append(future.key)
        self.ended.set()

    def all_finished(self) -> bool:
        return all(future.status == "finished" for future in self.futures)

    def gone(self) -> list[int]:
        """Ranks whose task has not ended and whose worker has left the cluster."""
        waiting = [rank for rank, future in enumerate(self.futures) if not future.done()]
        if not waiting:
            return []
        present = set(self.client.nthreads())
        return [rank for rank in waiting if self.hosts[rank] not in present]

    def failing(self) -> bool:
        return any(future.status in ("error", "cancelled", "lost") for future in self.futures) \
            or bool(self.gone())

    def settle(self, seconds: float) -> None:
        """Wait until every task has ended or lost its worker, `seconds` at most."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            gone = set(self.gone())
            if all(future.done() or rank in gone for rank, future in enumerate(self.futures)):
                return
            self.ended.wait(0.1)
            self.ended.clear()

    def blame(self, world_size: int) -> str:
        """The one line naming the rank that failed first: one whose worker left or whose process
        died before one that raised, and one stopped by the launcher last of all."""
        from engine.models.neural.distributed import RankFailed, RankStopped

        def line(rank: int, what: str, detail: str) -> str:
            return (f"rank {rank} of {world_size} {what} on its Dask worker {self.hosts[rank]}: "
                    f"{detail}; no model was fitted")

        gone = self.gone()
        if gone:
            return line(gone[0], "died", "the worker left the cluster")
        errors = {rank: future.exception() for rank, future in enumerate(self.futures)
                  if future.status == "error"}
        order = {key: place for place, key in enumerate(self.ended_keys)}

        def precedence(rank: int) -> tuple[bool, bool, int]:
            error = errors[rank]
            died = isinstance(error, RankFailed) and error.died
            return isinstance(error, RankStopped), not died, order.get(self.futures[rank].key, len(order))

        if errors:
            rank = min(errors, key=precedence)
            error = errors[rank]
            if isinstance(error, RankFailed):
                return line(rank, "died" if error.died else "failed", error.detail)
            return line(rank, "failed", _first_line(self.futures[rank]))
        rank = next(rank for rank, future in enumerate(self.futures) if future.status != "finished")
        return line(rank, "failed", self.futures[rank].status)


def _first_line(future) -> str:
    if future.status != "error":
        return future.status
    error = future.exception()
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[-1]}" if lines else type(error).__name__


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

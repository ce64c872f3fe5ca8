"""Data-parallel training of one network across processes (torch DistributedDataParallel).

Every rank holds the whole network and the whole training set; each epoch every rank draws the
same shuffled batch order (the batch-order generator is seeded alike), and takes its own share
of each global batch (rows rank, rank + N, ...). DDP averages the gradients in backward; each
rank's loss is scaled by its share of the batch so that the average is exactly the gradient of
the global batch's mean loss, as one process would compute it (any split, sample weights too).
The validation loss is rank 0's, broadcast, so early stopping stops every rank at the same epoch.

How ranks are started is a `RankLauncher`: `LocalLauncher` spawns N processes on this machine
(rendezvous on a TCPStore this process hosts on 127.0.0.1, port chosen by the OS); the Dask
executor installs its own launcher (one rank per Dask worker, each in a forkserver child of its
worker: `run_rank_process`) with `use_launcher`. Rank 0 hands back the weights and the history; a
rank that dies or fails fails the fit with one line naming it, and the others are stopped at once
(a rank blocked in a gloo collective cannot be woken: its process is killed).

Checkpoints: the store lives in the process that called the fit, the ranks are other processes.
After each epoch rank 0 hands the epoch's checkpoint (loop.py's format, with every rank's dropout
generators) to its launcher, which passes it to the caller's `save`; no rank starts the next
epoch before that hand-over is done (a barrier), so a rank that dies after epoch k leaves epoch
k's checkpoint behind. (A rank 0 in a child of a Dask worker hands it to its worker, which passes
it on within STOP_POLL_SECONDS: a kill of that whole worker in between loses it, and the fit
resumes from the epoch before.) A fit that finds one of its own inputs starts every rank from it.

torch is imported inside functions only: the settings and errors here cost nothing to import.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

BACKENDS = ("gloo", "nccl")
DEFAULT_TIMEOUT_SECONDS = 300.0
# Tests only: "RANK:EPOCH" makes that rank exit at once (os._exit(3)) after that epoch, the way
# a rank killed by the OOM killer or a lost machine would vanish mid-training; "RANK:EPOCH:raise"
# makes it raise TestRankFailure there instead, as a rank whose training fails would.
TEST_EXIT_ENV = "HURACAN_DDP_TEST_EXIT"
TEST_EXIT_CODE = 3
TEST_RAISE = "raise"
STOP_POLL_SECONDS = 0.2  # how often a rank's process is looked at, and its stop signal asked
ORPHANED_EXIT_CODE = 4  # a rank whose launcher died
RAISED_EXIT_CODE = 5  # a rank that raised, the first of its fit to fail: its line in rank<N>.error
AFTER_PEER_EXIT_CODE = 6  # a rank that failed after another one had: that rank's number in rank<N>.error
FIRST_FAILURE_KEY = "huracan/first-failure"  # in the rendezvous store: the first rank that raised
START_METHOD = "forkserver"
CHECKPOINT_PREFIX = "checkpoint-"  # a local rank 0's epoch checkpoints, in the fit's temporary folder
# What the forkserver imports once for every rank it forks: DDP's constructor imports dynamo
# (some 800 modules, seconds) on first use, which each rank would otherwise pay again.
FORKSERVER_PRELOAD = ["torch", "torch._dynamo", "torch.nn.parallel.distributed",
                      "engine.models.neural.loop", "engine.models.neural.networks",
                      "engine.models.neural.distributed"]

# progress(fraction, message, values): the estimator's epoch report
Progress = Callable[..., None]
# save(epoch, data): rank 0's checkpoint after `epoch`, handed to the caller's store
SaveCheckpoint = Callable[[int, bytes], None]


class DistributedTrainingError(ValueError):
    """A distributed fit that cannot start or did not finish, in one line naming the rank."""


class RankFailed(DistributedTrainingError):
    """Rank `rank`'s process died (`died`: killed, or exited) or raised; `detail` says how, in one
    line ("exit code 3", "MemoryError: ..."). Its arguments are its state: it pickles (Dask)."""

    def __init__(self, rank: int, world_size: int, died: bool, detail: str) -> None:
        super().__init__(rank, world_size, died, detail)
        self.rank, self.world_size, self.died, self.detail = rank, world_size, died, detail

    def __str__(self) -> str:
        if self.died:
            return f"rank {self.rank} of {self.world_size} died: {self.detail}; no model was fitted"
        return f"rank {self.rank} of {self.world_size} failed: {self.detail}"


class RankStopped(DistributedTrainingError):
    """A rank ended by its launcher because another rank of the fit failed."""


class TestRankFailure(RuntimeError):
    """What a rank raises where TEST_EXIT_ENV says "RANK:EPOCH:raise" (tests only)."""


@dataclass(frozen=True)
class DistributedSettings:
    """How many processes one fit spans, and how their gradients travel (gloo: CPU, nccl: GPUs)."""

    processes: int = 1
    backend: str = "gloo"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        check_distributed(self.processes, self.backend)


def check_distributed(processes: Any, backend: Any) -> None:
    """ValueError naming the bad setting; no torch import (whether CUDA exists: `check_backend_here`)."""
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f"processes must be a whole number >= 1, got {processes!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def check_backend_here(processes: int, backend: str) -> None:
    """ValueError when this machine cannot run `backend` with `processes` ranks: nccl needs CUDA
    and one GPU per rank. Imports torch (worker side)."""
    check_distributed(processes, backend)
    if backend != "nccl":
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(
            f"backend nccl needs CUDA, which this machine lacks (torch {torch.__version__}); use gloo"
        )
    if torch.cuda.device_count() < processes:
        raise ValueError(
            f"backend nccl runs one GPU per rank: {processes} processes but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s)"
        )


# ---- what every rank trains on, and what rank 0 hands back -------------------------------


@dataclass(frozen=True)
class RankTask:
    """Everything a rank needs to train its replica; plain data and CPU tensors (picklable)."""

    architecture: str
    params: dict
    n_features: int
    n_outputs: int
    task: str
    backend: str
    world_size: int
    initial_state: dict  # the starting weights (seeded, or the warm start's), on the CPU
    train: Any  # loop.WindowSet on the CPU
    validation: Any  # loop.WindowSet on the CPU, or None
    use_amp: bool = False
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    # TEST_EXIT_ENV as the launching process saw it: a forkserver's ranks have the server's env.
    test_exit: str = ""
    # The caller's stage when it keeps checkpoints (None: it keeps none), the fit's fingerprint,
    # and the checkpoint every rank resumes from (already checked against the fingerprint).
    checkpoint_stage: str | None = None
    fingerprint: str = ""
    resume_from: bytes | None = None


@dataclass(frozen=True)
class RankResult:
    """Rank 0's fitted weights (CPU tensors) and how training went."""

    state_dict: dict
    history: list
    best_epoch: int
    best_val_loss: float | None
    stopped_early: bool

    def as_payload(self) -> dict:
        return {"state_dict": self.state_dict, "history": self.history, "best_epoch": self.best_epoch,
                "best_val_loss": self.best_val_loss, "stopped_early": self.stopped_early}


class RankLauncher(Protocol):
    def run_ranks(self, task: RankTask, progress: Progress | None,
                  save: SaveCheckpoint | None = None) -> RankResult:
        """Train `task.world_size` ranks of `task`; rank 0's result, or DistributedTrainingError.
        `save` gets rank 0's checkpoint after each epoch (when `task.checkpoint_stage` is set),
        each before that epoch's progress report, and those made before a rank died too."""
        ...


_LAUNCHER: contextvars.ContextVar[RankLauncher | None] = contextvars.ContextVar("ddp_launcher", default=None)


@contextlib.contextmanager
def use_launcher(launcher: RankLauncher) -> Iterator[None]:
    """Distributed fits inside this block start their ranks with `launcher` (e.g. on Dask)."""
    token = _LAUNCHER.set(launcher)
    try:
        yield
    finally:
        _LAUNCHER.reset(token)


def current_launcher() -> RankLauncher:
    return _LAUNCHER.get() or LocalLauncher()


# ---- the sharding the training loop applies ------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """This rank's place in the group; loop.train_network asks it for rows and agreements."""

    rank: int
    world_size: int
    # The collectives this rank ran, held until its process group is gone: a gloo worker thread
    # that dropped the last reference to one would free its tensors under the GIL, and deadlock
    # with the main thread, which holds the GIL while the group's teardown joins that thread.
    works: list = field(default_factory=list, compare=False, repr=False)

    def _ran(self, work) -> None:
        work.wait()
        self.works.append(work)

    def rows_of(self, batch, weight):
        """(this rank's rows of the global batch, the factor its mean loss is scaled by).

        DDP averages gradients over ranks, so rank r's loss is its mean times N x its share of
        the batch's weight: the average is then the gradient of the whole batch's mean. A rank
        left without rows (a last batch smaller than N) trains on one row with factor 0, since
        every rank must take part in every gradient all-reduce."""
        rows = batch[self.rank :: self.world_size]
        if rows.numel() == 0:
            return batch[:1], 0.0
        if weight is None:
            share = rows.numel() / batch.numel()
        else:
            share = float(weight[rows].sum() / weight[batch].sum())
        return rows, share * self.world_size

    def total(self, value):
        """The epoch's summed loss over every rank (each rank's total is N x its share)."""
        import torch.distributed as dist

        value = value.clone()
        self._ran(dist.all_reduce(value, op=dist.ReduceOp.SUM, async_op=True))
        return value / self.world_size

    def agree(self, value: float | None) -> float | None:
        """Rank 0's value on every rank, so each takes the same early-stopping decision."""
        if value is None:
            return None
        import torch
        import torch.distributed as dist

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        self._ran(dist.broadcast(tensor, src=0, async_op=True))
        return float(tensor.item())

    def gather_rngs(self, device) -> list[dict]:
        """Every rank's dropout generators ({"torch_rng", "cuda_rng"}, CPU tensors), in rank
        order, on every rank: ranks draw different masks, and a resumed rank needs its own."""
        import torch
        import torch.distributed as dist

        mine = torch.get_rng_state()
        cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
        joined = mine if cuda is None else torch.cat([mine, cuda])
        on = "cuda" if dist.get_backend() == "nccl" else "cpu"
        gathered = [torch.empty_like(joined, device=on) for _ in range(self.world_size)]
        self._ran(dist.all_gather(gathered, joined.to(on), async_op=True))
        states = [state.cpu() for state in gathered]
        return [{"torch_rng": state[: mine.numel()].clone(),
                 "cuda_rng": None if cuda is None else state[mine.numel():].clone()} for state in states]

    def barrier(self) -> None:
        """Return on every rank once rank 0 has got here: a broadcast from it (no rank can
        receive before rank 0 sends)."""
        import torch
        import torch.distributed as dist

        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        self._ran(dist.broadcast(torch.zeros(1, device=device), src=0, async_op=True))


# ---- one rank ------------------------------------------------------------------------------


def run_rank(
    task: RankTask, rank: int, store, progress: Progress | None = None, *, gpu: int | None = None,
    save: SaveCheckpoint | None = None,
) -> RankResult | None:
    """Train rank `rank` of `task` in this process, joined through `store` (a torch Store);
    rank 0 returns the result, the others None. nccl: on CUDA device `gpu` (default: the rank's
    number, one machine's GPUs shared out). `save`: where rank 0 hands each epoch's checkpoint
    (it must have handed it over when it returns: the ranks go on after it)."""
    from datetime import timedelta

    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from engine.models.neural.checkpoints import StageCheckpoints
    from engine.models.neural.loop import seeded, train_network
    from engine.models.neural.networks import build_network

    if task.backend == "nccl":
        device = torch.device("cuda", rank if gpu is None else gpu)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    threads = torch.get_num_threads()
    if device.type == "cpu":
        # N ranks on one machine: each its share of the cores, not all of them each.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // task.world_size))
    dist.init_process_group(task.backend, store=store, rank=rank, world_size=task.world_size,
                            timeout=timedelta(seconds=task.timeout_seconds))
    shard, replica = Shard(rank, task.world_size), None
    try:
        with seeded(int(task.params["seed"]) + rank, device):  # dropout masks differ by rank
            network = build_network(task.architecture, task.params, task.n_features, task.n_outputs)
            network.load_state_dict(task.initial_state)
            network.to(device)
            replica = DistributedDataParallel(network, device_ids=[device] if device.type == "cuda" else None)
            outcome = train_network(
                replica, _on(task.train, device), _on(task.validation, device),
                params=task.params, task=task.task, device=device, use_amp=task.use_amp,
                progress=_epoch_hook(rank, progress if rank == 0 else None, task.test_exit),
                shard=shard, fingerprint=task.fingerprint,
                checkpoints=None if task.checkpoint_stage is None else StageCheckpoints(
                    _RankStore(task.resume_from, save if rank == 0 else None), task.checkpoint_stage
                ),
            )
        if rank != 0:
            return None
        return RankResult(
            state_dict={name: value.detach().cpu() for name, value in network.state_dict().items()},
            history=outcome.history, best_epoch=outcome.best_epoch,
            best_val_loss=outcome.best_val_loss, stopped_early=outcome.stopped_early,
        )
    finally:
        dist.destroy_process_group()
        # DDP's reducer holds the group's last reference: the group is torn down here, while
        # `shard` still holds the collectives (see Shard.works), and those are freed after it.
        replica = None
        shard.works.clear()
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class _RankStore:
    """A rank's view of the caller's CheckpointStore: the checkpoint the caller found, and rank
    0's hand-over to it (the other ranks never save: loop.train_network asks rank 0 only)."""

    found: bytes | None
    hand_over: SaveCheckpoint | None

    def load(self, stage: str) -> bytes | None:
        return self.found

    def save(self, stage: str, epoch: int, data: bytes) -> None:
        if self.hand_over is not None:
            self.hand_over(epoch, data)


def _on(windows, device):
    if windows is None:
        return None
    from engine.models.neural.loop import WindowSet

    def moved(tensor):
        return None if tensor is None else tensor.to(device)

    return WindowSet(moved(windows.padded), moved(windows.rows), moved(windows.target), moved(windows.weight))


def _epoch_hook(rank: int, progress: Progress | None, exit_at: str) -> Progress:
    where, raising, _ = exit_at.partition(f":{TEST_RAISE}")

    def hook(fraction: float, message: str, values: dict | None = None) -> None:
        if where and values is not None and where == f"{rank}:{values.get('epoch')}":
            if raising:
                raise TestRankFailure(f"rank {rank} failed after epoch {values['epoch']} (test)")
            os._exit(TEST_EXIT_CODE)
        if progress is not None:
            progress(fraction, message, values)

    return hook


# ---- local processes -----------------------------------------------------------------------


def _exit_with_the_launcher(launcher: int, every: float = 1.0) -> None:
    """End this rank once its launcher (process `launcher`, the worker) is gone: a worker killed
    with kill -9 would otherwise leave its ranks waiting on the process group's timeout
    (minutes), holding cores and memory. (The forkserver between them outlives the launcher
    while its ranks run, so a rank's parent tells nothing.)"""
    import threading
    import time

    def watch() -> None:
        while _alive(launcher):
            time.sleep(every)
        os._exit(ORPHANED_EXIT_CODE)

    threading.Thread(target=watch, name="huracan-rank-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not). brain.lease.pid_alive's probe, repeated:
    the engine imports nothing of ours (the import contracts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust the signal probe


def _local_rank(index: int, task: RankTask, address: tuple[str, int], result_path: str, events,
                launcher: int, first_rank: int, gpu: int | None) -> None:
    """Entry point of a rank's process, rank `first_rank + index` (top level: the forkserver
    pickles it by name); it joins the store at `address`."""
    import torch
    import torch.distributed as dist

    _exit_with_the_launcher(launcher)

    host, port = address
    store = dist.TCPStore(host, port, is_master=False, timeout=_timedelta(task.timeout_seconds))

    def report(fraction, message, values=None):
        events.put((fraction, message, values))

    def save(epoch: int, data: bytes) -> None:
        # A file, renamed into place whole: a queue's feeder thread would still be sending it
        # when the launcher stops this rank because another one died.
        folder = Path(result_path).parent
        partial = folder / f"{CHECKPOINT_PREFIX}{epoch:06d}.partial"
        partial.write_bytes(data)
        os.replace(partial, folder / f"{CHECKPOINT_PREFIX}{epoch:06d}.pt")

    rank = first_rank + index
    try:
        result = run_rank(task, rank, store, report, gpu=gpu, save=save)
        if result is not None:
            torch.save(result.as_payload(), result_path)
    except BaseException:
        import traceback

        _leave_failed(store, rank, Path(result_path).parent, _last_line(traceback.format_exc()))


def _leave_failed(store, rank: int, folder: Path, line: str) -> NoReturn:
    """End a rank that raised, at once. Its peers lose their connections to it and fail too: the
    first to fail claims FIRST_FAILURE_KEY before its own connections close, so a launcher names
    it and not a peer. No teardown: a gloo group freed with a collective outstanding deadlocks
    (its worker thread frees the work and waits for the GIL, which the main thread holds while it
    joins that thread), and a rank that never exits holds its peers to the group's timeout."""
    # The line first: a rank that reads this one's number from the store finds its line here.
    _error_file(folder, rank).write_text(line, encoding="utf-8")
    try:
        first = int(store.compare_set(FIRST_FAILURE_KEY, "", str(rank)))
    except Exception:  # the store's host is gone too: this rank cannot tell
        first = rank
    if first != rank:
        _error_file(folder, rank).write_text(str(first), encoding="utf-8")
    os._exit(RAISED_EXIT_CODE if first == rank else AFTER_PEER_EXIT_CODE)


def _error_file(folder: Path, rank: int) -> Path:
    return folder / f"rank{rank}.error"


def _rank_failure(error, rank: int, world_size: int, folder: Path) -> DistributedTrainingError:
    """What a rank's process that exited with `error` (ProcessExitedException) says happened."""
    written = _error_file(folder, rank)
    if error.exit_code == RAISED_EXIT_CODE and written.exists():
        return RankFailed(rank, world_size, False, written.read_text(encoding="utf-8"))
    if error.exit_code == AFTER_PEER_EXIT_CODE and written.exists():
        first = int(written.read_text(encoding="utf-8"))
        theirs = _error_file(folder, first)
        if theirs.exists():  # a rank of this launcher's: its own line
            return RankFailed(first, world_size, False, theirs.read_text(encoding="utf-8"))
        return RankStopped(f"rank {rank} of {world_size} stopped: rank {first} failed first")
    return RankFailed(rank, world_size, True, _exit_reason(error))


class LocalLauncher:
    """N processes on this machine. They come from a forkserver: a fork of this process (which
    may hold torch threads and locks) is unsafe, and a plain spawn pays the torch import (seconds)
    per rank and per fit; the server imports torch and this module once, single-threaded, and
    each rank is a cheap fork of it. The rendezvous store lives in this process, on 127.0.0.1, on
    a port the OS picks. As with any spawn, a script that trains this way guards its entry point
    with `if __name__ == "__main__":`."""

    def run_ranks(self, task: RankTask, progress: Progress | None,
                  save: SaveCheckpoint | None = None) -> RankResult:
        import torch.distributed as dist

        store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                              timeout=_timedelta(task.timeout_seconds))
        result = _run_processes(task, range(task.world_size), ("127.0.0.1", store.port), progress, save)
        assert result is not None  # rank 0 is among them
        return result


def run_rank_process(
    task: RankTask, rank: int, address: tuple[str, int], progress: Progress | None = None,
    save: SaveCheckpoint | None = None, *, gpu: int | None = None,
    stopped: Callable[[], bool] = lambda: False,
) -> RankResult | None:
    """Train rank `rank` of `task` in a forkserver child of this process, joined through the
    store at `address` (host, port), as LocalLauncher runs each of its ranks: rank 0's result, or
    None. RankFailed when that process dies or raises; RankStopped, the process killed, as soon as
    `stopped()` (asked every STOP_POLL_SECONDS) says another rank failed. For a launcher whose
    ranks run in long-lived processes (Dask workers): a rank blocked in a gloo collective waits
    out the group's timeout (gloo's abort does not wake it), and only its process can be ended."""
    return _run_processes(task, range(rank, rank + 1), address, progress, save, gpu=gpu, stopped=stopped)


def _run_processes(
    task: RankTask, ranks: range, address: tuple[str, int], progress: Progress | None,
    save: SaveCheckpoint | None, *, gpu: int | None = None, stopped: Callable[[], bool] = lambda: False,
) -> RankResult | None:
    """Run `ranks` of `task`, one forkserver child each, until they end; see run_rank_process."""
    import queue

    import torch
    import torch.multiprocessing as mp

    context = mp.get_context(START_METHOD)
    context.set_forkserver_preload(FORKSERVER_PRELOAD)
    events = context.Queue()
    with tempfile.TemporaryDirectory(prefix="huracan-ddp-") as folder:
        result_path = str(Path(folder) / "rank0.pt")
        with _children_allowed():
            processes = mp.start_processes(
                _local_rank, args=(task, address, result_path, events, os.getpid(), ranks.start, gpu),
                nprocs=len(ranks), join=False, daemon=True, start_method=START_METHOD,
            )

        def forward_events() -> None:
            reports = []
            while True:
                try:
                    reports.append(events.get_nowait())
                except queue.Empty:
                    break
            # Rank 0 wrote an epoch's checkpoint before reporting the epoch: the store has it
            # before the caller hears of the epoch, as in a single-process fit.
            forward_checkpoints(Path(folder), save)
            for fraction, message, values in reports:
                if progress is not None:
                    progress(fraction, message, values)

        try:
            while not processes.join(timeout=STOP_POLL_SECONDS):
                forward_events()
                if stopped():
                    raise RankStopped(f"rank {ranks.start} of {task.world_size} stopped: another "
                                      "rank of its fit failed")
        except mp.ProcessExitedException as error:  # join has stopped the other ranks
            forward_events()  # what rank 0 saved before it stopped is the resume point
            raise _rank_failure(error, ranks.start + error.error_index, task.world_size,
                                Path(folder)) from None
        except mp.ProcessRaisedException as error:
            forward_events()
            raise RankFailed(ranks.start + error.error_index, task.world_size, False,
                             _last_line(str(error))) from None
        finally:
            # Stopped, or the caller's progress raised (its job was cancelled): no rank goes on.
            for process in processes.processes:
                if process.is_alive():
                    process.kill()
                process.join()
        forward_events()
        if ranks.start != 0:
            return None
        payload = torch.load(result_path, map_location="cpu", weights_only=True)
    return RankResult(**payload)


@contextlib.contextmanager
def _children_allowed() -> Iterator[None]:
    """Let a daemonic process (a Dask worker's, say) start rank processes: multiprocessing refuses
    it children lest they outlive it, and a rank's process ends with its launcher's anyway
    (`_exit_with_the_launcher`; the ranks are daemons, ended when it exits)."""
    import multiprocessing

    me = multiprocessing.current_process()
    daemonic = me.daemon
    me.daemon = False
    try:
        yield
    finally:
        me.daemon = daemonic


def forward_checkpoints(folder: Path, save: SaveCheckpoint | None) -> None:
    """Hand the newest whole checkpoint file in `folder` to `save` and delete them all (the store
    keeps only a stage's newest one; an older one still here was never handed over)."""
    files = sorted(folder.glob(f"{CHECKPOINT_PREFIX}*.pt"))
    if files and save is not None:
        save(int(files[-1].stem.removeprefix(CHECKPOINT_PREFIX)), files[-1].read_bytes())
    for path in files:
        path.unlink()


def _exit_reason(error) -> str:
    if error.signal_name:
        return f"killed by {error.signal_name}"
    return f"exit code {error.exit_code}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def _timedelta(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)


# ---- the estimator's entry -------------------------------------------------------------------


def train_across(
    network, train, validation, *, architecture: str, params: dict, task: str, n_outputs: int,
    settings: DistributedSettings, use_amp: bool = False, progress: Progress | None = None,
    checkpoints=None, fingerprint: str = "",
):
    """Fit `network` (CPU) with `settings.processes` ranks; its weights become rank 0's, and the
    loop's TrainingOutcome is returned. DistributedTrainingError if a rank dies or fails.
    `checkpoints` (StageCheckpoints): rank 0's state is saved there after each epoch, and a
    checkpoint of the same `fingerprint` found there is where every rank starts from."""
    from engine.models.neural.checkpoints import Resumed
    from engine.models.neural.loop import TrainingOutcome, checkpoint_state, train_network

    check_backend_here(settings.processes, settings.backend)
    found = None if checkpoints is None else checkpoints.load()
    saved = None if found is None else checkpoint_state(found, checkpoints.stage, fingerprint)
    if checkpoints is not None and saved is not None and saved["finished"]:
        # That fit had ended: its weights are taken here as loop.py takes them, no rank starts.
        import torch

        return train_network(network, train, validation, params=params, task=task,
                             device=torch.device("cpu"), use_amp=False, progress=progress,
                             checkpoints=checkpoints, fingerprint=fingerprint)
    # Resuming, the ranks are built on the checkpoint's weights: DDP starts every replica from
    # rank 0's parameters, and those are the restored ones (the loop then restores the rest).
    start = network.state_dict() if saved is None else saved["network"]
    rank_task = RankTask(
        architecture=architecture, params=dict(params), n_features=int(train.padded.shape[1]),
        n_outputs=n_outputs, task=task, backend=settings.backend, world_size=settings.processes,
        initial_state={name: value.detach().cpu() for name, value in start.items()},
        train=train, validation=validation, use_amp=use_amp, timeout_seconds=settings.timeout_seconds,
        test_exit=os.environ.get(TEST_EXIT_ENV, ""),
        checkpoint_stage=None if checkpoints is None else checkpoints.stage, fingerprint=fingerprint,
        resume_from=None if saved is None else found,
    )
    save = None if checkpoints is None else checkpoints.save
    result = current_launcher().run_ranks(rank_task, progress, save)
    network.load_state_dict(result.state_dict)
    return TrainingOutcome(
        history=list(result.history), best_epoch=result.best_epoch, best_val_loss=result.best_val_loss,
        stopped_early=result.stopped_early,
        resumed=None if saved is None else Resumed(checkpoints.stage, saved["epoch"], False),
    )

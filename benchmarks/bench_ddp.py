"""Data-parallel LSTM training (torch DDP): N processes against 1, the same global batch.

Both sides fit the same LSTMModel on the same synthetic rows (no validation split, so every
epoch is training only); the distributed side with `processes=N` (engine/models/neural/
distributed.py: ranks forked from a forkserver, each 1/N of every global batch, gradients
averaged by DDP). Printed:

- throughput: training rows per second over the epochs after the first (steady state), and over
  the whole fit (start-up included), N processes / 1 process (torch's default threads, all the
  cores), and against 1 process held to one thread (what each rank gets on 2 cores). The limit
  is N x against the one-thread process; against all cores it is what DDP adds over torch's own
  intra-op threads.
- where the rest goes: start-up (forking ranks, rendezvous, DDP set-up: the whole fit's wall
  time less its epochs) and the gradient all-reduce, measured by timing `all_reduce` of the
  network's gradient size between N ranks, once per optimiser step of an epoch; what is left
  of an epoch is compute.

`run(backend, processes)` returns the figures as a dict; benchmarks/bench_gpu.py calls it with
nccl on GPUs.

Run: .venv/bin/python benchmarks/bench_ddp.py [--rows 4000] [--epochs 3] [--processes 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from engine.models.neural import LSTMModel

PARAMS = {"lookback": 32, "hidden_size": 32, "dropout": 0.0, "batch_size": 256,
          "validation_fraction": 0.0, "seed": 1}


def _rows(n_rows: int, n_features: int = 8):
    generator = np.random.default_rng(0)
    X = generator.normal(size=(n_rows, n_features))
    return X, 0.3 * np.roll(X[:, 0], 1) + generator.normal(scale=0.5, size=n_rows)


def _fit(X, y, *, processes: int, backend: str, epochs: int) -> tuple[float, list[float], int]:
    device = "cpu" if backend == "gloo" else "cuda"
    model = LSTMModel(**PARAMS, max_epochs=epochs, processes=processes, backend=backend, device=device)
    started = time.perf_counter()
    model.fit(X, y)
    wall = time.perf_counter() - started
    n_params = sum(value.numel() for value in model.network_.parameters())
    return wall, [record["seconds"] for record in model.history_], n_params


def _allreduce_rank(rank: int, world: int, port: int, backend: str, n_params: int, steps: int, out) -> None:
    from datetime import timedelta

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    store = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=timedelta(seconds=120))
    dist.init_process_group(backend, store=store, rank=rank, world_size=world)
    device = torch.device("cuda", rank) if backend == "nccl" else torch.device("cpu")
    gradient = torch.ones(n_params, device=device)
    for _ in range(3):  # warm-up: the first calls set up the connections
        dist.all_reduce(gradient)
    dist.barrier()
    started = time.perf_counter()
    for _ in range(steps):
        dist.all_reduce(gradient)
    if device.type == "cuda":
        torch.cuda.synchronize()
    if rank == 0:
        out.put(time.perf_counter() - started)
    dist.destroy_process_group()


def _allreduce_seconds(backend: str, processes: int, n_params: int, steps: int) -> float:
    from datetime import timedelta

    import torch.distributed as dist
    import torch.multiprocessing as mp

    store = dist.TCPStore("127.0.0.1", 0, is_master=True, wait_for_workers=False,
                          timeout=timedelta(seconds=120))
    context = mp.get_context("spawn")
    out = context.Queue()
    mp.start_processes(_allreduce_rank, args=(processes, store.port, backend, n_params, steps, out),
                       nprocs=processes, join=True, start_method="spawn")
    return float(out.get())


def run(backend: str = "gloo", processes: int = 2, *, rows: int = 4000, epochs: int = 3) -> dict:
    """Figures of `processes` ranks against one process, same global batch (see the docstring)."""
    import torch

    X, y = _rows(rows)
    threads = torch.get_num_threads()
    one_wall, one_epochs, n_params = _fit(X, y, processes=1, backend=backend, epochs=epochs)
    torch.set_num_threads(1)  # the same process with one thread, as each rank has on 2 cores
    try:
        _, single_thread_epochs, _ = _fit(X, y, processes=1, backend=backend, epochs=epochs)
    finally:
        torch.set_num_threads(threads)
    steady_single_thread = np.mean(single_thread_epochs[1:] or single_thread_epochs)
    many_wall, many_epochs, _ = _fit(X, y, processes=processes, backend=backend, epochs=epochs)
    steady_one, steady_many = np.mean(one_epochs[1:] or one_epochs), np.mean(many_epochs[1:] or many_epochs)
    steps = -(-rows // PARAMS["batch_size"])
    allreduce = _allreduce_seconds(backend, processes, n_params, steps)
    return {
        "backend": backend,
        "processes": processes,
        "rows": rows,
        "epochs": epochs,
        "gradient_floats": n_params,
        "threads_of_1": threads,
        "epoch_seconds_1": round(float(steady_one), 4),
        "epoch_seconds_1_one_thread": round(float(steady_single_thread), 4),
        "epoch_seconds_n": round(float(steady_many), 4),
        "throughput_ratio_steady": round(float(steady_one / steady_many), 3),
        "throughput_ratio_vs_one_thread": round(float(steady_single_thread / steady_many), 3),
        "throughput_ratio_whole_fit": round(one_wall / many_wall, 3),
        "startup_seconds_n": round(many_wall - sum(many_epochs), 3),
        "allreduce_seconds_per_epoch": round(allreduce, 4),
        "allreduce_share_of_epoch": round(allreduce / float(steady_many), 3),
        "compute_seconds_per_epoch_n": round(float(steady_many) - allreduce, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--backend", default="gloo", choices=("gloo", "nccl"))
    args = parser.parse_args()
    figures = run(args.backend, args.processes, rows=args.rows, epochs=args.epochs)
    for name, value in figures.items():
        print(f"{name:>28}: {value}")
    print(f"\n{args.processes} {args.backend} processes vs 1: {figures['throughput_ratio_steady']}x rows/s "
          f"per epoch (limit {args.processes}x), {figures['throughput_ratio_whole_fit']}x over the whole fit")


if __name__ == "__main__":
    main()

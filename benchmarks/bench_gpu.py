"""GPU figures in one short run: neural epochs on the CPU against CUDA (with AMP), the agents'
training steps per second on both, and data-parallel training over the GPUs present.

1. lstm, transformer and cnn, each trained through our estimator (the product's training loop,
   seeded and deterministic as in production) for --epochs epochs on a synthetic matrix
   (--rows x --features, the target a lagged feature plus noise, lookback --lookback): seconds
   per epoch (training + validation pass, from the model's own history; the first epoch is
   left out where there are more, as warm-up) on the CPU, on CUDA in float32, and on CUDA with
   automatic mixed precision (amp=True), and the CPU / CUDA ratios.
2. dqn and ppo_sizing (engine/models/rl_kinds.py): environment steps per second of a whole fit of
   --timesteps steps, on the CPU and on CUDA (tiny MLPs: a GPU is not expected to win).
3. benchmarks/bench_ddp.py's run(backend="nccl", processes=<GPUs>) where that file exists and
   there are two GPUs or more.

Without CUDA it prints "CUDA not available: ..." and the CPU figures, and exits 0.
Run: .venv/bin/python benchmarks/bench_gpu.py [--quick] [--rows 50000] [--epochs 3]
--quick: a CPU smoke run (2,000 rows x 8 features, lookback 16, 2 epochs, 512 agent steps).
Budget: under 5 minutes on an H200 machine (16 cores) with the defaults.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.models import MODEL_CLASSES, make_model  # noqa: E402

NEURAL_KINDS = ("lstm", "transformer", "cnn")
AGENT_KINDS = ("dqn", "ppo_sizing")


def synthetic(rows: int, features: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    return X, np.concatenate([[0.0], X[:-1, 0]]) + rng.normal(size=rows)


def epoch_seconds(kind: str, X, y, *, device: str, amp: bool, args) -> tuple[float, str]:
    """(seconds per epoch, the device it ran on) of one fit through the estimator."""
    model = make_model(kind, lookback=args.lookback, batch_size=args.batch, max_epochs=args.epochs,
                       patience=args.epochs, device=device, amp=amp, seed=0)  # fmt: skip
    model.fit(X, y)
    seconds = [record["seconds"] for record in model.history_]
    steady = seconds[1:] if len(seconds) > 1 else seconds
    return float(np.mean(steady)), f"{model.device_}{' amp' if model.amp_used_ else ''}"


def agent_rate(kind: str, X, y, *, device: str, timesteps: int) -> float:
    """Environment steps per wall second of one whole fit (set-up included)."""
    params = {"total_timesteps": timesteps, "device": device, "seed": 0}
    if kind == "dqn":
        params["learning_starts"] = min(500, timesteps // 4)
    model = make_model(kind, **params)
    started = time.perf_counter()
    model.fit(X, y)
    return model.history_[-1]["timesteps"] / (time.perf_counter() - started)


def describe_machine(torch) -> str | None:
    """Print what the run is on; return why CUDA cannot be used, or None."""
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads, {platform.processor() or platform.machine()}")  # fmt: skip
    if not torch.cuda.is_available():
        built = torch.version.cuda
        why = "this torch is built without CUDA" if built is None else f"torch for CUDA {built} sees no GPU"
        print(f"CUDA not available: {why}; CPU figures only")
        return why
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        print(f"GPU {index}: {props.name}, {props.total_memory / 2**30:.1f} GiB, "
              f"compute capability {props.major}.{props.minor}, {props.multi_processor_count} SMs; "
              f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")  # fmt: skip
    return None


def neural_section(args, cuda: bool) -> None:
    X, y = synthetic(args.rows, args.features)
    print(f"\n1. neural epochs: {args.rows:,} rows x {args.features} features, lookback {args.lookback}, "
          f"batch {args.batch}, {args.epochs} epochs (s per epoch, the first left out)")  # fmt: skip
    header = f"{'kind':<12}{'cpu':>10}"
    if cuda:
        header += f"{'cuda fp32':>12}{'cuda amp':>12}{'cpu/fp32':>10}{'cpu/amp':>10}"
    print(header)
    for kind in NEURAL_KINDS:
        cpu, _ = epoch_seconds(kind, X, y, device="cpu", amp=False, args=args)
        line = f"{kind:<12}{cpu:>10.3f}"
        if cuda:
            fp32, _ = epoch_seconds(kind, X, y, device="cuda", amp=False, args=args)
            amp, where = epoch_seconds(kind, X, y, device="cuda", amp=True, args=args)
            assert where.endswith("amp"), f"{kind}: amp was not used on {where}"
            line += f"{fp32:>12.3f}{amp:>12.3f}{cpu / fp32:>9.1f}x{cpu / amp:>9.1f}x"
        print(line, flush=True)


def agent_section(args, cuda: bool) -> None:
    # A return column the agents find (X[t + 1, 0] is the bar's return y[t] / 1e4) and noise.
    rng = np.random.default_rng(1)
    rows = 2000
    y = rng.normal(scale=50.0, size=rows)
    X = np.column_stack([np.concatenate([[0.0], y[:-1] / 1e4]), rng.normal(size=(rows, 6))])
    print(f"\n2. agents: {args.timesteps:,} environment steps per fit, {rows} bars x {X.shape[1]} features "
          "(steps per wall second, set-up included)")  # fmt: skip
    for kind in AGENT_KINDS:
        inputs = np.column_stack([np.zeros(rows), X]) if kind == "ppo_sizing" else X  # a null signal column
        cpu = agent_rate(kind, inputs, y, device="cpu", timesteps=args.timesteps)
        line = f"{kind:<12} cpu {cpu:>9,.0f} steps/s"
        if cuda:
            gpu = agent_rate(kind, inputs, y, device="cuda", timesteps=args.timesteps)
            line += f"   cuda {gpu:>9,.0f} steps/s   cuda/cpu {gpu / cpu:.2f}x"
        print(line, flush=True)


def ddp_section(torch, cuda: bool) -> None:
    print("\n3. data-parallel training (DDP, NCCL)")
    try:
        from benchmarks.bench_ddp import run
    except ImportError as error:
        print(f"skipped: benchmarks/bench_ddp.py is not importable here ({error})")
        return
    if not cuda:
        print("skipped: no CUDA, so no NCCL (bench_ddp.py's own gloo run covers the CPU)")
        return
    gpus = torch.cuda.device_count()
    if gpus < 2:
        print(f"skipped: {gpus} GPU here; NCCL data parallelism needs one GPU per process")
        return
    figures = run(backend="nccl", processes=gpus)
    for name, value in figures.items():
        print(f"{name:>28}: {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a CPU smoke run of seconds")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--lookback", type=int, default=32)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--timesteps", type=int, default=4096)
    parser.add_argument("--skip-agents", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.features, args.lookback, args.epochs, args.timesteps = 2000, 8, 16, 2, 512
    started = time.perf_counter()

    import torch

    cuda = describe_machine(torch) is None
    neural_section(args, cuda)
    if args.skip_agents:
        print("\n2. agents: skipped (--skip-agents)")
    else:
        missing = [kind for kind in AGENT_KINDS if MODEL_CLASSES[kind].unavailable_reason()]
        if missing:  # stable-baselines3 / gymnasium not installed on this machine
            print(f"\n2. agents: skipped: {MODEL_CLASSES[missing[0]].unavailable_reason()}")
        else:
            agent_section(args, cuda)
    ddp_section(torch, cuda)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

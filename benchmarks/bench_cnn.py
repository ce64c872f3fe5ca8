"""CNN (temporal convolution network) epochs through Huracan's wrapper versus a bare torch loop.

Data: the bundled EURUSD hourly bars -> engine.features.add_features -> fwd_ret_1 target (as in
bench_neural.py), or a synthetic matrix with --rows N. Both sides: the same network (the
TemporalConvNet module the `cnn` kind builds, same seed), the same standardisation (training
rows), windows of `lookback` rows, AdamW, batch size, MSE loss, gradient clipping, shuffled
batches over the first 80% of the rows and one validation pass over the last 20%.

Timed: a whole fit with 1 epoch (set-up weighs most) and with --epochs epochs (the epochs weigh
most), wrapper (CNNModel.fit) against the bare loop, --repeats interleaved runs of each, by CPU
time of the process and by wall clock; ratios of the best and of the medians.

Run: .venv/bin/python benchmarks/bench_cnn.py [--repeats 5] [--epochs 4] [--device cpu] [--threads 2]
Target: wrapper / bare <= 1.1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_neural import eurusd_matrix, report, timed  # noqa: E402
from engine.models.neural import CNNModel, resolve_device  # noqa: E402
from engine.models.neural.networks import build_network  # noqa: E402


def bare_fit(X, y, cfg, device, epochs: int) -> list[float]:
    """The plain loop a person would write around the same module; each epoch's seconds."""
    torch.manual_seed(cfg["seed"])
    n = X.shape[0]
    n_val = round(n * 0.2)
    train_end = n - n_val - 1  # the same purge of one row as the wrapper's horizon=1
    mean, std = X[:train_end].mean(0), X[:train_end].std(0)
    y_mean, y_std = y[:train_end].mean(), y[:train_end].std()
    Xs = torch.tensor((X - mean) / std, dtype=torch.float32)
    Xs = torch.cat([torch.zeros(cfg["lookback"] - 1, X.shape[1]), Xs])
    windows = Xs.unfold(0, cfg["lookback"], 1).transpose(1, 2).contiguous().to(device)  # (n, L, f)
    target = torch.tensor((y - y_mean) / y_std, dtype=torch.float32, device=device)
    model = build_network("cnn", cfg, X.shape[1], 1).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.0)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(cfg["seed"])
    seconds = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(train_end, generator=generator).to(device)
        for start in range(0, train_end, cfg["batch_size"]):
            rows = order[start : start + cfg["batch_size"]]
            optimizer.zero_grad()
            loss = loss_fn(model(windows[rows]).squeeze(-1), target[rows])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            optimizer.step()
        model.eval()
        with torch.no_grad():
            float(loss_fn(model(windows[n - n_val :]).squeeze(-1), target[n - n_val :]))
        seconds.append(time.perf_counter() - started)
    return seconds


def synthetic_matrix(rows: int, features: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, features))
    return X, np.concatenate([[0.0], X[:-1, 0]]) + rng.normal(size=rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--rows", type=int, default=0, help="synthetic rows instead of EURUSD (0: EURUSD)")
    parser.add_argument("--lookback", type=int, default=32)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--kernel-size", type=int, default=3)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the longer run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = {
        "lookback": args.lookback,
        "channels": args.channels,
        "kernel_size": args.kernel_size,
        "levels": args.levels,
        "dropout": 0.1,
        "lr": 1e-3,
        "batch_size": args.batch,
        "grad_clip": 1.0,
        "seed": 0,
        "device": args.device,
    }
    X, y = synthetic_matrix(args.rows) if args.rows else eurusd_matrix()
    device = resolve_device(args.device)
    print(
        f"{'synthetic' if args.rows else 'EURUSD hourly'}: {X.shape[0]} rows x {X.shape[1]} features; "
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; CNN lookback "
        f"{args.lookback}, channels {args.channels}, kernel {args.kernel_size}, levels {args.levels}, "
        f"batch {args.batch}"
    )

    def wrapper_fit(epochs: int) -> None:
        CNNModel(**cfg, max_epochs=epochs, patience=epochs, validation_fraction=0.2).fit(X, y)

    def bare(epochs: int) -> None:
        bare_fit(X, y, cfg, device, epochs)

    wrapper_fit(1), bare(1)  # warm-up: first-call costs are nobody's epoch
    rows = []
    for epochs in (1, args.epochs):
        ours, theirs = [], []
        for _ in range(args.repeats):  # interleaved, so load on the machine hits both sides alike
            ours.append(timed(lambda epochs=epochs: wrapper_fit(epochs)))
            theirs.append(timed(lambda epochs=epochs: bare(epochs)))
        rows.append((epochs, np.array(ours), np.array(theirs)))
    print(f"best / median of {args.repeats} interleaved runs; target wrapper / bare <= 1.1")
    for epochs, ours, theirs in rows:
        for column, clock in ((1, "CPU time"), (0, "wall clock")):
            report(f"fit, {epochs} epoch(s), {clock}", ours[:, column], theirs[:, column])


if __name__ == "__main__":
    main()

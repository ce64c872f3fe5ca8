"""One LSTM epoch through Huracan's wrapper versus a bare torch loop on the same data.

Data: the bundled EURUSD hourly bars -> engine.features.add_features -> fwd_ret_1 target.
Both sides: the same standardisation (training rows), windows of `lookback` rows, the same
nn.LSTM + dropout + linear head, AdamW, batch size, MSE loss, gradient clipping, shuffled
batches over the first 80% of the rows and one validation pass over the last 20%.

Timed: a whole fit with 1 epoch (set-up weighs most) and with --epochs epochs (the epochs weigh
most), wrapper (LSTMModel.fit) against the bare loop, --repeats interleaved runs of each, by CPU
time of the process (steady on a shared machine) and by wall clock; ratios of the best and of
the medians.

Run: .venv/bin/python benchmarks/bench_neural.py [--repeats 7] [--epochs 4] [--device cpu] [--threads 2]
Target: wrapper / bare <= 1.15.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl
import torch
from torch import nn

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import add_features, feature_columns
from engine.models.neural import LSTMModel, resolve_device
from engine.targets import add_forward_return, target_name


def eurusd_matrix() -> tuple[np.ndarray, np.ndarray]:
    frame = add_forward_return(add_features(load_ohlcv(bundled_path("EURUSD"))), 1)
    needed = [*feature_columns(), target_name(1)]
    usable = frame.drop_nulls(needed).filter(pl.all_horizontal(pl.col(needed).is_finite()))
    return usable.select(feature_columns()).to_numpy().astype(float), usable[target_name(1)].to_numpy()


class BareLSTM(nn.Module):
    def __init__(self, n_features: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.rnn = nn.LSTM(
            n_features, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


def bare_fit(X, y, cfg, device, epochs: int) -> list[float]:
    """The plain loop a person would write; returns each epoch's seconds (train + validation)."""
    torch.manual_seed(cfg["seed"])
    n = X.shape[0]
    n_val = round(n * 0.2)
    train_end = n - n_val - 1  # same purge of one row as the wrapper's horizon=1
    mean, std = X[:train_end].mean(0), X[:train_end].std(0)
    y_mean, y_std = y[:train_end].mean(), y[:train_end].std()
    Xs = torch.tensor((X - mean) / std, dtype=torch.float32)
    Xs = torch.cat([torch.zeros(cfg["lookback"] - 1, X.shape[1]), Xs])
    windows = Xs.unfold(0, cfg["lookback"], 1).transpose(1, 2).contiguous().to(device)  # (n, L, f)
    target = torch.tensor((y - y_mean) / y_std, dtype=torch.float32, device=device)
    model = BareLSTM(X.shape[1], cfg["hidden_size"], cfg["num_layers"], cfg["dropout"]).to(device)
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
            loss = loss_fn(model(windows[rows]), target[rows])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            optimizer.step()
        model.eval()
        with torch.no_grad():
            float(loss_fn(model(windows[n - n_val :]), target[n - n_val :]))
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave torch's default)")
    parser.add_argument("--lookback", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4, help="epochs of the longer run")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = {
        "lookback": args.lookback,
        "hidden_size": args.hidden,
        "num_layers": args.layers,
        "dropout": 0.1,
        "lr": 1e-3,
        "batch_size": args.batch,
        "grad_clip": 1.0,
        "seed": 0,
        "device": args.device,
    }
    X, y = eurusd_matrix()
    device = resolve_device(args.device)
    print(
        f"EURUSD hourly: {X.shape[0]} rows x {X.shape[1]} features; device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; LSTM lookback {args.lookback}, "
        f"hidden {args.hidden}, layers {args.layers}, batch {args.batch}"
    )

    def wrapper_fit(epochs: int) -> None:
        LSTMModel(**cfg, max_epochs=epochs, patience=epochs, validation_fraction=0.2).fit(X, y)

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
    print(f"best / median of {args.repeats} interleaved runs; target wrapper / bare <= 1.15")
    for epochs, ours, theirs in rows:
        for column, clock in ((1, "CPU time"), (0, "wall clock")):
            report(f"fit, {epochs} epoch(s), {clock}", ours[:, column], theirs[:, column])


def report(label: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    best = ours.min() / theirs.min()
    median = np.median(ours) / np.median(theirs)
    print(
        f"{label:>30}: wrapper {ours.min() * 1e3:7.1f} ms  bare torch {theirs.min() * 1e3:7.1f} ms  "
        f"ratio {best:.3f} best, {median:.3f} median"
    )


def timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of run()."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


if __name__ == "__main__":
    main()

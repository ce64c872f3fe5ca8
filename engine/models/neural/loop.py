"""The torch side of fitting: seeding, windows, the epoch loop with early stopping, prediction.

Imported only inside fit / predict / from_bytes (see networks.py for why).
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

PREDICT_BATCH_ROWS = 4096


@dataclass
class WindowSet:
    """Rows of one time-ordered matrix to cut windows from, on the training device.

    `padded` is the standardised matrix with `lookback - 1` rows of zeros (the training mean)
    in front, so the window of row t is padded[t : t + lookback] = rows t - lookback + 1 .. t.
    """

    padded: torch.Tensor  # (n + lookback - 1, n_features) float32
    rows: torch.Tensor  # int64 row numbers whose windows this set holds
    target: torch.Tensor | None = None  # indexed by row number: float32 or int64 class codes
    weight: torch.Tensor | None = None  # indexed by row number, float32

    def windows(self, rows: torch.Tensor, lookback: int) -> torch.Tensor:
        # unfold is a view (no copy of the n x lookback x features windows); indexing it copies
        # just this batch's windows, which is cheaper than a gather of row numbers.
        return self.padded.unfold(0, lookback, 1)[rows].transpose(1, 2).contiguous()


@dataclass
class TrainingOutcome:
    history: list[dict]
    best_epoch: int
    best_val_loss: float | None
    stopped_early: bool


def padded_tensor(standardised: np.ndarray, lookback: int, device: torch.device) -> torch.Tensor:
    values = torch.from_numpy(np.ascontiguousarray(standardised, dtype=np.float32))
    padding = torch.zeros(lookback - 1, values.shape[1], dtype=torch.float32)
    return torch.cat([padding, values]).to(device)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch, numpy and random for one fit, and put every generator back afterwards.

    Deterministic algorithms are switched on for the fit only (warn_only: an op without a
    deterministic version warns rather than fails) and the previous settings restored, so a
    fit does not change the process it runs in.
    """
    if device.type == "cuda":
        # cuBLAS needs this before its first call to be deterministic; harmless if already set.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if device.type == "cuda":
        forked = [device.index if device.index is not None else torch.cuda.current_device()]
    else:
        forked = [0] if device.type == "mps" else []
    device_type = device.type if device.type in ("cuda", "mps") else None
    numpy_state, python_state = np.random.get_state(), random.getstate()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn_flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    was_filling = torch.utils.deterministic.fill_uninitialized_memory
    with torch.random.fork_rng(devices=forked, device_type=device_type):
        try:
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            torch.use_deterministic_algorithms(True, warn_only=True)
            # Filling every torch.empty with NaN (a debugging aid of deterministic mode) cost
            # ~15% of an LSTM epoch on the CPU (benchmarks/bench_neural.py) and changes no
            # result: nothing here reads uninitialised memory. These switches are process-wide:
            # fits run one per worker process, never two at once in threads of one process.
            torch.utils.deterministic.fill_uninitialized_memory = False
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn_flags
            torch.utils.deterministic.fill_uninitialized_memory = was_filling
            np.random.set_state(numpy_state)
            random.setstate(python_state)


def train_network(
    network: nn.Module,
    train: WindowSet,
    validation: WindowSet | None,
    *,
    params: dict,
    task: str,
    device: torch.device,
    use_amp: bool,
    progress=None,
) -> TrainingOutcome:
    """Fit `network` in place; with validation data stop after `patience` epochs without a
    better validation loss and load the best epoch's weights back. Losses are on the scale the
    network sees (regression: standardised target; classification: cross-entropy)."""
    lookback, batch_size, max_epochs = params["lookback"], params["batch_size"], params["max_epochs"]
    optimizer = torch.optim.AdamW(network.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    loss_of = _loss_function(task)
    # The batch order comes from its own CPU generator: same seed, same order, on any device.
    order = torch.Generator().manual_seed(params["seed"])
    n_train = train.rows.numel()

    history: list[dict] = []
    best_loss, best_epoch, best_state, since_best = float("inf"), 0, None, 0
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        network.train()
        shuffled = train.rows[torch.randperm(n_train, generator=order).to(device)]
        total = torch.zeros((), device=device)
        for start in range(0, n_train, batch_size):
            rows = shuffled[start : start + batch_size]
            windows = train.windows(rows, lookback)
            weight = train.weight[rows] if train.weight is not None else None
            optimizer.zero_grad(set_to_none=True)
            with _mixed_precision(device, use_amp):
                outputs = network(windows)
            loss = loss_of(outputs.float(), train.target[rows], weight)
            _step(loss, network, optimizer, scaler, params["grad_clip"])
            total += loss.detach() * rows.numel()
        train_loss = float(total) / n_train
        if not np.isfinite(train_loss):
            raise ValueError(
                f"training diverged: the loss is {train_loss} at epoch {epoch}; lower lr or set grad_clip"
            )
        val_loss = (
            evaluate_loss(network, validation, task, device, use_amp, lookback)
            if validation is not None
            else None
        )

        improved = val_loss is None or val_loss < best_loss
        if improved:
            best_loss = val_loss if val_loss is not None else best_loss
            best_epoch, since_best = epoch, 0
            if validation is not None:
                best_state = {name: value.detach().clone() for name, value in network.state_dict().items()}
        else:
            since_best += 1
        record = {
            "epoch": epoch,
            "loss": train_loss,
            "val_loss": val_loss,
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        if progress is not None:
            progress(
                epoch / max_epochs,
                _epoch_message(record, max_epochs),
                {
                    **record,
                    "max_epochs": max_epochs,
                    "device": str(device),
                    "best_val_loss": None if validation is None else best_loss,
                },
            )
        if validation is not None and since_best >= params["patience"]:
            break

    if best_state is not None:
        network.load_state_dict(best_state)
    return TrainingOutcome(
        history=history,
        best_epoch=best_epoch,
        best_val_loss=None if validation is None else best_loss,
        stopped_early=len(history) < max_epochs,
    )


def _mixed_precision(device: torch.device, use_amp: bool):
    """float16 autocast on CUDA when asked for; elsewhere nothing (not even a disabled autocast)."""
    return torch.autocast(device_type="cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()


def _step(loss, network, optimizer, scaler, grad_clip) -> None:
    if scaler is None:
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(network.parameters(), grad_clip)
        optimizer.step()
        return
    scaler.scale(loss).backward()
    if grad_clip:
        scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        nn.utils.clip_grad_norm_(network.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()


def _loss_function(task: str):
    if task == "regression":

        def regression_loss(outputs, target, weight):
            if weight is None:
                return nn.functional.mse_loss(outputs.squeeze(-1), target)
            return (((outputs.squeeze(-1) - target) ** 2) * weight).sum() / weight.sum()

        return regression_loss

    def classification_loss(outputs, target, weight):
        if weight is None:
            return nn.functional.cross_entropy(outputs, target)
        losses = nn.functional.cross_entropy(outputs, target, reduction="none")
        return (losses * weight).sum() / weight.sum()

    return classification_loss


@torch.no_grad()
def evaluate_loss(network, data: WindowSet, task, device, use_amp, lookback) -> float:
    """Unweighted mean loss over `data`'s windows, in eval mode (no dropout)."""
    outputs = network_outputs(network, data, device, use_amp, lookback)
    return float(_loss_function(task)(outputs, data.target[data.rows], None))


@torch.no_grad()
def network_outputs(network, data: WindowSet, device, use_amp, lookback) -> torch.Tensor:
    """Raw outputs (n_rows, n_outputs) float32 for every row in data.rows, in eval mode."""
    network.eval()
    chunks = []
    for start in range(0, data.rows.numel(), PREDICT_BATCH_ROWS):
        rows = data.rows[start : start + PREDICT_BATCH_ROWS]
        with _mixed_precision(device, use_amp):
            chunks.append(network(data.windows(rows, lookback)).float())
    return torch.cat(chunks)


def _epoch_message(record: dict, max_epochs: int) -> str:
    message = f"epoch {record['epoch']}/{max_epochs}: loss {record['loss']:.4g}"
    if record["val_loss"] is not None:
        message += f", val_loss {record['val_loss']:.4g}"
    return message

"""The torch side of fitting: seeding, windows, the epoch loop with early stopping, prediction.

Imported only inside fit / predict / from_bytes (see networks.py for why).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.models.neural.checkpoints import FORMAT as CHECKPOINT_FORMAT
from engine.models.neural.checkpoints import Resumed, StageCheckpoints

log = logging.getLogger(__name__)

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
    resumed: Resumed | None = None  # the checkpoint the fit took up from, if it did


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
    # Named only for a device with generators: torch 2.11 refuses device_type=None (2.13 takes it).
    fork_device = {"device_type": device.type} if device.type in ("cuda", "mps") else {}
    numpy_state, python_state = np.random.get_state(), random.getstate()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn_flags = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    was_filling = torch.utils.deterministic.fill_uninitialized_memory
    with torch.random.fork_rng(devices=forked, **fork_device):
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
    shard=None,
    checkpoints: StageCheckpoints | None = None,
    fingerprint: str = "",
) -> TrainingOutcome:
    """Fit `network` in place; with validation data stop after `patience` epochs without a
    better validation loss and load the best epoch's weights back. Losses are on the scale the
    network sees (regression: standardised target; classification: cross-entropy).
    `shard` (distributed.Shard): this rank's share of each batch in a DDP fit; None: all of it.
    In a DDP fit `network` is the DistributedDataParallel wrapper; rank 0 saves the checkpoints
    (every rank holds the same weights) with each rank's dropout generators, and each rank
    takes its own generators back from one."""
    # `checkpoints`: after each epoch the whole training state (weights, optimizer, scaler, best
    # epoch so far, patience count, the batch-order and dropout generators) is saved there; a fit
    # that finds a checkpoint of the same inputs (`fingerprint`) continues after its epoch and
    # ends where an uninterrupted fit would have, bit for bit on the CPU.
    lookback, batch_size, max_epochs = params["lookback"], params["batch_size"], params["max_epochs"]
    # What is saved and restored: the network's own keys, as a single process has them.
    plain = network if shard is None else network.module
    optimizer = torch.optim.AdamW(network.parameters(), lr=params["lr"], weight_decay=params["weight_decay"])
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    loss_of = _loss_function(task)
    # The batch order comes from its own CPU generator: same seed, same order, on any device.
    order = torch.Generator().manual_seed(params["seed"])
    n_train = train.rows.numel()

    history: list[dict] = []
    best_loss, best_epoch, best_state, since_best = float("inf"), 0, None, 0
    first_epoch, resumed = 1, None
    saved = saved_state(checkpoints, fingerprint)
    if checkpoints is not None and saved is not None:
        _restore(saved, plain, optimizer, scaler, order, device, shard)
        # Interned keys, as the fresh records' literals are: pickle's memo then writes a resumed
        # fit's history, and so its artifact, byte for byte as an uninterrupted fit's.
        history = [{sys.intern(name): value for name, value in record.items()} for record in saved["history"]]
        best_loss = float(saved["best_loss"])
        best_epoch, since_best, first_epoch = saved["best_epoch"], saved["since_best"], saved["epoch"] + 1
        best_state = _on(saved["best_state"], device)
        resumed = Resumed(checkpoints.stage, saved["epoch"], saved["finished"])
        if saved["finished"]:
            first_epoch = max_epochs + 1
        if progress is not None:
            progress(saved["epoch"] / max_epochs, resumed.describe(),
                     {"resumed_from_epoch": saved["epoch"], "resumed_finished": saved["finished"],
                      "max_epochs": max_epochs, "device": str(device)})
    for epoch in range(first_epoch, max_epochs + 1):
        started = time.perf_counter()
        network.train()
        shuffled = train.rows[torch.randperm(n_train, generator=order).to(device)]
        total = torch.zeros((), device=device)
        for start in range(0, n_train, batch_size):
            rows = batch = shuffled[start : start + batch_size]
            share = 1.0
            if shard is not None:
                rows, share = shard.rows_of(batch, train.weight)
            windows = train.windows(rows, lookback)
            weight = train.weight[rows] if train.weight is not None else None
            optimizer.zero_grad(set_to_none=True)
            with _mixed_precision(device, use_amp):
                outputs = network(windows)
            loss = loss_of(outputs.float(), train.target[rows], weight)
            if shard is not None:
                loss = loss * share
            _step(loss, network, optimizer, scaler, params["grad_clip"])
            total += loss.detach() * batch.numel()
        train_loss = float(total if shard is None else shard.total(total)) / n_train
        if not np.isfinite(train_loss):
            raise ValueError(
                f"training diverged: the loss is {train_loss} at epoch {epoch}; lower lr or set grad_clip"
            )
        val_loss = (
            evaluate_loss(network, validation, task, device, use_amp, lookback)
            if validation is not None
            else None
        )
        if shard is not None:
            val_loss = shard.agree(val_loss)

        improved = val_loss is None or val_loss < best_loss
        if improved:
            best_loss = val_loss if val_loss is not None else best_loss
            best_epoch, since_best = epoch, 0
            if validation is not None:
                best_state = {name: value.detach().clone() for name, value in plain.state_dict().items()}
        else:
            since_best += 1
        record = {
            "epoch": epoch,
            "loss": train_loss,
            "val_loss": val_loss,
            "seconds": time.perf_counter() - started,
        }
        history.append(record)
        stopping = validation is not None and since_best >= params["patience"]
        if checkpoints is not None:
            rank_rngs = None if shard is None else shard.gather_rngs(device)  # every rank takes part
            if shard is None or shard.rank == 0:
                state = {"epoch": epoch, "finished": stopping or epoch == max_epochs, "history": history,
                         "best_loss": best_loss, "best_epoch": best_epoch, "since_best": since_best,
                         "best_state": best_state, "rank_rngs": rank_rngs}
                data = _checkpoint_bytes(state, fingerprint, plain, optimizer, scaler, order, device)
                checkpoints.save(epoch, data)
            if shard is not None:
                # No rank goes on (or dies) before rank 0 has handed this epoch's checkpoint over.
                shard.barrier()
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
        if stopping:
            break

    if best_state is not None:
        plain.load_state_dict(best_state)
    return TrainingOutcome(
        history=history,
        best_epoch=best_epoch,
        best_val_loss=None if validation is None else best_loss,
        stopped_early=len(history) < max_epochs,
        resumed=resumed,
    )


def _checkpoint_bytes(state: dict, fingerprint: str, network, optimizer, scaler, order, device) -> bytes:
    """torch.save of the training state after an epoch: tensors and plain containers only."""
    payload = {
        **state,
        "format": CHECKPOINT_FORMAT,
        "fingerprint": fingerprint,
        "network": _on(network.state_dict(), torch.device("cpu")),
        "best_state": _on(state["best_state"], torch.device("cpu")),
        "optimizer": optimizer.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "order_rng": order.get_state(),
        # Dropout draws from the global generators: a resumed epoch must draw what it would have.
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def saved_state(checkpoints: StageCheckpoints | None, fingerprint: str) -> dict | None:
    """The stage's checkpoint when it was made from this fit's inputs; None to start over (none,
    one made from other bars or parameters, or bytes that are not a weights-only checkpoint)."""
    if checkpoints is None or (data := checkpoints.load()) is None:
        return None
    return checkpoint_state(data, checkpoints.stage, fingerprint)


def checkpoint_state(data: bytes, stage: str, fingerprint: str) -> dict | None:
    """saved_state of the bytes `data` of `stage`'s checkpoint."""
    try:
        saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        log.warning("not resuming %s: its checkpoint is not a weights-only torch file (%s)",
                    stage, str(error).splitlines()[0])
        return None
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        log.warning("not resuming %s: its checkpoint is not %s", stage, CHECKPOINT_FORMAT)
        return None
    if saved.get("fingerprint") != fingerprint:
        log.info("not resuming %s: its checkpoint was made from other inputs", stage)
        return None
    return saved


def _restore(saved: dict, network, optimizer, scaler, order, device: torch.device, shard=None) -> None:
    network.load_state_dict(saved["network"])  # strict: the same architecture, every weight
    optimizer.load_state_dict(saved["optimizer"])  # moves its state onto the parameters' device
    if scaler is not None and saved["scaler"] is not None:
        scaler.load_state_dict(saved["scaler"])
    order.set_state(saved["order_rng"])
    # A DDP rank draws its own dropout masks (seeded by rank): it takes its own generators back.
    rngs = saved if shard is None else saved["rank_rngs"][shard.rank]
    torch.set_rng_state(rngs["torch_rng"])
    if device.type == "cuda" and rngs["cuda_rng"] is not None:
        torch.cuda.set_rng_state(rngs["cuda_rng"], device)


def _on(state: dict | None, device: torch.device) -> dict | None:
    """A copy of a state_dict on `device` (a checkpoint's tensors are saved from the CPU)."""
    if state is None:
        return None
    return {name: value.detach().to(device, copy=True) for name, value in state.items()}


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

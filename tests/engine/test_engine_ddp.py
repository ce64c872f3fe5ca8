"""Data-parallel training (engine/models/neural/distributed.py): two gloo processes with the same
global batch reach the weights one process reaches; a rank that dies fails the fit in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.neural import LSTMModel
from engine.models.neural.distributed import TEST_EXIT_ENV, DistributedTrainingError

# No dropout: the two fits must draw no random numbers beyond the shared batch order.
SMALL = {"lookback": 6, "hidden_size": 8, "dropout": 0.0, "batch_size": 32, "max_epochs": 3,
         "patience": 1, "validation_fraction": 0.2, "device": "cpu", "seed": 7}


def series(n_rows: int = 170, seed: int = 0):
    generator = np.random.default_rng(seed)
    X = generator.normal(size=(n_rows, 3))
    y = 0.5 * np.roll(X[:, 0], 1) + generator.normal(scale=0.5, size=n_rows)
    return X, y, generator.uniform(0.5, 2.0, size=n_rows)


def test_two_gloo_processes_reach_the_weights_of_one_process():
    # 170 rows: 135 train after the holdout and purge, so the last global batch of 7 splits 4 / 3
    # and the sample weights differ per rank: the loss scaling must make both exact.
    X, y, weight = series()
    one = LSTMModel(**SMALL).fit(X, y, sample_weight=weight)
    epochs = []
    two = LSTMModel(**SMALL, processes=2).fit(
        X, y, sample_weight=weight, progress=lambda fraction, message, values: epochs.append(values)
    )

    steps = len(one.history_) * -(-135 // SMALL["batch_size"])
    assert steps >= 10
    first, second = one.network_.state_dict(), two.network_.state_dict()
    assert first.keys() == second.keys()
    worst = max(float((first[name] - second[name]).abs().max()) for name in first)
    assert worst <= 1e-6, f"weights differ by {worst} after {steps} steps"
    # the same early-stopping decisions, with rank 0's epochs reported to the caller
    assert [r["epoch"] for r in two.history_] == [r["epoch"] for r in one.history_]
    assert two.best_epoch_ == one.best_epoch_
    assert [values["epoch"] for values in epochs] == [r["epoch"] for r in two.history_]
    np.testing.assert_allclose([r["loss"] for r in two.history_], [r["loss"] for r in one.history_],
                               rtol=1e-5)
    np.testing.assert_allclose(two.predict(X), one.predict(X), atol=1e-5)
    assert two.get_params()["processes"] == 2 and two.get_params()["backend"] == "gloo"
    assert type(two).from_bytes(two.to_bytes()).processes == 2


def test_a_rank_that_dies_fails_the_fit_in_one_line(monkeypatch):
    X, y, _ = series()
    monkeypatch.setenv(TEST_EXIT_ENV, "1:1")  # rank 1 vanishes after its first epoch
    model = LSTMModel(**{**SMALL, "max_epochs": 50, "patience": 50}, processes=2)
    with pytest.raises(DistributedTrainingError, match=r"^rank 1 of 2 died: exit code 3; no model"):
        model.fit(X, y)
    assert not hasattr(model, "network_")


@pytest.mark.parametrize(("params", "message"), [
    ({"processes": 0}, "lstm parameter processes must be a whole number >= 1, got 0"),
    ({"processes": True}, "lstm parameter processes must be a whole number >= 1, got True"),
    ({"backend": "mpi"}, "lstm parameter backend must be one of gloo, nccl, got 'mpi'"),
])
def test_bad_distributed_params_are_refused_at_construction(params, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        LSTMModel(**params)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_nccl_without_cuda_is_refused_before_any_rank_starts():
    X, y, _ = series()
    with pytest.raises(ValueError, match="^backend nccl needs CUDA, which this machine lacks"):
        LSTMModel(**SMALL, processes=2, backend="nccl").fit(X, y)


LAUNCHER = """
import sys
from engine.models.neural import LSTMModel
from tests.engine.test_engine_ddp import SMALL, series

X, y, weight = series()
LSTMModel(**{**SMALL, "max_epochs": 100000, "patience": 100000}, processes=2).fit(
    X, y, progress=lambda *_: print("epoch", flush=True))
"""


def _children() -> dict[int, list[int]]:
    from pathlib import Path

    found: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return found


def test_ranks_end_when_their_launcher_is_killed():
    # A worker killed with kill -9 mid-fit: its ranks must not wait out the process group's
    # timeout (minutes) holding the cores; each ends within seconds of its launcher.
    import subprocess
    import sys

    from brain.lease import pid_alive
    from tests.waiting import wait_until

    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], stdout=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout is not None and launcher.stdout.readline().strip() == "epoch"
        children = _children()
        ranks = [rank for server in children.get(launcher.pid, []) for rank in children.get(server, [])]
        assert len(ranks) == 2, children.get(launcher.pid)
        launcher.kill()
        launcher.wait()
        wait_until(lambda: not any(pid_alive(rank) for rank in ranks), timeout=60,
                   what="the ranks of a killed launcher ended")
    finally:
        launcher.kill()

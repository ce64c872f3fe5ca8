"""The CNN kinds (temporal convolution network): causal at every step of the window, reading
exactly its receptive field, the same bytes from the same seed, checked parameters, a planted
lagged signal found, a search space it accepts, and `huracan models` listing it.

The shapes, round trips and early stopping every neural kind shares are in
test_engine_neural.py (parametrised over "cnn" too).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from engine.models import zoo
from engine.models.neural import CNNClassifier, CNNModel
from engine.models.neural.kinds import receptive_field
from engine.models.neural.networks import TemporalConvNet
from engine.tuning import SEARCH_SPACES

TINY = {"lookback": 8, "channels": 8, "kernel_size": 2, "levels": 2, "max_epochs": 2, "batch_size": 64,
        "seed": 0}  # fmt: skip


def lagged_signal(n_rows: int, seed: int = 0, noise: float = 1.0):
    """Three noise features; the target is the previous bar's first feature plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3))
    signal = np.concatenate([[0.0], X[:-1, 0]])
    return X, signal + noise * rng.normal(size=n_rows)


def test_every_step_of_the_network_reads_only_earlier_steps():
    torch.manual_seed(0)
    network = TemporalConvNet(n_features=3, channels=4, kernel_size=3, levels=3, dropout=0.0, n_outputs=1)
    network.eval()
    windows = torch.randn(2, 40, 3)
    with torch.no_grad():
        before = network.blocks(windows.transpose(1, 2))
        for t in (0, 10, 25, 38):
            changed = windows.clone()
            changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :]) * 100
            after = network.blocks(changed.transpose(1, 2))
            torch.testing.assert_close(after[:, :, : t + 1], before[:, :, : t + 1], rtol=0, atol=0)
            assert not torch.allclose(after[:, :, t + 1 :], before[:, :, t + 1 :])


def test_a_prediction_reads_its_receptive_field_and_nothing_before_it():
    X, y = lagged_signal(200)
    field = receptive_field(kernel_size=2, levels=2)
    assert field == 7
    model = CNNModel(**{**TINY, "lookback": 12}).fit(X, y)
    before = model.predict(X)
    t = 150
    # Rows before the field (t - 7 and earlier) change, and the prediction for t does not ...
    far = X.copy()
    far[: t - field + 1] = 50.0
    assert model.predict(far)[t] == before[t]
    # ... while the oldest row inside it does move it.
    near = X.copy()
    near[t - field + 1] += 5.0
    assert model.predict(near)[t] != pytest.approx(before[t], abs=1e-6)
    # Later rows never do.
    later = X.copy()
    later[t + 1 :] = -50.0
    np.testing.assert_array_equal(model.predict(later)[: t + 1], before[: t + 1])


@pytest.mark.parametrize("cls", [CNNModel, CNNClassifier])
def test_same_seed_gives_the_same_artifact_bytes(cls):
    X, y = lagged_signal(160, seed=2)
    target = (y > 0).astype(int) if cls is CNNClassifier else y
    first = cls(**TINY).fit(X, target).to_bytes()
    assert cls(**TINY).fit(X, target).to_bytes() == first
    assert cls(**{**TINY, "seed": 1}).fit(X, target).to_bytes() != first
    restored = cls.from_bytes(first)
    assert restored.get_params() == cls(**TINY).get_params()


def test_a_planted_lagged_signal_is_found():
    X, y = lagged_signal(450, seed=1)
    # One level of kernel 2 reads three bars: enough for a one-bar lag, and quick to train.
    model = CNNModel(**{**TINY, "lookback": 3, "levels": 1, "max_epochs": 6, "lr": 0.03, "dropout": 0.0})
    predictions = model.fit(X[:300], y[:300]).predict(X[300:])
    truth = np.concatenate([[0.0], X[:-1, 0]])[300:]
    assert stats.spearmanr(predictions, truth).statistic > 0.7


def test_parameters_are_checked_by_name_and_the_width_must_match_for_a_warm_start():
    defaults = CNNModel().get_params()
    assert (defaults["channels"], defaults["kernel_size"], defaults["levels"]) == (32, 3, 4)
    assert receptive_field(3, 4) == 61 >= CNNModel().lookback  # the defaults read the whole window
    for bad, message in [
        ({"kernel_size": 1}, "kernel_size must be a whole number >= 2, got 1"),
        ({"levels": 0}, "levels must be a whole number >= 1, got 0"),
        ({"levels": 13}, "levels must be at most 12, got 13"),
        ({"channels": 2.5}, "channels must be a whole number >= 1, got 2.5"),
    ]:
        with pytest.raises(ValueError, match=message):
            CNNModel(**bad)
    with pytest.raises(ValueError, match="unknown parameter.*'cnn' model: heads"):
        CNNModel(heads=2)
    X, y = lagged_signal(120)
    previous = CNNModel(**TINY).fit(X, y)
    with pytest.raises(ValueError, match=r"architecture differs \(channels 8 -> 16\)"):
        CNNModel(**{**TINY, "channels": 16}).fit(X, y, init_model=previous)
    warm = CNNModel(**{**TINY, "max_epochs": 1}).fit(X, y, init_model=previous)
    assert warm.warm_started_


def test_every_value_of_the_search_space_is_a_valid_cnn():
    for kind in ("cnn", "cnn_classifier"):
        space = SEARCH_SPACES[kind]
        assert "hidden_size" not in space  # the CNN does not read it
        for end in (1, 2):
            values = {name: spec[1][0 if end == 1 else -1] if spec[0] == "choice" else spec[end]
                      for name, spec in space.items()}  # fmt: skip
            CNNModel(**values)


def test_the_zoo_and_huracan_models_list_both_kinds_with_their_card():
    entries = {entry["kind"]: entry for entry in zoo() if entry["kind"].startswith("cnn")}
    assert set(entries) == {"cnn", "cnn_classifier"}
    assert entries["cnn_classifier"]["task"] == "classification"
    done = subprocess.run([str(Path(sys.executable).parent / "huracan"), "models", "cnn", "--json"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)["models"]
    assert (entry["family"], entry["library"], entry["available"]) == ("neural", "torch", True)
    assert "causal dilated" in entry["purpose"] and entry["default_params"]["levels"] == 4

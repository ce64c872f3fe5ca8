"""Neural models (torch): shapes, exact round trips, determinism, early stopping, progress,
devices, causality, warm start, and a planted lagged signal that must be found.

Tiny networks and a few hundred rows keep this file to seconds on two CPU cores.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from engine.models.base import ModelCard
from engine.models.neural import NEURAL_MODEL_CLASSES, LSTMModel, TransformerModel, resolve_device

REGRESSORS = ["lstm", "gru", "bilstm_attention", "transformer", "cnn"]
CLASSIFIERS = [f"{kind}_classifier" for kind in REGRESSORS]
CUDA = torch.cuda.is_available()


def tiny(kind: str, **overrides):
    """A small, fast model of `kind`; overrides win."""
    params = {"lookback": 6, "hidden_size": 8, "num_layers": 1, "max_epochs": 3, "batch_size": 64, "seed": 0}
    if kind.startswith(("bilstm_attention", "transformer")):
        params["heads"] = 2
    if kind.startswith("transformer"):
        params["d_model"] = 8
    if kind.startswith("cnn"):
        params.update(channels=8, kernel_size=2, levels=2)  # reads 7 bars: the whole window
    return NEURAL_MODEL_CLASSES[kind](**{**params, **overrides})


def lagged_signal(n_rows: int, seed: int = 0, noise: float = 1.0):
    """Three noise features; the target is yesterday's first feature plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3))
    signal = np.concatenate([[0.0], X[:-1, 0]])
    return X, signal + noise * rng.normal(size=n_rows), signal


@pytest.fixture(scope="module")
def data():
    X, y, _ = lagged_signal(240)
    return X, y


def labels_of(kind: str, y: np.ndarray) -> np.ndarray:
    return (y > 0).astype(int) if kind.endswith("_classifier") else y


def test_every_kind_is_registered_with_a_neural_card():
    assert sorted(NEURAL_MODEL_CLASSES) == sorted(REGRESSORS + CLASSIFIERS)
    for kind, cls in NEURAL_MODEL_CLASSES.items():
        assert cls.kind == kind and cls.artifact_format == "torch-state-dict"
        assert isinstance(cls.card, ModelCard)
        assert (cls.card.kind, cls.card.family, cls.card.library) == (kind, "neural", "torch")
        assert cls.card.task == cls.task == ("classification" if kind in CLASSIFIERS else "regression")
        assert set(cls.library_versions()) == {"torch", "numpy"}


def test_importing_the_package_does_not_import_torch():
    code = "import engine.models.neural, json, sys; print(json.dumps('torch' in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) is False


@pytest.mark.parametrize("kind", REGRESSORS + CLASSIFIERS)
def test_fit_predicts_one_value_per_row_and_round_trips_exactly(data, kind):
    X, y = data
    y = labels_of(kind, y)
    model = tiny(kind)
    assert model.fit(X[:200], y[:200]) is model
    predictions = model.predict(X[200:])
    assert predictions.shape == (40,)
    loaded = type(model).from_bytes(model.to_bytes())
    np.testing.assert_array_equal(loaded.predict(X[200:]), predictions)
    assert loaded.get_params() == model.get_params()
    # The artifact keeps every epoch's numbers but not its wall-clock seconds (same training,
    # same bytes).
    untimed = [{name: v for name, v in record.items() if name != "seconds"} for record in model.history_]
    assert loaded.history_ == untimed
    if kind in CLASSIFIERS:
        probabilities = model.predict_proba(X[200:])
        assert probabilities.shape == (40, 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
        np.testing.assert_array_equal(predictions, model.classes_[probabilities.argmax(axis=1)])
        np.testing.assert_array_equal(loaded.predict_proba(X[200:]), probabilities)
    else:
        assert np.isfinite(predictions).all() and predictions.std() > 0


def test_artifact_holds_only_tensors_and_plain_containers(data):
    X, y = data
    model = tiny("lstm").fit(X, y)
    payload = torch.load(io.BytesIO(model.to_bytes()), weights_only=True)
    assert payload["kind"] == "lstm" and payload["n_features"] == 3
    assert set(payload["state_dict"]) == set(model.network_.state_dict())
    assert payload["feature_mean"] == pytest.approx(X[: len(X) - 48 - 1].mean(axis=0).tolist())
    assert [record["epoch"] for record in payload["history"]] == [1, 2, 3]


class NotWeights:
    """Something a weights-only load must refuse."""


def test_odd_artifacts_are_refused(data):
    X, y = data
    smuggled = io.BytesIO()
    torch.save({"format": "huracan-neural/1", "kind": "lstm", "extra": NotWeights()}, smuggled)
    with pytest.raises(ValueError, match="NotWeights, not only tensors"):
        LSTMModel.from_bytes(smuggled.getvalue())
    with pytest.raises(ValueError, match="refusing .lstm. artifact: not a torch"):
        LSTMModel.from_bytes(b"garbage")
    gru_artifact = tiny("gru").fit(X, y).to_bytes()
    with pytest.raises(ValueError, match="holds a 'gru' model, not 'lstm'"):
        LSTMModel.from_bytes(gru_artifact)


@pytest.mark.parametrize("kind", ["lstm", "transformer", "cnn"])
def test_same_data_and_seed_give_identical_predictions(data, kind):
    X, y = data
    first = tiny(kind, seed=5).fit(X, y).predict(X)
    second = tiny(kind, seed=5).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, tiny(kind, seed=6).fit(X, y).predict(X))


def test_fitting_leaves_the_process_random_state_and_flags_alone(data):
    X, y = data
    torch.manual_seed(123)
    np.random.seed(123)
    expected_torch, expected_numpy = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123)
    np.random.seed(123)
    tiny("gru").fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected_torch)
    np.testing.assert_array_equal(np.random.rand(3), expected_numpy)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.utils.deterministic.fill_uninitialized_memory  # torch's default, put back


def test_early_stopping_stops_on_noise_and_restores_the_best_epoch():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(300, 3)), rng.normal(size=300)
    model = tiny("lstm", lr=0.05, max_epochs=40, patience=2, validation_fraction=0.3).fit(X, y)
    history = model.history_
    assert model.stopped_early_ and len(history) < 40
    val_losses = [record["val_loss"] for record in history]
    assert model.best_epoch_ == 1 + int(np.argmin(val_losses)) == len(history) - 2
    assert model.best_val_loss_ == min(val_losses)
    # The weights in the model are the best epoch's: its loss on the held-out rows (in the
    # standardised target units the network trains in) is the best, not the last, one.
    held_out = slice(300 - 90, 300)
    standardised_error = (model.predict(X)[held_out] - y[held_out]) / model.target_std_
    assert np.mean(standardised_error**2) == pytest.approx(model.best_val_loss_, rel=1e-5)
    assert np.mean(standardised_error**2) != pytest.approx(val_losses[-1], rel=1e-5)


def test_progress_is_reported_once_per_epoch_with_losses(data):
    X, y = data
    calls = []
    model = tiny("gru", max_epochs=4, patience=10).fit(
        X, y, progress=lambda fraction, message, extra: calls.append((fraction, message, extra))
    )
    assert len(calls) == 4 == len(model.history_)
    assert [fraction for fraction, _, _ in calls] == [0.25, 0.5, 0.75, 1.0]
    for (_, message, extra), record in zip(calls, model.history_, strict=True):
        assert extra["epoch"] == record["epoch"] and extra["device"] == str(model.device_)
        assert np.isfinite(extra["loss"]) and np.isfinite(extra["val_loss"])
        assert (extra["loss"], extra["val_loss"]) == (record["loss"], record["val_loss"])
        assert message.startswith(f"epoch {record['epoch']}/4: loss ") and "val_loss" in message
    info = model.info()
    assert info["history"] == model.history_ and info["epochs_run"] == 4
    assert info["card"]["family"] == "neural" and info["device"] == str(model.device_)


def test_explicit_validation_data_is_used_instead_of_a_holdout(data):
    X, y = data
    model = tiny("lstm", validation_fraction=0.5).fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    # No holdout: the scaler saw all 150 training rows.
    np.testing.assert_allclose(model.feature_mean_, X[:150].mean(axis=0))
    assert all(record["val_loss"] is not None for record in model.history_)
    with pytest.raises(ValueError, match="X_val and y_val together"):
        tiny("lstm").fit(X, y, X_val=X)


def test_without_validation_all_epochs_run_and_the_last_state_is_kept(data):
    X, y = data
    model = tiny("gru", validation_fraction=0.0, max_epochs=3).fit(X, y)
    assert [record["val_loss"] for record in model.history_] == [None, None, None]
    assert model.best_epoch_ == 3 and not model.stopped_early_
    np.testing.assert_allclose(model.feature_mean_, X.mean(axis=0))


def test_device_auto_cpu_and_missing_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == (
        "cuda" if CUDA else "mps" if torch.backends.mps.is_available() else "cpu"
    )
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        LSTMModel(device="gpu")
    if not CUDA:
        with pytest.raises(
            ValueError, match=r"device 'cuda' was requested but CUDA is not available .*torch "
        ):
            resolve_device("cuda")
        X, y, _ = lagged_signal(60)
        with pytest.raises(ValueError, match="CUDA is not available"):
            tiny("lstm", device="cuda").fit(X, y)


def test_mixed_precision_is_off_away_from_cuda(data):
    X, y = data
    model = tiny("lstm", amp=True, device="cpu").fit(X, y)
    assert model.amp_used_ is False
    np.testing.assert_array_equal(
        model.predict(X), tiny("lstm", amp=False, device="cpu").fit(X, y).predict(X)
    )


@pytest.mark.parametrize("kind", ["lstm", "bilstm_attention", "transformer", "cnn"])
def test_predictions_never_read_later_rows(data, kind):
    X, y = data
    model = tiny(kind).fit(X, y)
    before = model.predict(X)
    changed = X.copy()
    changed[150:] = np.random.default_rng(9).normal(size=changed[150:].shape) * 10
    np.testing.assert_array_equal(model.predict(changed)[:150], before[:150])
    # ... and the prediction for row t reads rows t - lookback + 1 .. t, nothing earlier either.
    window = X[100 - model.lookback + 1 : 101]
    assert model.predict(window)[-1] == pytest.approx(before[100], rel=1e-5, abs=1e-6)


def test_a_planted_lagged_signal_is_found_and_shuffled_targets_score_like_chance():
    X, y, _ = lagged_signal(600, seed=1)
    train, test = slice(0, 450), slice(450, 600)

    def out_of_sample(target: np.ndarray) -> tuple[float, float]:
        model = tiny("lstm", lookback=4, max_epochs=6, lr=0.02, dropout=0.0, batch_size=32)
        predictions = model.fit(X[train], target).predict(X[test])
        r2 = 1 - np.mean((y[test] - predictions) ** 2) / np.mean((y[test] - target.mean()) ** 2)
        return stats.spearmanr(predictions, y[test]).statistic, r2

    planted_ic, planted_r2 = out_of_sample(y[train])
    assert planted_ic > 0.3 and planted_r2 > 0.2
    # Trained on shuffled targets, it shrinks towards the mean and has no skill: its forecasts
    # do no better than the training mean (a random function of the inputs may still rank-
    # correlate with the planted signal by chance, so R² is the honest measure here).
    _, shuffled_r2 = out_of_sample(np.random.default_rng(4).permutation(y[train]))
    assert shuffled_r2 < 0.02


def test_warm_start_begins_at_the_previous_loss_level():
    X, y, _ = lagged_signal(500, seed=1)
    settings = {"lookback": 4, "lr": 0.02, "dropout": 0.0, "batch_size": 32, "patience": 20}
    previous = tiny("lstm", max_epochs=6, **settings).fit(X[:400], y[:400])
    fresh = tiny("lstm", max_epochs=1, **settings).fit(X[100:], y[100:])
    warm = tiny("lstm", max_epochs=1, **settings).fit(X[100:], y[100:], init_model=previous)
    restored = LSTMModel.from_bytes(previous.to_bytes())
    warm_from_artifact = tiny("lstm", max_epochs=1, **settings).fit(X[100:], y[100:], init_model=restored)
    assert warm.warm_started_ and not fresh.warm_started_
    assert warm.history_[0]["val_loss"] < 0.75 * fresh.history_[0]["val_loss"]
    assert warm.history_[0]["val_loss"] < 1.2 * previous.best_val_loss_
    np.testing.assert_array_equal(warm_from_artifact.predict(X), warm.predict(X))
    with pytest.raises(ValueError, match=r"architecture differs \(hidden_size 8 -> 16\)"):
        tiny("lstm", hidden_size=16).fit(X, y, init_model=previous)
    with pytest.raises(ValueError, match="cannot warm start a 'gru' model from a 'lstm'"):
        tiny("gru").fit(X, y, init_model=previous)


def test_sample_weights_change_the_fit_and_must_be_sensible(data):
    X, y = data
    weights = np.linspace(0.0, 2.0, len(y))
    plain = tiny("lstm").fit(X, y).predict(X)
    weighted = tiny("lstm").fit(X, y, sample_weight=weights).predict(X)
    assert not np.array_equal(plain, weighted)
    with pytest.raises(ValueError, match="sample_weight must be finite, non-negative"):
        tiny("lstm").fit(X, y, sample_weight=np.zeros(len(y)))


def test_parameters_are_checked_by_name():
    assert LSTMModel().get_params()["lookback"] == 32
    assert TransformerModel(heads=2, d_model=8).get_params()["d_model"] == 8
    with pytest.raises(ValueError, match="unknown parameter.*'lstm' model: heads"):
        LSTMModel(heads=4)
    with pytest.raises(ValueError, match="lookback must be a whole number >= 1, got 0"):
        LSTMModel(lookback=0)
    with pytest.raises(ValueError, match="dropout must be a number >= 0.0 and < 1.0"):
        LSTMModel(dropout=1.5)
    with pytest.raises(ValueError, match=r"heads \(3\) must divide d_model \(8\)"):
        TransformerModel(heads=3, d_model=8)
    with pytest.raises(ValueError, match=r"heads \(3\) must divide 2 x hidden_size"):
        NEURAL_MODEL_CLASSES["bilstm_attention"](heads=3, hidden_size=8)


def test_bad_input_gets_one_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="not fitted yet"):
        LSTMModel().predict(X)
    broken = X.copy()
    broken[7, 2] = np.nan
    with pytest.raises(ValueError, match="X has NaN or inf at row 7, column 2"):
        tiny("lstm").fit(broken, y)
    with pytest.raises(ValueError, match="too few rows"):
        tiny("lstm").fit(X[:3], y[:3])
    model = tiny("lstm").fit(X, y)
    with pytest.raises(ValueError, match="X has 2 columns but the model was trained on 3"):
        model.predict(X[:, :2])
    assert model.predict(X[:0]).shape == (0,)
    with pytest.raises(ValueError, match="at least two classes"):
        tiny("lstm_classifier").fit(X, np.ones(len(y), dtype=int))


def test_context_rows_give_the_first_predictions_full_windows(data):
    X, y = data
    model = tiny("gru").fit(X, y)
    start = 120
    with_context = model.predict(X[start - model.context_rows :])[model.context_rows :]
    np.testing.assert_allclose(with_context, model.predict(X)[start:], rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.predict(X[start:])[:3], model.predict(X)[start : start + 3])


@pytest.mark.parametrize("labels", [np.array([-1, 0, 1]), np.array(["buy", "hold", "sell"])])
def test_classifier_labels_survive_the_round_trip(data, labels):
    X, y = data
    target = labels[np.digitize(y, [-0.5, 0.5])]
    model = tiny("gru_classifier").fit(X, target)
    np.testing.assert_array_equal(model.classes_, labels)
    loaded = type(model).from_bytes(model.to_bytes())
    np.testing.assert_array_equal(loaded.classes_, labels)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert set(model.predict(X)) <= set(labels) and model.predict_proba(X).shape == (len(X), 3)


def test_the_zoo_lists_the_neural_kinds_without_importing_torch():
    code = (
        "import json, sys\n"
        "from engine.models import zoo\n"
        "entries = {e['kind']: e for e in zoo() if e['family'] == 'neural'}\n"
        "print(json.dumps([sorted(entries), entries['transformer']['default_params']['d_model'],\n"
        "                  'torch' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    kinds, d_model, torch_imported = json.loads(done.stdout)
    assert kinds == sorted(REGRESSORS + CLASSIFIERS) and d_model == 32 and torch_imported is False

"""A spec's preprocessing steps fitted in order on training rows (engine.preprocessing.fit_steps),
saved in skops format and loaded back under a trust list."""

import numpy as np
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import FEATURES, add_features
from engine.preprocessing import fit_steps, load_steps
from engine.spec import parse_spec


def steps(*documents):
    return parse_spec({"model": {"kind": "linear"}, "preprocessing": list(documents)}).preprocessing


@pytest.fixture(scope="module")
def data():
    frame = add_features(load_ohlcv(bundled_path("EURUSD"), symbol="EURUSD")).drop_nulls(FEATURES)
    X = frame.select(FEATURES).to_numpy()
    y = np.roll(X[:, 0], -1) * 1e4  # next bar's return, bps
    return X[:-1], y[:-1]


def test_steps_run_in_order_and_name_their_outputs(data):
    X, y = data
    fitted = fit_steps(
        steps(
            {"step": "impute"},
            {"step": "scale"},
            {"step": "select", "top_k": 4},
            {"step": "pca", "variance": 0.9},
        ),
        X,
        y,
        FEATURES,
        task="regression",
        seed=1,
    )
    assert fitted.output_names[0] == "pc_1" and len(fitted.output_names) <= 4
    assert fitted.transform(X).shape == (X.shape[0], len(fitted.output_names))
    selecting = fit_steps(
        steps({"step": "select", "by": "mutual_info", "top_k": 3}), X, y, FEATURES, task="regression", seed=1
    )
    assert len(selecting.output_names) == 3 and set(selecting.output_names) <= set(FEATURES)
    assert list(selecting.output_names) == [n for n in FEATURES if n in selecting.output_names]


def test_no_steps_hand_the_inputs_on_untouched(data):
    X, y = data
    fitted = fit_steps((), X, y, FEATURES, task="regression", seed=1)
    assert fitted.transform(X) is X and fitted.to_bytes() is None


def test_saved_steps_load_back_to_the_same_numbers_and_untrusted_types_are_refused(data):
    X, y = data
    chosen = steps(
        {"step": "outliers", "method": "winsorize"},
        {"step": "scale", "method": "robust"},
        {"step": "select", "threshold": 0.1},
        {"step": "pca", "variance": 1},
    )
    fitted = fit_steps(chosen, X, y, FEATURES, task="regression", seed=3)
    saved = fitted.to_bytes()
    assert saved == fit_steps(chosen, X, y, FEATURES, task="regression", seed=3).to_bytes()  # reproducible
    loaded = load_steps(saved, chosen, FEATURES)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    assert loaded.output_names == fitted.output_names
    import skops.io
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    hostile = skops.io.dumps(Pipeline([("f", FunctionTransformer(eval))]))  # would call eval on load use
    with pytest.raises(ValueError, match="refusing preprocessing artifact"):
        load_steps(hostile, chosen, FEATURES)


def test_outlier_removal_drops_training_rows_only_and_missing_values_need_an_imputer(data):
    X, y = data
    fitted = fit_steps(
        steps({"step": "outliers", "method": "remove", "z_threshold": 3}, {"step": "scale"}),
        X,
        y,
        FEATURES,
        task="regression",
        seed=1,
    )
    assert 0 < (~fitted.kept).sum() < X.shape[0] * 0.2
    assert fitted.transform(X).shape[0] == X.shape[0]  # every row is still predicted
    holes = X.copy()
    holes[::7, 2] = np.nan
    with pytest.raises(ValueError, match="add an impute step"):
        fit_steps(steps({"step": "scale"}), holes, y, FEATURES, task="regression", seed=1)
    imputed = fit_steps(
        steps({"step": "impute", "strategy": "median"}, {"step": "scale"}),
        holes,
        y,
        FEATURES,
        task="regression",
        seed=1,
    )
    assert np.isfinite(imputed.transform(holes)).all()

"""One pipeline: a version's spec (recipe, preprocessing, target, alt data, kind) through training.

Honest evaluation through every step: each fold's preprocessing and selection see only that
fold's training rows (a spy on the real fit), a series with nothing to find still scores like
chance, and a planted signal is still found through imputation, clipping, scaling, PCA and
selection."""

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

import engine.preprocessing
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.pipeline import input_columns, make_spec, spec_of_manifest, version_features
from engine.serving import load_servable
from engine.spec import SpecError, VersionSpec
from engine.training import train_model

ALL_STEPS = (
    {"step": "impute", "strategy": "median"},
    {"step": "outliers", "method": "winsorize"},
    {"step": "scale", "method": "robust"},
    {"step": "pca", "variance": 0.99},
    {"step": "select", "by": "importance", "top_k": 6},
)


@pytest.fixture(scope="module")
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG")


def random_walk(n: int, seed: int) -> pl.DataFrame:
    """OHLCV bars whose log returns are iid: nothing in their past says anything of their future."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    spread = np.abs(rng.normal(0, 0.004, n)) * close
    start = pl.datetime(2020, 1, 1, time_zone="UTC")
    return pl.DataFrame(
        {
            "ts": pl.datetime_range(start, start + pl.duration(days=n - 1), "1d", eager=True),
            "symbol": "RW",
            "open": close * (1 + rng.normal(0, 0.002, n)),
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": rng.integers(1_000, 10_000, n).astype(float),
        }
    ).with_columns(
        pl.max_horizontal("open", "high", "close").alias("high"),
        pl.min_horizontal("open", "low", "close").alias("low"),
    )


def sentiment(bars: pl.DataFrame, values: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"ts": bars["ts"], "symbol": bars["symbol"], "score": values})


def test_the_default_spec_is_the_core_recipe_stored_whole_and_hashed(goog):
    result = train_model(goog, "linear", timeframe="1d", n_folds=2)
    manifest = result.manifest
    spec = VersionSpec.from_json(manifest.spec)
    assert spec.features.recipe == "core" and spec.preprocessing == ()
    assert spec.target.kind == "fwd_ret" and manifest.target == "fwd_ret_1"
    assert manifest.spec_sha256 == spec.digest()
    assert (
        list(manifest.features)
        == input_columns(spec)
        == ["ret_1", "log_ret_1", "ret_5", "vol_20", "sma_20_ratio", "rsi_14", "hl_range", "volume_z_20"]
    )
    assert result.preprocessor is None and manifest.preprocessor is None
    # A manifest from before specs existed reads as the spec it was trained under.
    legacy = {key: value for key, value in manifest.to_json().items() if key not in ("spec", "spec_sha256")}
    assert spec_of_manifest(legacy).digest() == make_spec("linear", params={}).digest()


def test_full_recipe_pca_net_edge_trains_stores_its_steps_and_serves_them(goog):
    spec = make_spec(
        "lightgbm",
        recipe="full",
        target="net_edge",
        horizon=5,
        preprocessing=({"step": "scale"}, {"step": "pca", "variance": 0.95}),
        params={"n_estimators": 20},
    )
    result = train_model(
        goog,
        "lightgbm",
        timeframe="1d",
        n_folds=3,
        cost_bps=2.0,
        spec=spec,
        importance=("native", "shap", "permutation"),
    )
    manifest = result.manifest
    assert manifest.target == "net_edge_bps_5" and manifest.horizon == 5
    assert len(manifest.features) == 45
    outputs = manifest.preprocessor["outputs"]
    assert outputs[0] == "pc_1" and len(outputs) < 45
    assert set(result.importances) == {"native", "shap", "permutation"}
    assert set(result.importances["shap"]) == set(outputs)  # the model's inputs
    assert set(result.importances["permutation"]) == set(manifest.features)  # the raw inputs

    # Serving applies the fitted steps: the sha256 in the manifest addresses the bytes.
    import hashlib

    store = {hashlib.sha256(result.preprocessor).hexdigest(): result.preprocessor}
    artifact_sha = hashlib.sha256(result.artifact).hexdigest()
    serving = load_servable(
        manifest.to_json(), result.artifact, sha256=artifact_sha, load_artifact=store.__getitem__
    )
    predictions = serving.predict_frame(goog)
    assert predictions.height > 2000 and np.isfinite(predictions["prediction"].to_numpy()).all()
    # Bytes that no longer hash to the manifest's address are refused before loading.
    with pytest.raises(ValueError, match="sha256"):
        load_servable(
            manifest.to_json(),
            result.artifact,
            sha256=artifact_sha,
            load_artifact=lambda _address: result.preprocessor + b"x",
        )


def test_each_folds_preprocessing_sees_only_its_training_rows(goog, monkeypatch):
    seen = []
    real = engine.preprocessing.fit_steps

    def spy(steps, X, y, names, **options):
        seen.append(np.array(X, copy=True))
        return real(steps, X, y, names, **options)

    monkeypatch.setattr(engine.preprocessing, "fit_steps", spy)
    spec = make_spec("linear", recipe="full", preprocessing=ALL_STEPS)
    result = train_model(goog, "linear", timeframe="1d", n_folds=3, spec=spec)

    from engine.training import prepare_data

    data = prepare_data(goog, 1, spec=spec)
    folds = result.manifest.folds
    assert len(seen) == len(folds) + 1  # each fold, then the final refit on every row
    for fold, X in zip(folds, seen, strict=False):
        np.testing.assert_array_equal(X, data.X[fold.train_start : fold.train_end])
        assert fold.train_end + 1 <= fold.test_start  # purged: no test row, no label overlap
    np.testing.assert_array_equal(seen[-1], data.X)


def test_nothing_to_find_scores_like_chance_through_every_step():
    bars = random_walk(1500, seed=3)
    noise = sentiment(bars, np.random.default_rng(4).normal(size=bars.height))
    spec = make_spec("linear", recipe="full", preprocessing=ALL_STEPS, alt=({"kind": "sentiment"},))
    metrics = train_model(
        bars, "linear", timeframe="1d", n_folds=4, spec=spec, alt={"sentiment": noise}
    ).manifest.metrics
    assert abs(metrics["ic"]) < 0.08
    assert 0.45 < metrics["hit_rate"] < 0.55


def test_a_planted_signal_is_found_through_every_step():
    bars = random_walk(1500, seed=5)
    forward = (bars["close"].shift(-1) / bars["close"] - 1).fill_null(0.0).to_numpy()
    # The sentiment score, stamped at the bar, is next bar's move plus noise: a real edge.
    planted = sentiment(bars, forward * 1e4 + np.random.default_rng(6).normal(0, 50, bars.height))
    spec = make_spec("linear", recipe="full", preprocessing=ALL_STEPS, alt=({"kind": "sentiment"},))
    metrics = train_model(
        bars, "linear", timeframe="1d", n_folds=4, spec=spec, alt={"sentiment": planted}
    ).manifest.metrics
    assert metrics["ic"] > 0.5
    assert metrics["hit_rate"] > 0.65


def test_alt_values_join_as_of_each_bar_and_go_missing_past_their_staleness():
    bars = random_walk(30, seed=1)
    stamps = bars["ts"].gather([0, 10]) + timedelta(hours=2)
    alt = pl.DataFrame({"ts": stamps, "symbol": "RW", "score": [1.0, 2.0]})
    spec = make_spec("linear", alt=({"kind": "sentiment", "max_staleness": "3d"},))
    frame = version_features(bars, spec, {"sentiment": alt})
    values = frame["sentiment"].to_list()
    assert values[0] is None  # stamped two hours after the bar opened: not yet known
    assert values[1:4] == [1.0, 1.0, 1.0] and values[4] is None  # three days, then stale
    assert values[11] == 2.0


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"columns": ["rsi_14", "nope"]}, "features.columns: unknown column 'nope'"),
        ({"preprocessing": [{"step": "pca", "variance": 1.5}]}, "preprocessing[0].variance"),
        ({"preprocessing": [{"step": "pca", "variance": 0}]}, "preprocessing[0].variance"),
        (
            {"preprocessing": [{"step": "select", "top_k": 9}]},
            "preprocessing[0].top_k: selects 9 features but only 8",
        ),
        (
            {"target": "fwd_ret", "kind": "lightgbm_classifier"},
            "target.kind: lightgbm_classifier is a classification",
        ),
        ({"target": "direction", "kind": "linear"}, "target.kind: linear is a regression"),
        ({"recipe": "no/such/recipe.yaml"}, "features.recipe: no/such/recipe.yaml: recipe file not found"),
    ],
)
def test_bad_specs_are_refused_naming_the_key(choices, message):
    choices = dict(choices)
    kind = choices.pop("kind", "linear")
    with pytest.raises(SpecError) as caught:
        make_spec(kind, **choices)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_an_unknown_indicator_in_a_recipe_file_is_refused_naming_it(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("features:\n  - {indicator: rsi}\n  - {indicator: wobble}\n")
    with pytest.raises(
        SpecError, match=r"features.recipe: .*mine.yaml: features\[1\].indicator: unknown indicator 'wobble'"
    ):
        make_spec("linear", recipe=str(recipe))

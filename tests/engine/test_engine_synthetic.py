"""Synthetic market paths (issue 16, item 3): bars to GAN rows and back, the stylised facts that
judge generated returns, and the GAN itself (seeded, its weights a state_dict that never unpickles
code)."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.synthetic.bars import BAR_COLUMNS, bar_rows, stitched_bars
from engine.synthetic.stylised import StylisedFacts, autocorrelation, block_bootstrap, stylised_facts

TINY = {"window": 24, "hidden": 8, "noise": 4, "steps": 12, "batch": 16}


@pytest.fixture(scope="module")
def goog() -> pl.DataFrame:
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG")


@pytest.fixture(scope="module")
def goog_returns(goog) -> np.ndarray:
    return np.diff(np.log(goog["close"].to_numpy()))


def test_bar_rows_rebuild_the_bars_they_came_from(goog):
    rows = bar_rows(goog)
    assert rows.shape == (goog.height - 20, len(BAR_COLUMNS)) and np.isfinite(rows).all()
    rebuilt = stitched_bars(goog.head(goog.height - 100), rows[-100:])
    assert rebuilt.height == goog.height and rebuilt.columns == goog.columns
    for name in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(rebuilt[name].to_numpy()[-100:], goog[name].to_numpy()[-100:], rtol=1e-9)
    assert rebuilt["ts"][-100] > goog["ts"][-101]  # the made bars come after the real ones


def test_any_generated_rows_make_valid_bars(goog):
    rows = np.random.default_rng(0).normal(0, 0.05, (200, len(BAR_COLUMNS)))  # negative wicks too
    made = stitched_bars(goog.head(300), rows).tail(200)
    low, high = made["low"].to_numpy(), made["high"].to_numpy()
    for name in ("open", "close"):
        assert (low <= made[name].to_numpy()).all() and (made[name].to_numpy() <= high).all()
    assert (made["volume"].to_numpy() >= 0).all() and made["ts"].is_sorted()
    assert made["open"][0] == pytest.approx(float(goog["close"][299]) * np.exp(rows[0, 1]))


def test_autocorrelation_pools_paths_without_crossing_their_joins():
    rng = np.random.default_rng(1)
    ar = [np.zeros(3000)]
    for t in range(1, 3000):
        ar[0][t] = 0.6 * ar[0][t - 1] + rng.normal()
    assert autocorrelation(ar, [1, 2]) == pytest.approx([0.6, 0.36], abs=0.05)
    # two flat paths at different levels: pooled, each lagged pair is within one level, so the
    # correlation is perfect; joining them into one series would add a pair across the jump
    assert autocorrelation([np.full(10, -1.0), np.full(10, 1.0)], [1])[0] == pytest.approx(1.0)


def test_a_block_bootstrap_of_goog_passes_the_stylised_facts(goog_returns):
    resampled = block_bootstrap(goog_returns, paths=8, length=250, block=50, seed=1)
    facts = stylised_facts(goog_returns, resampled)
    named = {fact.name: fact for fact in facts.facts}
    assert set(named) == {"distribution", "tails", "volatility_clustering", "no_linear_memory"}
    assert named["tails"].real > 5 and named["tails"].passed  # GOOG is heavy-tailed, and so are its blocks
    assert named["distribution"].passed and facts.ks_statistic < 0.05
    assert len(facts.failed) <= 1
    assert len(facts.abs_acf_real) == len(facts.abs_acf_synthetic) == 20
    assert StylisedFacts.from_json(facts.to_json()) == facts


def test_iid_gaussian_returns_fail_tails_and_volatility_clustering(goog_returns):
    rng = np.random.default_rng(0)
    gaussian = [rng.normal(goog_returns.mean(), goog_returns.std(), 250) for _ in range(8)]
    facts = stylised_facts(goog_returns, gaussian)
    assert {"tails", "volatility_clustering"} <= set(facts.failed)
    assert facts.verdict.startswith("fails: ") and "tails" in facts.verdict
    assert abs(facts.facts[1].synthetic) < 1  # a Gaussian's excess kurtosis is about 0
    assert max(abs(v) for v in facts.abs_acf_synthetic) < 0.1 < max(facts.abs_acf_real)


def test_stylised_facts_refuse_too_few_returns(goog_returns):
    with pytest.raises(ValueError, match="more than 20 returns"):
        stylised_facts(goog_returns, [np.zeros(10)])


def test_the_gan_is_seeded_and_its_weights_load_as_a_state_dict(goog):
    import torch

    from engine.synthetic.gan import GanSettings, load_generator, train_gan

    settings = GanSettings(seed=5, **TINY)
    first, again = train_gan(goog, settings), train_gan(goog, settings)
    paths = first.paths(3, 50, seed=9)
    assert paths.shape == (3, 50, len(BAR_COLUMNS)) and np.isfinite(paths).all()
    np.testing.assert_array_equal(paths, again.paths(3, 50, seed=9))
    assert not np.array_equal(paths, first.paths(3, 50, seed=10))
    other = train_gan(goog, replace(settings, seed=6))
    assert not np.array_equal(paths, other.paths(3, 50, seed=9))
    state = torch.load(io.BytesIO(first.weights), weights_only=True)
    assert all(isinstance(tensor, torch.Tensor) for tensor in state.values())
    stored = load_generator(first.spec.to_json(), first.weights)
    np.testing.assert_array_equal(stored.paths(3, 50, seed=9), paths)
    assert stored.spec.data_fingerprint == first.spec.data_fingerprint and len(stored.spec.mean) == 5


class _Payload:
    def __reduce__(self):
        return (print, ("this ran",))


def test_generator_bytes_that_would_run_code_are_refused(goog):
    import pickle

    import torch

    from engine.synthetic.gan import GanSettings, load_generator, train_gan

    trained = train_gan(goog, GanSettings(seed=1, **{**TINY, "steps": 1}))
    buffer = io.BytesIO()
    torch.save({"rnn.weight_ih_l0": _Payload()}, buffer)
    with pytest.raises(pickle.UnpicklingError):
        load_generator(trained.spec.to_json(), buffer.getvalue()).paths(1, 30, seed=0)


def test_a_series_shorter_than_a_window_is_refused(goog):
    from engine.synthetic.gan import GanSettings, train_gan

    with pytest.raises(ValueError, match="window of 64 bars needs at least 65"):
        train_gan(goog.head(60), GanSettings(window=64))
    with pytest.raises(ValueError, match="steps must be at least 1"):
        GanSettings(steps=0)

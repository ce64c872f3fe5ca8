"""Synthetic market paths (issue 16, item 3): bars to GAN rows and back, the stylised facts that
judge generated returns, and the GAN itself (seeded, its weights a state_dict that never unpickles
code)."""

from __future__ import annotations

import io
import json
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
    assert first.weights == again.weights
    stored = load_generator(json.loads(first.spec_bytes()), first.weights)  # as the brain keeps it
    np.testing.assert_array_equal(stored.paths(3, 50, seed=9), paths)
    assert stored.spec == first.spec and len(stored.spec.tail) == 5


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
    with pytest.raises(ValueError, match="window must be more than 20 bars"):
        GanSettings(window=20)
    with pytest.raises(ValueError, match="heavy_tails names no bar column: close"):
        GanSettings(heavy_tails=("ret", "close"))


def test_lambert_w_tails_gaussianise_goog_and_come_back(goog):
    from scipy import stats

    from engine.synthetic.gan import GanSettings, fitted_spec, gaussianised, heavy_tailed

    u = np.linspace(-4, 4, 81)
    np.testing.assert_allclose(gaussianised(heavy_tailed(u, 0.3), 0.3), u, atol=1e-12)
    rows = bar_rows(goog)
    spec = fitted_spec(rows, GanSettings())
    ret, gap = BAR_COLUMNS.index("ret"), BAR_COLUMNS.index("gap")
    assert spec.tail[ret] > 0.1 and spec.tail[gap] > 0.1 and spec.tail[2:] == (0.0,) * 3
    standard = spec.standardised(rows)
    assert stats.kurtosis(rows[:, ret]) > 5  # what the networks no longer have to learn
    assert abs(stats.kurtosis(standard[:, ret])) < 0.05 and abs(stats.kurtosis(standard[:, gap])) < 0.05
    assert abs(standard[:, ret].mean()) < 0.01 and standard[:, ret].std() == pytest.approx(1, abs=0.01)
    back = spec.in_units(standard)
    np.testing.assert_allclose(back[:, [ret, gap]], rows[:, [ret, gap]], rtol=1e-9, atol=1e-12)
    # a tailed column never goes past the series' extremes, however far the networks drift
    assert spec.in_units(np.full((1, 5), 50.0))[0, ret] == pytest.approx(rows[:, ret].max())


def test_a_spec_from_before_lambert_w_tails_is_refused_in_one_line(goog):
    from engine.synthetic.gan import GanSettings, load_generator, train_gan

    trained = train_gan(goog, GanSettings(seed=1, **{**TINY, "steps": 1}))
    old = {**trained.spec.to_json(), "format": "huracan-gan/1"}
    with pytest.raises(ValueError, match="huracan-gan/1 is from before Lambert W tails.*train the generator"):
        load_generator(old, trained.weights)
    with pytest.raises(ValueError, match="not a GAN spec of format huracan-gan/2: None"):
        load_generator({k: v for k, v in old.items() if k != "format"}, trained.weights)


def test_the_default_gan_passes_all_four_stylised_facts_on_goog(goog, goog_returns):
    """Issue 16: 20 paths of 500 bars, as `huracan stress` judges them. The GAN before Lambert W
    tails and the matching terms failed tails and volatility clustering here (kurtosis 2.1
    against 7.6, mean ACF(|r|) 0.07 against 0.14); about a minute on one thread."""
    import torch

    from engine.synthetic.gan import GanSettings, train_gan

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the figures are those of one thread, as the issue measured them
    try:
        made = train_gan(goog, GanSettings(seed=0)).paths(20, 500, seed=0)
    finally:
        torch.set_num_threads(threads)
    facts = stylised_facts(goog_returns, list(made[:, :, 0]))
    assert facts.verdict == "passes", [(fact.name, fact.synthetic, fact.tolerance) for fact in facts.facts]

"""A/B statistics equal scipy / statsmodels; DM equals an OLS-HAC t-stat; the bootstrap is seeded."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from engine import abtest
from engine.metrics import sharpe_ratio

N = 400


@pytest.fixture(scope="module")
def series():
    rng = np.random.default_rng(7)
    champion = rng.normal(0.0002, 0.01, N)
    challengers = {
        "better": champion + rng.normal(0.002, 0.004, N),
        "same": champion + rng.normal(0.0, 0.004, N),
        "worse": champion + rng.normal(-0.0015, 0.004, N),
    }
    return champion, challengers


def test_tests_equal_scipy(series):
    champion, challengers = series
    for challenger in challengers.values():
        t = stats.ttest_rel(challenger, champion)
        assert abtest.paired_t(champion, challenger) == pytest.approx((t.statistic, t.pvalue), abs=1e-12)
        w = stats.wilcoxon(challenger, champion)
        assert abtest.wilcoxon(champion, challenger) == pytest.approx((w.statistic, w.pvalue), abs=1e-12)
        u = stats.mannwhitneyu(challenger, champion, alternative="two-sided")
        assert abtest.mann_whitney(champion, challenger) == pytest.approx((u.statistic, u.pvalue), abs=1e-12)
        diff = challenger - champion
        assert abtest.cohens_d(champion, challenger) == pytest.approx(
            diff.mean() / diff.std(ddof=1), abs=1e-12
        )


@pytest.mark.parametrize("horizon", [1, 5])
def test_diebold_mariano_equals_ols_hac_t_stat(series, horizon):
    champion, challengers = series
    challenger = challengers["same"]
    lag = abtest.newey_west_lag(N, horizon)
    assert lag == max(horizon - 1, math.floor(4 * (N / 100) ** (2 / 9)))
    fit = sm.OLS(challenger - champion, np.ones(N)).fit(cov_type="HAC", cov_kwds={"maxlags": lag})
    statistic, p = abtest.diebold_mariano(champion, challenger, horizon=horizon)
    assert statistic == pytest.approx(fit.tvalues[0], abs=1e-10)
    assert p == pytest.approx(fit.pvalues[0], abs=1e-12)


@pytest.mark.parametrize("method", abtest.CORRECTIONS)
def test_corrections_equal_statsmodels(method):
    p = np.random.default_rng(3).uniform(0, 0.2, 20)
    np.testing.assert_allclose(abtest.adjust(p, method), multipletests(p, method=method)[1], atol=1e-12)
    with pytest.raises(ValueError, match="unknown correction"):
        abtest.adjust(p, "bonferonni")


def test_compare_verdicts_follow_the_effect(series):
    champion, challengers = series
    results = abtest.compare(champion, challengers, n_boot=300, seed=1)
    assert len(results) == len(challengers) * len(abtest.TESTS)
    by = {(r.challenger, r.test): r for r in results}
    assert by[("better", "paired_t")].verdict == "challenger_better"
    assert by[("worse", "paired_t")].verdict == "champion_better"
    assert by[("same", "paired_t")].verdict == "no_difference"
    assert by[("better", "diebold_mariano")].verdict == "challenger_better"
    # Holm across the three challengers, test by test.
    raw = [by[(name, "wilcoxon")].p_value for name in challengers]
    adjusted = [by[(name, "wilcoxon")].p_adjusted for name in challengers]
    np.testing.assert_allclose(adjusted, multipletests(raw, method="holm")[1], atol=1e-12)


def test_sharpe_bootstrap_is_seeded_and_covers():
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.0005, 0.01, 300), rng.normal(0.0005, 0.01, 300)
    first = abtest.sharpe_bootstrap(a, b, n_boot=300, seed=4)
    assert first == abtest.sharpe_bootstrap(a, b, n_boot=300, seed=4)
    assert first["difference"] == pytest.approx(sharpe_ratio(b, 252) - sharpe_ratio(a, 252), abs=1e-12)
    assert first["low"] < first["difference"] < first["high"]
    # Coverage on synthetic pairs with equal true Sharpe: the 90% interval holds 0 most of the time.
    covered = 0
    for trial in range(40):
        r = np.random.default_rng(100 + trial)
        x, y = r.normal(0.0, 0.01, 250), r.normal(0.0, 0.01, 250)
        ci = abtest.sharpe_bootstrap(x, y, n_boot=200, confidence=0.9, seed=trial)
        covered += ci["low"] <= 0 <= ci["high"]
    assert 30 <= covered <= 40


def test_block_indices_wrap_in_runs():
    index = abtest.block_indices(10, 3, 4, np.random.default_rng(0))
    assert index.shape == (3, 10)
    for row in index:
        for start in (0, 4):
            run = row[start : start + 4]
            assert list(run) == [(run[0] + k) % 10 for k in range(len(run))]


def test_align_matches_timestamps_and_refuses_mismatches():
    stamps = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=d) for d in range(5)]
    values = np.arange(5.0)
    _s, base, aligned = abtest.align((stamps, values), {"x": (stamps[::-1], values[::-1] * 2)})
    np.testing.assert_array_equal(aligned["x"], values * 2)
    with pytest.raises(ValueError, match="challenger x: periods differ"):
        abtest.align((stamps, values), {"x": (stamps[1:] + [stamps[0] - timedelta(days=1)], values)})
    with pytest.raises(ValueError, match="repeated timestamps"):
        abtest.align((stamps, values), {"x": ([stamps[0]] * 5, values)})


def test_composite_score_and_best_model():
    rng = np.random.default_rng(5)
    good = rng.normal(0.002, 0.01, 300)
    bad = rng.normal(-0.001, 0.01, 300)
    scores = abtest.composite_scores({"bad": bad, "good": good})
    assert abtest.best_model(scores) == "good"
    assert scores["good"]["score"] == pytest.approx(1.0) and scores["bad"]["score"] == pytest.approx(0.0)
    only_drawdown = abtest.composite_scores({"bad": bad, "good": good}, weights={"max_drawdown": 1.0})
    drawdowns = {name: scores[name]["metrics"]["max_drawdown"] for name in scores}
    expected = max(drawdowns, key=drawdowns.get)  # the shallowest (closest to 0) drawdown
    assert abtest.best_model(only_drawdown) == expected
    with pytest.raises(ValueError, match="unknown composite weight"):
        abtest.composite_scores({"a": good}, weights={"calmar": 1.0})

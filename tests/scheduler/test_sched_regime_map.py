"""Performance by regime and the regime map (issue 17, items 2 and 3): each version's walk-forward
and live metrics split by the causal regime of each bar, stored with the version; the ranking of
versions per regime with a minimum sample count and a paired test against the champion; family
names (`trending`); the Python API models_for_regime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from brain import open_brain
from brain.records import OutOfSampleRecord
from engine.metrics import periods_per_year, sharpe_ratio, strategy_returns, win_rate
from scheduler.config import RegimeMapConfig
from scheduler.services.regime_map import (
    LIVE_SCOPE,
    OOS_SCOPE,
    holm,
    models_for_regime,
    record_regime_metrics,
    refresh_live_regime_metrics,
    regime_map,
    stored_regime_metrics,
)
from scheduler.services.regimes import slot_regimes

GOOG = "GOOG:1d:fwd_ret_1"
SLOT = "SYN:1d:fwd_ret_1"
START = datetime(2024, 1, 1, tzinfo=UTC)
# The synthetic slot's regimes, in bar order: 200 trending up, 180 ranging, 20 trending down.
RUNS = (("trending_up", 200), ("ranging", 180), ("trending_down", 20))
N = sum(count for _, count in RUNS)


def synthetic_labels() -> pl.DataFrame:
    trend = [label for label, count in RUNS for _ in range(count)]
    vol = ["high" if i % 2 else "low" for i in range(N)]
    ts = [START + timedelta(days=i) for i in range(N)]
    return pl.DataFrame({"ts": ts, "vol": vol, "trend": trend},
                        schema={"ts": pl.Datetime("us", "UTC"), "vol": pl.Utf8, "trend": pl.Utf8})


def add_synthetic_versions(brain) -> dict[str, object]:
    """Three versions on the same out-of-sample bars: A is right in trends and wrong when ranging,
    B the reverse, C a coin flip everywhere (no edge anywhere)."""
    rng = np.random.default_rng(7)
    next_ret = rng.normal(0.0, 0.01, N)
    trend = synthetic_labels()["trend"].to_list()
    trending = np.array([label != "ranging" for label in trend])
    right = np.sign(next_ret)
    predictions = {"A": np.where(trending, right, -right), "B": np.where(trending, -right, right),
                   "C": rng.choice([-1.0, 1.0], N)}
    brain.ensure_slot("SYN", "1d", "fwd_ret_1", 1)
    ts = tuple(START + timedelta(days=i) for i in range(N))
    versions = {}
    for name, prediction in predictions.items():
        versions[name] = brain.add_version(
            SLOT, model_kind="linear", manifest={"timeframe": "1d", "cost_bps": 1.0}, artifact=name.encode(),
            artifact_format="skops", metrics=[], data_start=None, data_end=None,
            out_of_sample=OutOfSampleRecord(fold=(0,) * N, ts=ts, prediction=tuple(prediction.tolist()),
                                            next_ret=tuple(next_ret.tolist())))
    brain.promote_version(SLOT, versions["A"].number, actor="alice", reason="champion of the test")
    return {"versions": versions, "next_ret": next_ret, "predictions": predictions}


@pytest.fixture
def synthetic(any_brain_url):
    with open_brain(any_brain_url) as brain:
        yield brain, add_synthetic_versions(brain)


def standing(ranking, version):
    return next(s for s in ranking.standings if s.version == version.number)


def test_each_regime_ranks_its_winner_first_and_tests_it_against_the_champion(synthetic):
    brain, made = synthetic
    a, b, c = (made["versions"][name] for name in "ABC")
    found = regime_map(brain, SLOT, axis="trend", labels=synthetic_labels())
    assert [r.regime for r in found.regimes] == ["trending_up", "trending_down", "ranging"]
    assert [r.bars for r in found.regimes] == [200, 20, 180]
    assert found.champion == a.number and found.current == "trending_down" and found.metric == "sharpe"

    up, down, ranging = found.regimes
    assert up.best.version == a.number and ranging.best.version == b.number
    # B is significantly worse than the champion where A is right, significantly better where A is wrong.
    assert standing(up, b).against_champion.verdict == "worse"
    assert standing(ranging, b).against_champion.verdict == "better"
    assert standing(ranging, b).against_champion.test == "sharpe_bootstrap"
    assert standing(ranging, b).against_champion.n == 180
    # A coin flip is not told apart from the champion where neither has an edge... but is where A has one.
    assert standing(up, c).against_champion.verdict == "worse"
    assert standing(ranging, c).against_champion.verdict in ("better", "no_difference")
    assert standing(up, a).against_champion is None and standing(up, a).champion
    # 20 bars are too few to rank: listed, counted, unranked, untested.
    for version in (a, b, c):
        row = standing(down, version)
        assert row.n == 20 and not row.enough and row.rank is None and row.against_champion is None
    # The value is engine.metrics' Sharpe of the version's own returns on the regime's bars.
    returns = strategy_returns(made["predictions"]["B"], made["next_ret"], 1.0)
    assert standing(ranging, b).value == pytest.approx(sharpe_ratio(returns[200:380], periods_per_year("1d")))


def test_a_family_name_is_the_union_of_its_labels_and_exact_labels_match_themselves(synthetic):
    brain, made = synthetic
    a = made["versions"]["A"]
    labels = synthetic_labels()
    trending = models_for_regime(brain, SLOT, "trending", labels=labels)
    assert trending[0].version == a.number and trending[0].n == 220 and trending[0].rank == 1
    returns = strategy_returns(made["predictions"]["A"], made["next_ret"], 1.0)
    together = np.r_[returns[:200], returns[380:]]
    assert trending[0].value == pytest.approx(sharpe_ratio(together, periods_per_year("1d")))
    exact = models_for_regime(brain, SLOT, "trending_down", labels=labels)
    assert {row.n for row in exact} == {20} and all(row.rank is None for row in exact)
    by_vol = models_for_regime(brain, SLOT, "high", labels=labels)
    assert {row.n for row in by_vol} == {N // 2}
    with pytest.raises(ValueError, match="unknown regime 'sideways'; known: low, normal, high"):
        models_for_regime(brain, SLOT, "sideways", labels=labels)


def test_min_samples_and_the_metric_come_from_the_config(synthetic):
    brain, made = synthetic
    settings = RegimeMapConfig(metric="win_rate", min_samples=190)
    found = regime_map(brain, SLOT, axis="trend", settings=settings, labels=synthetic_labels())
    up, _down, ranging = found.regimes
    assert all(s.rank is None and not s.enough for s in ranging.standings)  # 180 < 190
    returns = strategy_returns(made["predictions"]["A"], made["next_ret"], 1.0)
    assert up.best.version == made["versions"]["A"].number
    assert up.best.value == pytest.approx(win_rate(returns[:200])) and up.best.value > 0.95  # costs: a few
    assert standing(up, made["versions"]["B"]).against_champion.test == "diebold_mariano"


def test_metrics_by_regime_are_stored_with_the_version(synthetic):
    brain, made = synthetic
    b = made["versions"]["B"]
    labels = synthetic_labels()
    assert record_regime_metrics(brain, SLOT, b, "oos", labels=labels) > 0
    stored = stored_regime_metrics(brain, b, "oos")
    returns = strategy_returns(made["predictions"]["B"], made["next_ret"], 1.0)
    assert stored[("trend", "ranging")]["n"] == 180
    assert stored[("trend", "ranging")]["sharpe"] == pytest.approx(
        sharpe_ratio(returns[200:380], periods_per_year("1d")))
    assert stored[("trend", "trending")]["n"] == 220  # the family too
    assert stored[("vol", "low")]["win_rate"] == pytest.approx(win_rate(returns[0::2]))
    names = {m.name for m in brain.version_metrics(b.id, scope=OOS_SCOPE)}
    assert "sharpe|trend=ranging" in names and "n|vol=high" in names
    assert brain.version_metrics(b.id, scope="oos") == []  # the overall metrics are untouched


def record_live(brain, version, count: int, *, offset: int = 0) -> None:
    """Matured live forecasts of `version` on the synthetic bars (offset on), right on every bar."""
    rng = np.random.default_rng(offset)
    rows = []
    for i in range(offset, offset + count):
        realised = float(rng.normal(0, 50))
        rows.append({"slot_key": SLOT, "version_id": version.id, "ts": START + timedelta(days=i),
                     "batch": realised, "blended": realised, "realised": realised})
    brain.record_predictions(rows)


def test_live_metrics_by_regime_are_refreshed_once_a_whole_window_matured(synthetic):
    brain, made = synthetic
    a = made["versions"]["A"]
    labels = synthetic_labels()
    record_live(brain, a, 40)
    assert refresh_live_regime_metrics(brain, SLOT, a, oldest_in_window=START, labels=labels) > 0
    first = stored_regime_metrics(brain, a, "live")
    assert first[("trend", "trending_up")]["n"] == 40 and first[("trend", "trending_up")]["win_rate"] == 1.0
    # The same window again: nothing new is worth a full read.
    assert refresh_live_regime_metrics(brain, SLOT, a, oldest_in_window=START, labels=labels) == 0
    record_live(brain, a, 200, offset=40)  # into the ranging bars
    newest_window_start = START + timedelta(days=190)
    assert refresh_live_regime_metrics(brain, SLOT, a, oldest_in_window=newest_window_start,
                                       labels=labels) > 0
    now = stored_regime_metrics(brain, a, "live")
    assert now[("trend", "trending_up")]["n"] == 200 and now[("trend", "ranging")]["n"] == 40
    assert {m.scope for m in brain.version_metrics(a.id)} == {LIVE_SCOPE}
    live = regime_map(brain, SLOT, axis="trend", source="live", labels=labels)
    assert live.ranking("trending_up").best.version == a.number and live.ranking("trending_up").best.n == 200


def test_training_stores_each_versions_metrics_by_the_regime_slot_regimes_gives(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        labels = slot_regimes(brain, GOOG)
        for version in brain.list_versions(GOOG):
            stored = stored_regime_metrics(brain, version, "oos")
            rows = brain.oos_predictions(version.id)
            returns = strategy_returns(rows.prediction, rows.next_ret, version.manifest["cost_bps"])
            trend = dict(zip(labels["ts"].to_list(), labels["trend"].to_list(), strict=True))
            bar_labels = [trend.get(ts) for ts in rows.ts]
            for regime in ("trending_up", "trending_down", "ranging"):
                mine = np.array([r for r, label in zip(returns, bar_labels, strict=True) if label == regime])
                assert stored[("trend", regime)]["n"] == mine.size > 0
                assert stored[("trend", regime)]["sharpe"] == pytest.approx(
                    sharpe_ratio(mine, periods_per_year("1d")), rel=1e-9)
            labelled = sum(label is not None for label in bar_labels)
            assert sum(stored[("vol", v)]["n"] for v in ("low", "normal", "high")) == labelled


def test_holm_equals_statsmodels():
    from engine.abtest import adjust

    p = [0.01, 0.04, 0.03, 0.5, 0.002]
    assert holm(p) == pytest.approx(adjust(p, "holm"))


def test_an_unknown_slot_or_axis_is_one_clear_line(synthetic):
    brain, _made = synthetic
    with pytest.raises(Exception, match="no slot 'NOPE:1d:fwd_ret_1' in the brain"):
        regime_map(brain, "NOPE:1d:fwd_ret_1", labels=synthetic_labels())
    with pytest.raises(ValueError, match="no regime axis 'hmm' for this slot; axes: vol, trend"):
        regime_map(brain, SLOT, axis="hmm", labels=synthetic_labels())

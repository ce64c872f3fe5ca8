"""Positions by rule: a forecast is held as its sign, a sizing agent's prediction as the size
itself, with costs on the units traded; the manifest records the rule and old manifests read
"sign"; the sizing baselines are computed as their docstring says."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.manifest import Manifest, position_rule_of
from engine.metrics import evaluate_predictions, positions, sharpe_ratio, strategy_returns
from engine.rl.signal import baseline_sizes, rolling_volatility
from engine.training import position_rule

PRED = [0.5, -2.0, 0.0, 1.5]
NEXT = [0.01, -0.02, 0.03, 0.01]
COST = 10.0  # bps: 0.001 per unit traded


def test_sign_rule_holds_one_unit_in_the_forecasts_direction():
    # positions 1, -1, 0, 1; turnover 1, 2, 1, 1
    expected = [0.01 - 0.001, 0.02 - 0.002, 0.0 - 0.001, 0.01 - 0.001]
    np.testing.assert_allclose(strategy_returns(PRED, NEXT, COST), expected)
    np.testing.assert_allclose(strategy_returns(PRED, NEXT, COST, "sign"), expected)


def test_size_rule_holds_the_prediction_and_pays_for_the_units_it_trades():
    # positions 0.5, -2, 0, 1.5; turnover 0.5, 2.5, 2, 1.5
    expected = [0.005 - 0.0005, 0.04 - 0.0025, 0.0 - 0.002, 0.015 - 0.0015]
    np.testing.assert_allclose(strategy_returns(PRED, NEXT, COST, "size"), expected)
    metrics = evaluate_predictions(NEXT, PRED, NEXT, COST, 252.0, rule="size")
    assert metrics["sharpe"] == pytest.approx(sharpe_ratio(expected, 252.0))


def test_both_rules_agree_on_whole_positions_and_an_unknown_rule_is_refused():
    whole = [1.0, 0.0, -1.0, -1.0]
    np.testing.assert_array_equal(strategy_returns(whole, NEXT, COST, "size"),
                                  strategy_returns(whole, NEXT, COST, "sign"))
    np.testing.assert_array_equal(positions(PRED, "size"), PRED)
    with pytest.raises(ValueError, match="unknown position rule 'kelly'; known: sign, size"):
        strategy_returns(PRED, NEXT, COST, "kelly")


def test_kinds_declare_their_rule_and_the_manifest_keeps_it_only_where_it_is_not_sign():
    assert position_rule("ppo_sizing") == "size"
    assert {position_rule(kind) for kind in ("linear", "dqn", "lightgbm", "ensemble")} == {"sign"}
    assert position_rule_of({"model_kind": "linear"}) == "sign"  # a manifest from before the rule
    base = dict(
        model_kind="ppo_sizing", params={}, features=("ret_1",), target="fwd_ret_1", horizon=1,
        timeframe="1d", cost_bps=1.0, seed=1, folds=(), metrics={}, data_start="2024-01-01T00:00:00+00:00",
        data_end="2024-02-01T00:00:00+00:00", data_fingerprint="x", n_rows=3, library_versions={},
        artifact_format="huracan-rl/1",
    )
    old = Manifest.from_json(base)
    assert old.position_rule == "sign" and "position_rule" not in old.to_json() and old.signal is None
    signal = {"number": 1, "version_id": 7, "artifact_sha256": "ab" * 32,
              "manifest": {"model_kind": "linear"}}
    sized = Manifest.from_json({**base, "position_rule": "size", "signal": signal})
    document = sized.to_json()
    assert document["position_rule"] == "size" and document["signal"] == signal
    assert Manifest.from_json(document) == sized


def test_baselines_are_a_fixed_size_and_a_volatility_target_capped():
    next_ret = np.array([0.01, -0.01, 0.02, -0.02, 0.0, 0.04, -0.04])
    signal = np.array([1.0, 1.0, -3.0, 2.0, -0.5, 0.0, 4.0])
    sizes = baseline_sizes(signal, next_ret, 3, vol_window=2, leverage_cap=1.5)
    np.testing.assert_array_equal(sizes["baseline_fixed_sharpe"], [1.0, -1.0, 0.0, 1.0])
    bar_returns = np.r_[0.0, next_ret[:-1]]
    # the median realised volatility of the bars before the first out-of-sample one, once warm
    target = np.median(rolling_volatility(bar_returns, 2)[2:3])
    vol = rolling_volatility(bar_returns, 2)[3:]
    expected = np.sign(signal[3:]) * np.clip(target / vol, 0.0, 1.5)
    np.testing.assert_allclose(sizes["baseline_voltarget_sharpe"], expected)
    # By hand: target 0.01 (std of 0.01, -0.01); volatilities 0.015, 0.02, 0.01, 0.02 after.
    np.testing.assert_allclose(sizes["baseline_voltarget_sharpe"], [2 / 3, -0.5, 0.0, 0.5])
    assert math.isclose(vol[0], np.std(bar_returns[2:4]))

"""engine.rl's environments: gymnasium's own checker passes, the reward is the hand-computed
strategy return after costs, an observation at bar t reads nothing after t, and bad input gets
one clear line."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from engine.rl.sizing_env import SizingEnv, realised_volatility
from engine.rl.trading_env import TradingEnv

SELL, HOLD, BUY = 0, 1, 2


@pytest.fixture
def bars():
    rng = np.random.default_rng(5)
    return rng.normal(size=(40, 3)), rng.normal(0, 0.01, 40)


def test_both_environments_pass_gymnasiums_checker(bars):
    features, next_returns = bars
    check_env(TradingEnv(features, next_returns, window=5), skip_render_check=True)
    check_env(TradingEnv(features, next_returns, window=5, long_only=True, episode_length=10),
              skip_render_check=True)
    check_env(SizingEnv(features, features[:, 0], next_returns, window=5, leverage_cap=2.0),
              skip_render_check=True)


def test_trading_reward_is_position_times_return_after_costs():
    next_returns = np.array([0.01, -0.02, 0.03, 0.005])
    env = TradingEnv(np.zeros((4, 1)), next_returns, window=2, cost_bps=10.0)
    env.reset(seed=0)
    rewards = [env.step(action)[1] for action in (BUY, SELL, SELL, HOLD)]
    # positions 1, -1, -1, 0 starting flat; a turn from long to short trades 2 units
    expected = [0.01 - 0.001, 0.02 - 0.002, -0.03, -0.001]
    np.testing.assert_allclose(rewards, expected, rtol=0, atol=1e-15)


def test_the_episode_ends_after_the_last_bar_and_long_only_never_shorts():
    env = TradingEnv(np.zeros((3, 1)), np.array([0.01, -0.01, 0.02]), window=1, long_only=True)
    env.reset(seed=0)
    steps = [env.step(SELL) for _ in range(3)]
    assert [terminated for _, _, terminated, _, _ in steps] == [False, False, True]
    assert {info["position"] for *_, info in steps} == {0.0}


def test_risk_penalties_subtract_variance_or_the_drawdown_increase():
    next_returns = np.array([0.02, -0.05, -0.01, 0.04])
    vol = TradingEnv(np.zeros((4, 1)), next_returns, window=1, cost_bps=0.0,
                     risk_penalty="volatility", risk_weight=3.0)
    vol.reset(seed=0)
    np.testing.assert_allclose([vol.step(BUY)[1] for _ in range(4)], next_returns - 3.0 * next_returns**2)
    dd = TradingEnv(np.zeros((4, 1)), next_returns, window=1, cost_bps=0.0,
                    risk_penalty="drawdown", risk_weight=2.0)
    dd.reset(seed=0)
    rewards = [dd.step(BUY)[1] for _ in range(4)]
    equity = np.cumprod(1 + next_returns)
    drawdown = 1 - equity / np.maximum.accumulate(np.maximum(equity, 1.0))
    increase = np.maximum(np.diff(drawdown, prepend=0.0), 0.0)
    np.testing.assert_allclose(rewards, next_returns - 2.0 * increase)


def test_the_observation_holds_the_window_and_the_agents_own_state():
    features = np.arange(12, dtype=float).reshape(6, 2)
    next_returns = np.array([0.1, 0.2, -0.1, 0.0, 0.0, 0.0])
    env = TradingEnv(features, next_returns, window=3, cost_bps=0.0)
    obs, _ = env.reset(seed=0)
    # rows before the first are row 0 repeated; then position 0, unrealised 0, log1p(0 bars)
    np.testing.assert_array_equal(obs, [0, 1, 0, 1, 0, 1, 0, 0, 0])
    env.step(BUY)
    obs, *_ = env.step(BUY)  # long over bars 0 -> 1 -> 2: +10% then +20%
    np.testing.assert_allclose(obs[:6], [0, 1, 2, 3, 4, 5])
    np.testing.assert_allclose(obs[6:], [1.0, 100 * (1.1 * 1.2 - 1), np.log1p(2)], rtol=1e-6)
    obs, *_ = env.step(SELL)  # a new position starts its own count
    np.testing.assert_allclose(obs[6:], [-1.0, 100 * 0.1, np.log1p(1)], rtol=1e-6)


def test_sizing_reward_and_observation():
    next_returns = np.array([0.01, -0.02, 0.03])
    signal = np.array([5.0, -3.0, 1.0])
    env = SizingEnv(np.zeros((3, 0)), signal, next_returns, window=1, leverage_cap=2.0, cost_bps=10.0,
                    vol_window=2)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs, [5.0, 0.0, 0.0, 0.0])
    obs, reward, *_ = env.step(np.array([0.5], dtype=np.float32))  # size 1.0
    assert reward == pytest.approx(0.01 - 0.001)
    # bar 1: signal -3, volatility of bar returns (0, 0.01) in percent, no drawdown, size 1 / cap 2
    np.testing.assert_allclose(obs, [-3.0, 0.5, 0.0, 0.5], rtol=1e-6)
    obs, reward, *_ = env.step(np.array([-3.0], dtype=np.float32))  # clipped to -1: size -2.0
    assert reward == pytest.approx(-2.0 * -0.02 - 0.001 * 3.0)
    assert obs[2] == pytest.approx(0.0)  # the short earned: no drawdown
    np.testing.assert_allclose(realised_volatility(np.array([0.0, 0.01, -0.02]), 2), [0, 0.005, 0.015])


def _observations_until(env, t: int, actions) -> np.ndarray:
    obs, _ = env.reset(seed=0)
    for step in range(t):
        obs, *_ = env.step(actions[step])
    return obs


@pytest.mark.parametrize("t", [0, 7, 25])
def test_an_observation_at_bar_t_reads_nothing_after_t(bars, t):
    features, next_returns = bars
    changed_features, changed_returns = features.copy(), next_returns.copy()
    changed_features[t + 1:] = 99.0
    changed_returns[t:] = 0.5  # next_returns[t] is the move over t -> t + 1: the future at t
    actions = np.random.default_rng(1).integers(0, 3, size=40)
    for make in (
        lambda f, r: TradingEnv(f, r, window=6, risk_penalty="drawdown", risk_weight=1.0),
        lambda f, r: SizingEnv(f[:, 1:], f[:, 0], r, window=6, vol_window=5),
    ):
        steps = actions if make(features, next_returns).action_space.shape == () else (
            (actions[:, None] - 1.0).astype(np.float32)
        )
        before = _observations_until(make(features, next_returns), t, steps)
        after = _observations_until(make(changed_features, changed_returns), t, steps)
        np.testing.assert_array_equal(before, after)


def test_bad_input_gets_one_clear_line(bars):
    features, next_returns = bars
    with pytest.raises(ValueError, match=r"^window 50 is longer than the 30 training rows; use a window"):
        TradingEnv(features[:30], next_returns[:30], window=50)
    with pytest.raises(ValueError, match=r"^window 50 is longer than the 30 training rows"):
        SizingEnv(features[:30], features[:30, 0], next_returns[:30], window=50)
    for cap in (0, -1.5):
        with pytest.raises(ValueError, match=r"^leverage_cap must be a number > 0") as raised:
            SizingEnv(features, features[:, 0], next_returns, leverage_cap=cap)
        assert "\n" not in str(raised.value)
    with pytest.raises(ValueError, match="risk_penalty must be one of none, volatility, drawdown"):
        TradingEnv(features, next_returns, risk_penalty="sharpe")
    with pytest.raises(ValueError, match="signal .* one per bar"):
        SizingEnv(features, features[:5, 0], next_returns)
    nan = features.copy()
    nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="features have NaN or inf at row 3, column 1"):
        TradingEnv(nan, next_returns)

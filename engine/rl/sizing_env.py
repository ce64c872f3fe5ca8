"""SizingEnv: a PPO's market, where the action sizes a position on top of a champion's forecast.

The action, a number in [-1, 1], is scaled to a position size in [-leverage_cap, +leverage_cap]
and held over the next bar:

    reward_t = size_t * next_return_t - cost_bps / 1e4 * |size_t - size_{t-1}|   (times reward_scale)

starting flat. The observation at bar t (float32) is the window of the last `window` feature rows
up to t (padded by repeating row 0, flattened), then the champion's forecast (`signal`) at t, the
realised volatility of the last `vol_window` bar returns up to t (in percent), the current
drawdown of the agent's own equity curve (in percent) and its current size over the cap. As in
TradingEnv, nothing after bar t enters it; `bar_returns` defaults to the previous bar's next
return.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from engine.rl.checks import (
    OBS_BOUND,
    check_leverage_cap,
    checked_bar_returns,
    checked_cost,
    checked_episode_length,
    checked_inputs,
)
from engine.rl.episodes import BarEpisodes
from engine.rl.windows import padded

STATE_SIZE = 4  # signal, realised volatility (%), drawdown (%), size / cap


def realised_volatility(bar_returns: np.ndarray, vol_window: int) -> np.ndarray:
    """Per bar t: the standard deviation of bar_returns[t - vol_window + 1 .. t] (fewer at the
    start, 0 for one), computed from cumulative sums: only bars up to t."""
    if isinstance(vol_window, bool) or not isinstance(vol_window, int | np.integer) or vol_window < 2:
        raise ValueError(f"vol_window must be a whole number of bars >= 2, got {vol_window!r}")
    n = bar_returns.size
    sums = np.concatenate([[0.0], np.cumsum(bar_returns)])
    squares = np.concatenate([[0.0], np.cumsum(bar_returns * bar_returns)])
    ends = np.arange(1, n + 1)
    starts = np.maximum(ends - vol_window, 0)
    count = ends - starts
    mean = (sums[ends] - sums[starts]) / count
    variance = (squares[ends] - squares[starts]) / count - mean * mean
    return np.sqrt(np.clip(variance, 0.0, None))


class SizingEnv(BarEpisodes):
    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        features,
        signal,
        next_returns,
        *,
        window: int = 10,
        leverage_cap: float = 1.0,
        cost_bps: float = 1.0,
        vol_window: int = 20,
        bar_returns=None,
        episode_length: int | None = None,
        reward_scale: float = 1.0,
    ):
        super().__init__()
        self.cap = check_leverage_cap(leverage_cap)
        self.features, self.next_returns = checked_inputs(features, next_returns, window)
        self.n_bars, self.n_features = self.features.shape
        signal = np.asarray(signal, dtype=np.float64)
        if signal.shape != (self.n_bars,) or not np.isfinite(signal).all():
            raise ValueError(
                f"signal (the champion's forecast) must be finite, one per bar ({self.n_bars}), "
                f"got shape {signal.shape}"
            )
        self.signal = signal.astype(np.float32)
        self.window = int(window)
        self.cost = checked_cost(cost_bps) / 1e4
        self.bar_returns = checked_bar_returns(bar_returns, self.next_returns)
        self.volatility = (100.0 * realised_volatility(self.bar_returns, vol_window)).astype(np.float32)
        self.episode_length = checked_episode_length(episode_length, self.n_bars)
        self.reward_scale = float(reward_scale)
        self._padded = padded(self.features, self.window)
        self._width = self.window * self.n_features
        self.observation_space = gymnasium.spaces.Box(
            -OBS_BOUND, OBS_BOUND, shape=(self._width + STATE_SIZE,), dtype=np.float32
        )
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._start(0, self.n_bars)

    def _start(self, start: int, end: int) -> None:
        self.t, self.end = start, end
        self.size, self.equity, self.peak = 0.0, 1.0, 1.0

    def observation(self) -> np.ndarray:
        t = min(self.t, self.n_bars - 1)
        obs = np.empty(self._width + STATE_SIZE, dtype=np.float32)
        obs[: self._width] = self._padded[t : t + self.window].reshape(-1)
        obs[self._width] = self.signal[t]
        obs[self._width + 1] = self.volatility[t]
        obs[self._width + 2] = 100.0 * (1.0 - self.equity / self.peak)
        obs[self._width + 3] = self.size / self.cap
        return obs

    def size_of(self, action) -> float:
        """The position size an action asks for: clipped to [-1, 1], times the cap."""
        return min(max(float(np.asarray(action, dtype=np.float64).reshape(-1)[0]), -1.0), 1.0) * self.cap

    def step(self, action):
        size = self.size_of(action)
        t = self.t
        trading_cost = self.cost * abs(size - self.size)
        strategy_return = size * self.next_returns[t] - trading_cost
        self.size = size
        self.t = t + 1
        if self.t < self.n_bars:
            # The agent's equity as known at the close of the next bar: what the size earned over
            # it (bar_returns, known then) after the cost of trading into it.
            self.equity *= 1.0 + size * self.bar_returns[self.t] - trading_cost
            self.peak = max(self.peak, self.equity)
        reward = strategy_return * self.reward_scale
        info = {"t": t, "size": size, "strategy_return": strategy_return}
        return self.observation(), float(reward), self.t >= self.end, False, info

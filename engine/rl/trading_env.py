"""TradingEnv: a DQN's market, one bar per step, over a version's feature rows.

Actions are target positions: 0 sell (-1), 1 hold (flat, 0), 2 buy (+1); with `long_only` a sell
goes flat instead of short. The position chosen at bar t is held over the next bar, so

    reward_t = position_t * next_return_t - cost_bps / 1e4 * |position_t - position_{t-1}| - penalty_t

starting flat, as engine.metrics.strategy_returns scores a forecast. `risk_penalty`:
"volatility" subtracts risk_weight * (the bar's strategy return)^2 (a mean-variance reward);
"drawdown" subtracts risk_weight * the increase of the equity curve's drawdown this bar.
`reward_scale` multiplies the reward (a learner sees percents, not fractions of a percent).

The observation at bar t (float32) is the window of the last `window` feature rows up to t
(rows before the first padded by repeating row 0), flattened row after row, then the agent's own
state: its position, its unrealised return since it entered the position (in percent), and
log(1 + bars held). Nothing after bar t enters it: the state moves with `bar_returns` (the return
each bar realised at its close, by default the previous bar's next return) and with the agent's
own earlier actions. An episode runs from bar 0 to the last bar, or, with `episode_length`, over
that many bars from a start drawn with the environment's seeded generator.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np

from engine.rl.checks import (
    OBS_BOUND,
    RISK_PENALTIES,
    checked_bar_returns,
    checked_cost,
    checked_episode_length,
    checked_inputs,
)
from engine.rl.episodes import BarEpisodes
from engine.rl.windows import padded

POSITIONS = (-1.0, 0.0, 1.0)  # action index -> target position: sell, hold, buy
LONG_ONLY_POSITIONS = (0.0, 0.0, 1.0)
STATE_SIZE = 3  # position, unrealised return (%), log(1 + bars in position)


class TradingEnv(BarEpisodes):
    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        features,
        next_returns,
        *,
        window: int = 10,
        cost_bps: float = 1.0,
        long_only: bool = False,
        risk_penalty: str = "none",
        risk_weight: float = 0.0,
        bar_returns=None,
        episode_length: int | None = None,
        reward_scale: float = 1.0,
    ):
        super().__init__()
        self.features, self.next_returns = checked_inputs(features, next_returns, window)
        self.n_bars, self.n_features = self.features.shape
        self.window = int(window)
        self.cost = checked_cost(cost_bps) / 1e4
        if risk_penalty not in RISK_PENALTIES:
            raise ValueError(f"risk_penalty must be one of {', '.join(RISK_PENALTIES)}, got {risk_penalty!r}")
        if not isinstance(risk_weight, int | float) or not math.isfinite(risk_weight) or risk_weight < 0:
            raise ValueError(f"risk_weight must be a number >= 0, got {risk_weight!r}")
        self.risk_penalty, self.risk_weight = risk_penalty, float(risk_weight)
        self.positions = LONG_ONLY_POSITIONS if long_only else POSITIONS
        self.bar_returns = checked_bar_returns(bar_returns, self.next_returns)
        self.episode_length = checked_episode_length(episode_length, self.n_bars)
        self.reward_scale = float(reward_scale)
        self._padded = padded(self.features, self.window)
        self._width = self.window * self.n_features
        self.observation_space = gymnasium.spaces.Box(
            -OBS_BOUND, OBS_BOUND, shape=(self._width + STATE_SIZE,), dtype=np.float32
        )
        self.action_space = gymnasium.spaces.Discrete(3)
        self._start(0, self.n_bars)

    def _start(self, start: int, end: int) -> None:
        self.t, self.end = start, end
        self.position, self.unrealised, self.bars_held = 0.0, 0.0, 0
        self.equity, self.peak, self.drawdown = 1.0, 1.0, 0.0

    def observation(self) -> np.ndarray:
        """The observation at the current bar (the last one once the episode ended)."""
        t = min(self.t, self.n_bars - 1)
        obs = np.empty(self._width + STATE_SIZE, dtype=np.float32)
        obs[: self._width] = self._padded[t : t + self.window].reshape(-1)
        obs[self._width] = self.position
        obs[self._width + 1] = 100.0 * self.unrealised
        obs[self._width + 2] = math.log1p(self.bars_held)
        return obs

    def step(self, action):
        target = self.positions[int(action)]
        t = self.t
        strategy_return = target * self.next_returns[t] - self.cost * abs(target - self.position)
        penalty = 0.0
        if self.risk_penalty == "volatility":
            penalty = self.risk_weight * strategy_return * strategy_return
        elif self.risk_penalty == "drawdown":
            self.equity *= 1.0 + strategy_return
            self.peak = max(self.peak, self.equity)
            drawdown = 1.0 - self.equity / self.peak
            penalty = self.risk_weight * max(drawdown - self.drawdown, 0.0)
            self.drawdown = drawdown
        if target != self.position:
            self.position, self.unrealised, self.bars_held = target, 0.0, 0
        self.t = t + 1
        if self.position != 0.0 and self.t < self.n_bars:
            # The bar just closed: what the position earned over it is known now.
            self.unrealised = (1.0 + self.unrealised) * (1.0 + self.position * self.bar_returns[self.t]) - 1.0
            self.bars_held += 1
        reward = (strategy_return - penalty) * self.reward_scale
        info = {"t": t, "position": target, "strategy_return": strategy_return}
        return self.observation(), float(reward), self.t >= self.end, False, info

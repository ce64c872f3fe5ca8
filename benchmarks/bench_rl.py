"""The agents' environments and training, against their limits.

1. Environment steps per second: engine.rl.TradingEnv (checks done once in __init__, a padded
   window, the agent's own state, the optional risk penalty) against a minimal gymnasium
   environment doing the same arithmetic on numpy arrays (window slice, position, reward after
   costs) and nothing else: the limit. Target: TradingEnv >= 0.5x the minimal one.
2. Agent training throughput (environment steps per second of a whole fit, set-up included):
   the dqn and ppo_sizing kinds on the CPU, and on CUDA where torch sees a GPU, with the ratio to
   the CPU. (The networks are tiny MLPs: a GPU is not expected to win.)

Data: the bundled GOOG daily bars, the core recipe (engine.training.prepare_data), fwd_ret_1.
Timed by the process's CPU time (steady on a shared machine) and by wall clock; best of --repeats.

Run: .venv/bin/python benchmarks/bench_rl.py [--repeats 5] [--steps 20000] [--timesteps 3000]
"""

from __future__ import annotations

import argparse
import time

import gymnasium
import numpy as np

from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.models import make_model
from engine.rl.trading_env import TradingEnv
from engine.training import prepare_data

WINDOW = 10


class MinimalEnv(gymnasium.Env):
    """The same observation and reward arithmetic, no checks, no agent state beyond the position."""

    def __init__(self, features: np.ndarray, next_returns: np.ndarray, window: int, cost: float):
        super().__init__()
        padding = np.repeat(features[:1], window - 1, axis=0)
        self.padded = np.concatenate([padding, features]).astype(np.float32)
        self.next_returns, self.window, self.cost = next_returns, window, cost
        width = window * features.shape[1] + 1
        self.width = width - 1
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, shape=(width,), dtype=np.float32)
        self.action_space = gymnasium.spaces.Discrete(3)
        self.t, self.position = 0, 0.0

    def _obs(self) -> np.ndarray:
        t = min(self.t, len(self.next_returns) - 1)
        obs = np.empty(self.width + 1, dtype=np.float32)
        obs[: self.width] = self.padded[t : t + self.window].reshape(-1)
        obs[self.width] = self.position
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.position = 0, 0.0
        return self._obs(), {}

    def step(self, action):
        target = float(action) - 1.0
        reward = target * self.next_returns[self.t] - self.cost * abs(target - self.position)
        self.position, self.t = target, self.t + 1
        return self._obs(), reward, self.t >= len(self.next_returns), False, {}


def goog() -> tuple[np.ndarray, np.ndarray]:
    data = prepare_data(load_ohlcv(bundled_path("GOOG")), 1)
    return data.X, data.next_ret


def steps_per_second(env: gymnasium.Env, steps: int, actions: np.ndarray) -> tuple[float, float]:
    """(steps per CPU second, per wall second) of `steps` steps, resetting at each episode end."""
    env.reset(seed=0)
    cpu, wall = time.process_time(), time.perf_counter()
    for step in range(steps):
        _obs, _reward, terminated, _truncated, _info = env.step(actions[step])
        if terminated:
            env.reset()
    return steps / (time.process_time() - cpu), steps / (time.perf_counter() - wall)


def fit_throughput(kind: str, X: np.ndarray, y: np.ndarray, timesteps: int, device: str):
    """(environment steps per CPU second, per wall second) of one whole fit of `kind`."""
    params = {"total_timesteps": timesteps, "device": device, "seed": 0}
    if kind == "dqn":
        params["learning_starts"] = min(500, timesteps // 4)
    model = make_model(kind, **params)
    cpu, wall = time.process_time(), time.perf_counter()
    model.fit(X, y)
    done = model.history_[-1]["timesteps"]
    return done / (time.process_time() - cpu), done / (time.perf_counter() - wall)


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return max(run[0] for run in runs), max(run[1] for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--timesteps", type=int, default=3000)
    args = parser.parse_args()

    X, next_ret = goog()
    mean, std = X.mean(axis=0), X.std(axis=0)
    scaled = (X - mean) / np.where(std > 0, std, 1.0)
    actions = np.random.default_rng(0).integers(0, 3, size=args.steps)
    print(f"GOOG daily, core recipe: {X.shape[0]} bars x {X.shape[1]} features, window {WINDOW}")

    ours, limit = [], []
    for _ in range(args.repeats):  # interleaved, so a busy moment hurts both alike
        ours.append(steps_per_second(TradingEnv(scaled, next_ret, window=WINDOW), args.steps, actions))
        limit.append(steps_per_second(MinimalEnv(scaled, next_ret, WINDOW, 1e-4), args.steps, actions))
    (ours_cpu, ours_wall), (limit_cpu, limit_wall) = best(ours), best(limit)
    print(f"env steps/s  TradingEnv {ours_cpu:,.0f} (wall {ours_wall:,.0f})  "
          f"minimal {limit_cpu:,.0f} (wall {limit_wall:,.0f})  "
          f"ratio {ours_cpu / limit_cpu:.2f}x (wall {ours_wall / limit_wall:.2f}x; target >= 0.5x)")

    import torch

    y = next_ret * 1e4
    devices = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    for kind in ("dqn", "ppo_sizing"):
        inputs = np.column_stack([np.sign(y) * 0.0, X]) if kind == "ppo_sizing" else X  # a null signal
        rates = {device: best([fit_throughput(kind, inputs, y, args.timesteps, device)
                               for _ in range(max(1, args.repeats // 2))]) for device in devices}
        cpu_rate = rates["cpu"]
        line = f"{kind:<11} train steps/s  cpu {cpu_rate[0]:,.0f} (wall {cpu_rate[1]:,.0f})"
        if "cuda" in rates:
            cuda_rate = rates["cuda"]
            line += (f"  cuda {cuda_rate[0]:,.0f} (wall {cuda_rate[1]:,.0f})  "
                     f"cuda/cpu {cuda_rate[1] / cpu_rate[1]:.2f}x (wall)")
        else:
            line += "  cuda: no GPU here"
        print(line)


if __name__ == "__main__":
    main()

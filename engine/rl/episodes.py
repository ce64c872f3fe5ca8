"""What the trading and the sizing environments share: an episode over a slice of bars."""

from __future__ import annotations

import gymnasium


class BarEpisodes(gymnasium.Env):
    """An episode runs over every bar (`episode_length` None) or over a window of
    `episode_length` bars starting at a random bar (drawn from the env's seeded generator).
    Subclasses set `n_bars` and `episode_length` and define `_start(start, end)` (the state at
    an episode's first bar) and `observation()`."""

    n_bars: int
    episode_length: int | None
    t: int

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.episode_length is None:
            self._start(0, self.n_bars)
        else:
            start = int(self.np_random.integers(0, self.n_bars - self.episode_length + 1))
            self._start(start, start + self.episode_length)
        return self.observation(), {"t": self.t}

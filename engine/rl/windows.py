"""The causal pieces both environments share: the window of past feature rows ending at a bar,
and the return each bar realised, known at its close.

A window at bar t holds rows t - window + 1 .. t; rows before the first are padded by repeating
row 0 (the same padding in training and in a rollout, so the first bars look alike to the agent).
"""

from __future__ import annotations

import numpy as np


def padded(features: np.ndarray, window: int) -> np.ndarray:
    """`features` with window - 1 copies of row 0 in front: the window at bar t is
    padded[t : t + window]."""
    if window == 1:
        return np.ascontiguousarray(features)
    return np.concatenate([np.repeat(features[:1], window - 1, axis=0), features], axis=0)


def bar_returns_from(next_returns: np.ndarray) -> np.ndarray:
    """The return each bar realised at its close: bar t's is the previous bar's next return
    (bar 0's is unknown, 0)."""
    realised = np.zeros_like(next_returns, dtype=np.float64)
    realised[1:] = next_returns[:-1]
    return realised

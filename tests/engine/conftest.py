"""Shared fixtures for the engine tests: the bundled frames and a synthetic bar builder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from engine.data import load_ohlcv
from engine.datasets import bundled_path


@pytest.fixture(scope="session")
def goog() -> pl.DataFrame:
    return load_ohlcv(bundled_path("GOOG"))


@pytest.fixture(scope="session")
def btc() -> pl.DataFrame:
    return load_ohlcv(bundled_path("BTCUSD"))


def bars_from_returns(returns: np.ndarray, symbol: str = "SYN", seed: int = 0) -> pl.DataFrame:
    """A canonical daily OHLCV frame whose close-to-close returns are exactly `returns`."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.cumprod(1.0 + np.asarray(returns, dtype=float))
    open_ = np.concatenate([[100.0], close[:-1]])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    return pl.DataFrame(
        {
            "ts": [start + timedelta(days=i) for i in range(close.size)],
            "symbol": [symbol] * close.size,
            "open": open_,
            "high": np.maximum(open_, close) * 1.002,
            "low": np.minimum(open_, close) * 0.998,
            "close": close,
            "volume": rng.lognormal(10, 0.5, close.size),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


@pytest.fixture
def make_bars():
    return bars_from_returns

"""Market data shipped with Huracan, so the demo and the tests need nothing from outside."""

from __future__ import annotations

from pathlib import Path

# symbol -> (file name in this folder, bar length)
BUNDLED: dict[str, tuple[str, str]] = {
    "GOOG": ("goog_daily.csv", "1d"),
    "EURUSD": ("eurusd_hourly.csv", "1h"),
    "BTCUSD": ("btcusd_monthly.csv", "1mo"),
}


def bundled_path(symbol: str) -> Path:
    """Path of the bundled CSV for `symbol` (case-insensitive); KeyError names the known ones."""
    key = symbol.upper()
    if key not in BUNDLED:
        known = ", ".join(sorted(BUNDLED))
        raise KeyError(f"no bundled data for {symbol!r}; bundled symbols: {known}")
    return Path(__file__).parent / BUNDLED[key][0]

"""Live bar feeds: where the live loop's new bars come from.

A feed keeps no position of its own: each poll asks the brain for the series' last stored bar
and stores what comes after it, so a restarted leader (or another leader taking over) carries
on exactly where the brain stands.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import polars as pl

from brain import Brain

_READ = object()  # "read it from the brain"


class _Feed(ABC):
    symbol: str
    timeframe: str
    ended = False  # a replay that played its file out; a polling feed never ends

    @property
    def series(self) -> tuple[str, str]:
        return self.symbol, self.timeframe

    @abstractmethod
    def _bars(self) -> pl.DataFrame:
        """Every bar the feed's origin holds now."""

    def _after_last_stored(self, brain: Brain, frame: pl.DataFrame, last: Any = _READ) -> pl.DataFrame:
        """The bars of `frame` after the brain's last stored bar (`last`, when the caller has read it)."""
        last = brain.last_bar_ts(self.symbol, self.timeframe) if last is _READ else last
        return frame if last is None else frame.filter(pl.col("ts") > last)


class PollingFeed(_Feed):
    """Stores the bars of a file (CSV / Parquet, engine.data's loader) or of a SQL source
    (engine.sources: {"sql_url": …, "table" | "query": …}) that are newer than the brain's last
    stored bar of the series. A file is read again only when its size or mtime changed."""

    def __init__(self, source: str | Path | dict[str, Any], symbol: str, timeframe: str):
        self.source = source
        self.symbol = symbol
        self.timeframe = timeframe
        self._seen: tuple[int, int] | None = None

    def _file_stamp(self) -> tuple[int, int] | None:
        if isinstance(self.source, dict):
            return None
        stat = os.stat(self.source)
        return stat.st_size, stat.st_mtime_ns

    def _bars(self) -> pl.DataFrame:
        from engine.sources import read_ohlcv_source

        spec = (
            self.source
            if isinstance(self.source, dict)
            else {"path": str(self.source), "symbol": self.symbol}
        )
        frame = read_ohlcv_source(spec)
        return frame.filter(pl.col("symbol") == self.symbol)

    def poll(self, brain: Brain) -> int:
        """Store the new bars; returns how many."""
        stamp = self._file_stamp()
        if stamp is not None and stamp == self._seen:
            return 0
        new = self._after_last_stored(brain, self._bars())
        stored = brain.store_bars(self.symbol, self.timeframe, new) if not new.is_empty() else 0
        self._seen = stamp
        return stored

    def __repr__(self) -> str:
        return f"PollingFeed({self.source!r}, {self.symbol!r}, {self.timeframe!r})"


class ReplayFeed(_Feed):
    """Plays a historical file into the brain `speed` bars per poll, starting after the brain's
    last stored bar of the series (from the file's first bar when the brain has none, unless
    `follow_only`: then it only continues a series something else imported, as the demo's does)."""

    def __init__(self, path: str | Path, symbol: str, timeframe: str, speed: int = 1, *,
                 follow_only: bool = False):
        if int(speed) < 1:
            raise ValueError(f"replay speed must be at least 1 bar a tick, got {speed!r}")
        self.path = Path(path)
        self.symbol = symbol
        self.timeframe = timeframe
        self.speed = int(speed)
        self.follow_only = follow_only
        self._frame: pl.DataFrame | None = None
        self.ended = False  # the file is played out

    def _bars(self) -> pl.DataFrame:
        if self._frame is None:  # a historical file does not change: read it once
            from engine.data import load_ohlcv

            self._frame = load_ohlcv(self.path, symbol=self.symbol)
        return self._frame

    def poll(self, brain: Brain) -> int:
        """Store the next `speed` bars; returns how many (0 once the file is played out)."""
        last = brain.last_bar_ts(self.symbol, self.timeframe)
        if self.follow_only and last is None:
            return 0
        new = self._after_last_stored(brain, self._bars(), last).head(self.speed)
        # Fewer bars left than a poll plays: this poll played the file out.
        self.ended = new.height < self.speed
        return brain.store_bars(self.symbol, self.timeframe, new) if not new.is_empty() else 0

    def remaining(self, brain: Brain) -> int:
        return self._after_last_stored(brain, self._bars()).height

    def __repr__(self) -> str:
        return f"ReplayFeed({str(self.path)!r}, {self.symbol!r}, {self.timeframe!r}, speed={self.speed})"


Feed = PollingFeed | ReplayFeed


def feeds_from_config(live) -> list[Feed]:
    """The feeds a `live:` config section (scheduler.config.LiveConfig) describes."""
    feeds: list[Feed] = []
    for spec in live.feeds:
        if spec.kind == "replay":
            feeds.append(ReplayFeed(spec.path, spec.symbol, spec.timeframe, speed=spec.speed))
        else:
            feeds.append(
                PollingFeed(
                    spec.source if spec.source is not None else spec.path, spec.symbol, spec.timeframe
                )
            )
    return feeds

"""Is the scheduler healthy? What a monitor asks of a brain (`huracan health`), and the feed lags
the Prometheus endpoint reports too.

Healthy means: a leader is alive (the lease: brain/lease.py), no feed is failing, and no running
feed's newest bar is older than the limit when one is set (`--max-feed-lag`, else
`metrics.max_feed_lag`). A bar's age is not judged without a limit, because the feeds do not know
their market's closures: a daily stock feed is three days old every Monday morning. A feed that
ended (a replay played out) is done, not late. The newest finished job is reported, never
judged: one failed retrain is not an outage, and the job counters in /metrics track the rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from brain import Brain
from brain.jobs import JobTally
from brain.lease import LeaderRecord
from brain.records import FINAL_JOB_STATES, FeedStateRecord
from scheduler.config import HuracanConfig


@dataclass(frozen=True)
class FeedLag:
    """One feed as monitoring sees it: its last known state and how old its newest stored bar is."""

    symbol: str
    timeframe: str
    state: str | None  # running | ended | failing; None: configured, never polled yet
    detail: str
    newest_bar: datetime | None  # None: no bar of the series is stored
    lag_seconds: float | None  # now - newest_bar

    @property
    def feed(self) -> str:
        return f"{self.symbol}:{self.timeframe}"


@dataclass(frozen=True)
class LastJob:
    """The newest finished job: its kind, how it ended and when."""

    kind: str
    state: str
    ended_at: datetime


@dataclass(frozen=True)
class Health:
    """One health check of a brain; `problems` says, one line each, why it is not healthy."""

    checked_at: datetime
    leader: LeaderRecord | None
    feeds: tuple[FeedLag, ...]
    max_feed_lag: float | None  # the limit the feeds were judged by (None: lag not judged)
    last_job: LastJob | None
    problems: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return not self.problems


def feed_lags(brain: Brain, config: HuracanConfig, *, now: datetime,
              states: Sequence[FeedStateRecord] | None = None) -> tuple[FeedLag, ...]:
    """Every feed the brain has a state for or the config names, by symbol then timeframe; the
    newest bar is one index seek per feed (feeds are few, unlike slots)."""
    known = {(state.symbol, state.timeframe): state for state in (brain.feed_states() if states is None
                                                                   else states)}
    series = sorted(set(known) | {(feed.symbol, feed.timeframe) for feed in config.live.feeds})
    lags = []
    for symbol, timeframe in series:
        newest = brain.last_bar_ts(symbol, timeframe)
        record = known.get((symbol, timeframe))
        lags.append(FeedLag(symbol, timeframe, record.state if record else None,
                            record.detail if record else "", newest,
                            (now - newest).total_seconds() if newest is not None else None))
    return tuple(lags)


def last_job(tallies: list[JobTally]) -> LastJob | None:
    """The newest finished job of brain.job_tallies (its kind, final state and end)."""
    ended = [(tally.last_finished_at, tally) for tally in tallies
             if tally.state in FINAL_JOB_STATES and tally.last_finished_at is not None]
    if not ended:
        return None
    at, newest = max(ended, key=lambda pair: pair[0])
    return LastJob(newest.kind, newest.state, at)


def check_health(brain: Brain, config: HuracanConfig, *, max_feed_lag: float | None = None,
                 now: datetime | None = None) -> Health:
    """The brain's health now; `max_feed_lag` (seconds) beats the config's `metrics.max_feed_lag`."""
    now = now or datetime.now(UTC)
    limit = max_feed_lag if max_feed_lag is not None else config.metrics.max_feed_lag
    leader = brain.current_leader()
    feeds = feed_lags(brain, config, now=now)
    problems = [] if leader is not None else [
        "no leader is alive: no `huracan-tui --headless` holds this brain's lease"]
    for feed in feeds:
        if feed.state == "failing":
            problems.append(f"feed {feed.feed} is failing: {feed.detail or 'no reason given'}")
        elif (feed.state == "running" and limit is not None and feed.lag_seconds is not None
              and feed.lag_seconds > limit):
            problems.append(f"feed {feed.feed} lags {describe_seconds(feed.lag_seconds)} "
                            f"(limit {describe_seconds(limit)}): "
                            f"its newest bar is {feed.newest_bar:%Y-%m-%d %H:%M} UTC")
    return Health(checked_at=now, leader=leader, feeds=feeds, max_feed_lag=limit,
                  last_job=last_job(brain.job_tallies()), problems=tuple(problems))


def describe_seconds(seconds: float) -> str:
    """A span as people read it: 45s, 12m, 3h 5m, 2d 4h."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"

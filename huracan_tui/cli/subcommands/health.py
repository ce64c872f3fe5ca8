"""`huracan health`: is the scheduler of this brain healthy? For monitors (systemd timers, Nagios-style
checks, a load balancer's probe): the exit code says it, the text or JSON says why."""

from __future__ import annotations

import argparse
import math

from huracan_tui.cli.output import CommandError, emit
from huracan_tui.settings import resolve_brain_url

EXIT_UNHEALTHY = 1

EPILOG = """\
exit codes:
  0  healthy: a leader is alive, no feed is failing, no running feed lags beyond the limit
  1  unhealthy (each reason is printed), or the brain cannot be reached
  2  bad input (an unknown option, a bad --max-feed-lag, a bad config file)

A feed's lag is the age of its newest stored bar. It is judged only against a limit
(--max-feed-lag, else metrics.max_feed_lag in the config): the feeds do not know their market's
closures, so pick one above the longest (e.g. 4d for daily stocks: a weekend). A feed that ended (a replay
played out) is not judged. The newest finished job is reported, never judged: watch
huracan_jobs_failed_total on /metrics for failure rates."""


def register(command) -> None:
    parser = command("health", run, "is the scheduler healthy? (exit 0 healthy, 1 unhealthy, 2 bad input)")
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--max-feed-lag", metavar="SECONDS",
                        help="unhealthy when a running feed's newest bar is older than this "
                        "(seconds, or a span: 90m, 2h, 3d); default: metrics.max_feed_lag, else not judged")


def max_feed_lag(text: str | None) -> float | None:
    """--max-feed-lag as seconds: a plain number, or a span as the config writes durations."""
    if text is None:
        return None
    from scheduler.config import parse_duration

    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration(text)
        except ValueError as error:
            raise CommandError(f"--max-feed-lag: {error}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise CommandError(f"--max-feed-lag must be a finite number of seconds above 0, not {text!r}")
    return seconds


def run(args, config) -> None:
    from brain import open_brain
    from scheduler.services.health import check_health

    limit = max_feed_lag(args.max_feed_lag)  # checked before the brain is opened
    with open_brain(resolve_brain_url(args.brain, config)) as brain:
        health = check_health(brain, config, max_feed_lag=limit)
        document = health_document(health, brain.url)
    emit(document, args.json, render)
    if not health.healthy:
        raise SystemExit(EXIT_UNHEALTHY)


def health_document(health, brain_url: str) -> dict:
    leader = health.leader
    last = health.last_job
    return {
        "brain": brain_url,
        "healthy": health.healthy,
        "checked_at": health.checked_at,
        "problems": list(health.problems),
        "leader": None if leader is None else {
            "alive": True, "holder": leader.holder, "host": leader.host, "pid": leader.pid,
            "since": leader.acquired_at, "heartbeat_at": leader.heartbeat_at,
        },
        "max_feed_lag_s": health.max_feed_lag,
        "feeds": [{"feed": feed.feed, "state": feed.state, "detail": feed.detail,
                   "newest_bar": feed.newest_bar, "lag_s": feed.lag_seconds} for feed in health.feeds],
        "last_job": None if last is None else {"kind": last.kind, "state": last.state,
                                               "ended_at": last.ended_at},
    }


def render(doc) -> str:
    from scheduler.services.health import describe_seconds

    leader = doc["leader"]
    lines = [f"{'healthy' if doc['healthy'] else 'UNHEALTHY'}: {doc['brain']}"]
    lines.append(f"leader: {leader['host']}:{leader['pid']} since {leader['since']:%Y-%m-%d %H:%M:%S} UTC"
                 if leader else "leader: none alive")
    for feed in doc["feeds"]:
        lag = "no bars" if feed["lag_s"] is None else f"newest bar {describe_seconds(feed['lag_s'])} old"
        lines.append(f"feed {feed['feed']}: {feed['state'] or 'not polled yet'}, {lag}")
    last = doc["last_job"]
    lines.append(f"last job: {last['kind']} {last['state']} at {last['ended_at']:%Y-%m-%d %H:%M:%S} UTC"
                 if last else "last job: none finished")
    lines.extend(f"problem: {problem}" for problem in doc["problems"])
    return "\n".join(lines)

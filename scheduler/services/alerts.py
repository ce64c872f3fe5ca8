"""Alerts: the leader's `alerts` schedule entry detects changes of state in the brain and tells the
configured sinks (webhooks, commands) of each, once.

Detection reads the brain's own state, never this process's memory, so a new leader carries on
where the last one stopped: a slot's drift flag and a feed's health are compared with the newest
alert told of them (brain.last_told), and a failed job, a rollback or a new holder of the lease is
keyed by its own id. Every alert has a unique dedupe key (brain/alerts.py), so one change is one
alert even when two leaders detect it at once.

Delivery: each due delivery is claimed, attempted once (a webhook's POST or a command's run, both
bounded by `alerts.timeout`), and on failure tried again after an exponential backoff whose next
time is stored; after `alerts.retries` retries it is undeliverable, with its last error kept.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from brain import Brain
from brain.alerts import AlertRecord, LastTold, NewAlert
from scheduler.config import AlertsConfig, AlertSinkConfig, HuracanConfig
from scheduler.services.worker_process import BRAIN_URL_ENV  # never handed to an alert command

log = logging.getLogger("huracan.alerts")

# Deliveries attempted in one run of the schedule entry: a backlog (a sink down for hours) is
# worked off over several runs, so no run holds its thread for long.
DELIVERIES_PER_RUN = 20
# Failed jobs and rollbacks looked at per detection (newest first, within alerts.lookback).
RECENT_ROWS = 200
# A claimed attempt is held this much longer than the timeout before another deliverer may
# take it again (the one that claimed it died mid-attempt).
CLAIM_MARGIN_SECONDS = 30.0
FEED_PROBLEMS = ("ended", "failing", "stale")


class DeliveryError(Exception):
    """One failed attempt, worded as one line (kept as the delivery's last error)."""


@dataclass(frozen=True)
class AlertsReport:
    """What one run of the schedule entry did."""

    detected: int = 0  # alerts stored by this run
    delivered: int = 0
    retrying: int = 0  # attempts that failed and will be tried again
    undeliverable: int = 0  # attempts that failed for the last time

    def __str__(self) -> str:
        return (f"{self.detected} new, {self.delivered} delivered, {self.retrying} to retry, "
                f"{self.undeliverable} undeliverable")


def run_alerts(brain: Brain, config: HuracanConfig, *, now: datetime | None = None) -> AlertsReport:
    """The schedule entry's work: new changes of state stored, then the due deliveries made."""
    detected = detect_alerts(brain, config.alerts, live_feeds=config.live.feeds, now=now)
    report = deliver_due(brain, config.alerts)
    return AlertsReport(len(detected), report.delivered, report.retrying, report.undeliverable)


# ---- detection ------------------------------------------------------------------------------------


def detect_alerts(brain: Brain, alerts: AlertsConfig, *, live_feeds: Iterable = (),
                  now: datetime | None = None) -> list[int]:
    """Store an alert for each change of state since the last told (only kinds some sink wants);
    returns the ids stored."""
    wanted = alerts.wanted()
    if not wanted:
        return []
    now = now or datetime.now(UTC)
    since = now - timedelta(seconds=alerts.lookback)
    told = brain.last_told(wanted & {"drift", "feed_stale", "leader_change"})
    found: list[NewAlert] = []
    if "drift" in wanted:
        found += drift_changes(brain.drift_flags(), told)
    if "rollback" in wanted:
        found += [rollback_alert(r) for r in brain.list_rollbacks(limit=RECENT_ROWS) if r.ts >= since]
    if "job_failed" in wanted:
        found += [job_failed_alert(job) for job in brain.list_jobs(limit=RECENT_ROWS, states=["failed"])
                  if (job.finished_at or job.created_at) >= since]
    if "feed_stale" in wanted:
        found += feed_changes(feed_health(brain, alerts, live_feeds, now), told)
    if "leader_change" in wanted:
        found += leader_changes(brain.current_leader(), told)
    stored = brain.stored_dedupe_keys([alert.dedupe_key for alert in found])
    ids = []
    for alert in found:
        if alert.dedupe_key in stored:
            continue
        sinks = [sink.label for sink in alerts.sinks if alert.kind in sink.events]
        alert_id = brain.record_alert(alert, sinks, at=now)
        if alert_id is not None:  # None: another leader stored it first
            log.info("alert %d (%s %s): %s", alert_id, alert.kind, alert.subject, alert.message)
            ids.append(alert_id)
    return ids


def _after(told: LastTold | None) -> int:
    """A state change's key names the alert it follows, so two leaders reading the same last
    alert write the same key (and the brain keeps one)."""
    return told.alert_id if told else 0


def drift_changes(flags: dict[str, dict[str, Any]], told: dict[tuple[str, str], LastTold]) -> list[NewAlert]:
    """A slot's drift flag (its newest PSI check found a feature drifted) turning on, or off again."""
    found = []
    for slot, flag in sorted(flags.items()):
        last = told.get(("drift", slot))
        on = bool(flag["drifted"])
        was_on = last is not None and last.condition == "on"
        if on == was_on:
            continue
        details = {"slot": slot, "drifted": flag["drifted"], "features": flag["features"],
                   "method": flag["method"], "checked_at": flag["ts"].isoformat()}
        if on:
            message = (f"{slot}: drift detected, {flag['drifted']} of {flag['features']} features drifted "
                       f"({flag['method'].upper()})")
        else:
            message = (f"{slot}: drift resolved, no feature drifted at the newest check "
                       f"({flag['method'].upper()})")
        found.append(NewAlert("drift", slot, "on" if on else "resolved",
                              f"drift:{slot}:after:{_after(last)}", message, details))
    return found


def rollback_alert(rollback) -> NewAlert:
    how = "automatic" if rollback.automatic else "manual"
    message = (f"{rollback.slot_key}: {how} rollback v{rollback.from_version} → v{rollback.to_version} "
               f"by {rollback.actor}: {rollback.reason}")
    details = {"slot": rollback.slot_key, "from_version": rollback.from_version,
               "to_version": rollback.to_version, "automatic": rollback.automatic, "actor": rollback.actor,
               "reason": rollback.reason, "at": rollback.ts.isoformat()}
    return NewAlert("rollback", rollback.slot_key, how, f"rollback:{rollback.id}", message, details)


def job_failed_alert(job) -> NewAlert:
    what = f"{job.kind} {job.slot_key or ''}".strip()
    error = (job.error or job.message or "").splitlines()[0] if (job.error or job.message) else ""
    details = {"job": job.id, "kind": job.kind, "slot": job.slot_key, "error": job.error,
               "finished_at": job.finished_at.isoformat() if job.finished_at else None}
    return NewAlert("job_failed", f"job {job.id}", "failed", f"job_failed:{job.id}",
                    f"job {job.id} ({what}) failed: {error}", details)


@dataclass(frozen=True)
class FeedHealth:
    """One feed as the alerts see it: its problem (ended, failing, stale) or None, and why."""

    symbol: str
    timeframe: str
    problem: str | None
    detail: str

    @property
    def subject(self) -> str:
        return f"{self.symbol} {self.timeframe}"


def feed_health(brain: Brain, alerts: AlertsConfig, live_feeds: Iterable, now: datetime) -> list[FeedHealth]:
    """Every feed the brain has a state of, and every poll feed of the config: its feed state
    (ended or failing), else stale when its newest bar is older than alerts.feed_silence."""
    states = {(feed.symbol, feed.timeframe): feed for feed in brain.feed_states()}
    polled = {(feed.symbol, feed.timeframe) for feed in live_feeds if feed.kind == "poll"}
    health = []
    for symbol, timeframe in sorted(set(states) | polled):
        state = states.get((symbol, timeframe))
        if state is not None and state.state in ("ended", "failing"):
            health.append(FeedHealth(symbol, timeframe, state.state, state.detail))
            continue
        problem, detail = None, ""
        if alerts.feed_silence is not None and (symbol, timeframe) in polled:
            newest = brain.load_bars(symbol, timeframe, last=1)
            last_bar = newest["ts"][0] if newest.height else None
            if last_bar is None or (now - last_bar).total_seconds() > alerts.feed_silence:
                problem = "stale"
                detail = (f"no bar for more than {alerts.feed_silence:g}s"
                          + (f" (newest {last_bar:%Y-%m-%d %H:%M} UTC)" if last_bar else " (none stored)"))
        health.append(FeedHealth(symbol, timeframe, problem, detail))
    return health


def feed_changes(health: list[FeedHealth], told: dict[tuple[str, str], LastTold]) -> list[NewAlert]:
    """A feed turning ended, failing or stale (or from one to another), and back to running."""
    found = []
    for feed in health:
        last = told.get(("feed_stale", feed.subject))
        was = last.condition if last is not None and last.condition in FEED_PROBLEMS else None
        if feed.problem == was:
            continue
        condition = feed.problem or "resolved"
        message = (f"feed {feed.subject} {feed.problem}: {feed.detail}".rstrip(": ") if feed.problem
                   else f"feed {feed.subject} runs again")
        details = {"symbol": feed.symbol, "timeframe": feed.timeframe, "state": condition,
                   "detail": feed.detail, "previous": was}
        found.append(NewAlert("feed_stale", feed.subject, condition,
                              f"feed_stale:{feed.subject}:after:{_after(last)}", message, details))
    return found


def leader_changes(leader, told: dict[tuple[str, str], LastTold]) -> list[NewAlert]:
    """A new holder of the lease (a leader that re-takes its own lease is no change)."""
    last = told.get(("leader_change", "leader"))
    if leader is None or (last is not None and last.condition == leader.holder):
        return []
    details = {"holder": leader.holder, "host": leader.host, "pid": leader.pid,
               "previous": last.condition if last else None, "since": leader.acquired_at.isoformat()}
    return [NewAlert("leader_change", "leader", leader.holder, f"leader_change:leader:after:{_after(last)}",
                     f"{leader.label} leads the brain now", details)]


# ---- delivery -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    undeliverable: int = 0


def alert_document(alert: AlertRecord, brain_url: str) -> dict[str, Any]:
    """The JSON document a sink receives for an alert (the brain's URL without its password)."""
    return {"source": "huracan", "brain": brain_url, "id": alert.id, "kind": alert.kind,
            "subject": alert.subject, "condition": alert.condition, "message": alert.message,
            "created_at": alert.created_at.isoformat(), "details": alert.payload}


def deliver_due(brain: Brain, alerts: AlertsConfig, *, limit: int = DELIVERIES_PER_RUN) -> DeliveryReport:
    """Attempt each due delivery once: delivered, to be retried after the backoff, or (its
    retries spent, or its sink no longer configured) undeliverable with the error kept."""
    sinks = {sink.label: sink for sink in alerts.sinks}
    counts = {"delivered": 0, "retrying": 0, "undeliverable": 0}
    for delivery, alert in brain.due_deliveries(limit=limit):
        hold = timedelta(seconds=alerts.timeout + CLAIM_MARGIN_SECONDS)
        if not brain.claim_delivery(delivery.id, delivery.attempts, hold_until=datetime.now(UTC) + hold):
            continue  # another deliverer took it
        attempts = delivery.attempts + 1
        sink = sinks.get(delivery.sink)
        try:
            if sink is None:
                attempts = alerts.retries + 1  # nothing to retry with
                raise DeliveryError(f"no sink named {delivery.sink!r} in alerts.sinks any more")
            send(sink, alert_document(alert, brain.url), alerts.timeout)
        except DeliveryError as error:
            last = attempts > alerts.retries
            retry_at = None if last else datetime.now(UTC) + timedelta(seconds=alerts.backoff.delay(attempts))
            brain.delivery_failed(delivery.id, str(error), retry_at=retry_at)
            counts["undeliverable" if last else "retrying"] += 1
            log.warning("alert %d to %s, attempt %d: %s%s", alert.id, delivery.sink, attempts, error,
                        " (undeliverable)" if last else "")
            continue
        brain.delivery_done(delivery.id)
        counts["delivered"] += 1
    return DeliveryReport(**counts)


def send(sink: AlertSinkConfig, document: dict[str, Any], timeout: float) -> None:
    """One attempt: a webhook's POST (2xx is success) or a command's run (exit 0 is success)."""
    body = json.dumps(document, sort_keys=True).encode()
    if sink.webhook is not None:
        post_webhook(sink.webhook, sink.headers, body, timeout)
    else:
        run_command(sink.command or [], body, timeout)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST would arrive as a GET without its body: a redirect is a failed attempt.
    def redirect_request(self, *_args, **_kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post_webhook(url: str, headers: dict[str, str], body: bytes, timeout: float) -> None:
    # Errors name the host only: a webhook's path or query often is its secret.
    host = urlsplit(url).hostname
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "huracan-alerts", **headers})
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            status = response.status
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"{host} answered HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise DeliveryError(f"cannot reach {host}: {error.reason}") from None
    except TimeoutError:
        raise DeliveryError(f"{host} did not answer within {timeout:g}s") from None
    except OSError as error:
        raise DeliveryError(f"{host}: {error.strerror or error}") from None
    except http.client.HTTPException as error:  # a broken answer (no status line, cut short)
        raise DeliveryError(f"{host} answered badly: {type(error).__name__}") from None
    except ValueError as error:  # a header urllib refuses; its value (a token?) is not repeated
        raise DeliveryError(f"{host}: the request could not be made ({type(error).__name__})") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"{host} answered HTTP {status}")


def run_command(argv: list[str], body: bytes, timeout: float) -> None:
    environment = {name: value for name, value in os.environ.items() if name != BRAIN_URL_ENV}
    try:
        done = subprocess.run(argv, input=body, capture_output=True, timeout=timeout, env=environment,
                              check=False)
    except FileNotFoundError:
        raise DeliveryError(f"{argv[0]}: no such program") from None
    except PermissionError:
        raise DeliveryError(f"{argv[0]}: not executable") from None
    except subprocess.TimeoutExpired:
        raise DeliveryError(f"{argv[0]} did not finish within {timeout:g}s (killed)") from None
    except OSError as error:
        raise DeliveryError(f"{argv[0]}: {error.strerror or error}") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        last_words = f": {said[-1]}" if said else ""
        raise DeliveryError(f"{argv[0]} exited with code {done.returncode}{last_words}")

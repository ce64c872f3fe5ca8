"""The headless scheduler (`huracan-tui --headless`): APScheduler schedule entries against the brain.

Only the leader acts. Each instance contends for the brain's leader lease (scheduler.daemon.lease);
one that does not get it stands by, says who leads, and tries again every second, so it takes
over within seconds of the leader dying (kill -9 included). On taking the lead it reaps the
jobs a dead leader's (or worker's) processes left 'running': they are marked interrupted and
queued again, so no work is lost. Then the schedule entries run: `retrain` queues a train job per slot,
`drift` checks every slot's latest version, `dispatch` hands queued jobs to worker processes,
`reap` catches workers that died since, and operator requests whose handler (a CLI, a console)
died before finishing them: those are failed, never run twice.

SIGTERM / Ctrl-C stops cleanly: workers are told to stop, every job they were running is marked
interrupted (and queued again for the next leader), and the lease is given up at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from brain import Brain, BrainError, open_brain
from brain.identity import current_actor
from brain.lease import pid_alive
from brain.records import ACTIVE_JOB_STATES, JobRecord, JobState
from scheduler.config import HuracanConfig
from scheduler.daemon import pause_points
from scheduler.daemon.executor import Executor, make_executor
from scheduler.daemon.lease import HEARTBEAT_SECONDS, LeaderLease
from scheduler.daemon.metrics_process import start_metrics_process
from scheduler.daemon.metrics_server import MetricsUnavailable
from scheduler.daemon.recorder import record_console_frames
from scheduler.services.feeds import feeds_from_config
from scheduler.services.job_params import train_job_params
from scheduler.services.requests import RequestContext, carry_out_pending, reap_abandoned_requests

log = logging.getLogger("huracan.headless")

# A job of another machine whose worker has not reported for this long belongs to a process
# that died (one of this machine is checked directly: is its pid alive?).
STALE_AFTER_SECONDS = 120.0
REAP_EVERY_SECONDS = 10.0
STANDBY_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class ScheduleEntry:
    """One recurring duty of the leader (an APScheduler job; "job" in Huracan means a row of the
    brain's jobs table): `run` every `every` seconds (first run at once if
    `at_start`). Adding a duty is one line in Leader.schedule_entries."""

    name: str
    run: Callable[[], object]
    every: float
    at_start: bool = False


class Leader:
    """The scheduling loop's state: the brain, the worker processes and the cadence config."""

    def __init__(self, brain: Brain, config: HuracanConfig, executor: Executor, *,
                 feeds: list | None = None):
        self.brain = brain
        self.config = config
        self.executor = executor
        self.feeds = feeds if feeds is not None else feeds_from_config(config.live)
        # Jobs handed to a worker that has not claimed them yet: not dispatched twice meanwhile.
        self.launched: set[int] = set()
        self._lock = threading.Lock()  # dispatch, reaping and shutdown must not interleave
        self.holder = f"leader {socket.gethostname()}:{os.getpid()}"
        # A regime labeller per series, carried from tick to tick (scheduler.services.regimes).
        self.labellers: dict = {}
        # What each live tick runs inside: the /metrics process's `ticking`, which makes no page
        # meanwhile (a page landing on a tick slowed it).
        self.around_tick: Callable[[], AbstractContextManager] = contextlib.nullcontext

    def schedule_entries(self) -> list[ScheduleEntry]:
        schedule = self.config.schedule
        retrains = [
            ScheduleEntry(f"retrain-{rhythm.cadence}", partial(self.queue_retrains, cadence=rhythm.cadence),
                    rhythm.every, at_start=schedule.retrain_on_start)
            for rhythm in schedule.retrains
        ] or [ScheduleEntry("retrain", self.queue_retrains, schedule.retrain_every,
                      at_start=schedule.retrain_on_start)]
        live = ([ScheduleEntry("live", self.live_tick, schedule.live_every, at_start=True)]
                if self.feeds else [])
        return [
            *retrains,
            ScheduleEntry("requests", self.carry_out_requests, schedule.requests_every, at_start=True),
            *live,
            ScheduleEntry("drift", self.check_drift, schedule.drift_every),
            ScheduleEntry("record", self.record_frames, schedule.record_every, at_start=True),
            ScheduleEntry("dispatch", self.dispatch, schedule.dispatch_every, at_start=True),
            ScheduleEntry("reap", self.reap, REAP_EVERY_SECONDS),
            *([ScheduleEntry("alerts", self.send_alerts, schedule.alerts_every, at_start=True)]
              if self.config.alerts.sinks else []),
            *([ScheduleEntry("mlflow", self.mirror_mlflow, self.config.mlflow.mirror_every)]
              if self.config.mlflow else []),
        ]

    def reap(self) -> list[int]:
        """What dead processes left running: jobs (queued again; their new ids are returned) and
        operator requests (failed with why)."""
        requeued = self.reap_dead_jobs()
        reap_abandoned_requests(self.brain, reaped_by=self.holder)
        return requeued

    def carry_out_requests(self) -> int:
        """What operators asked for (consoles, the CLI), checked again (role, state) and carried out."""
        return carry_out_pending(RequestContext(self.brain, self.config, handler=self.holder))

    def live_tick(self):
        """New bars -> features -> champion (+ online blend) forecasts -> outcomes -> policies."""
        from scheduler.services.live import live_tick

        with self.around_tick():
            report = live_tick(self.brain, self.config, self.feeds)
            if report.new_bars:
                log.info("live: %s", report)
                # The new bars' regime labels, stored while the bars are fresh (only they are computed).
                from scheduler.services.regimes import refresh_regimes

                refresh_regimes(self.brain, [feed.series for feed in self.feeds],
                                config=self.config.regimes, labellers=self.labellers)
        return report

    def send_alerts(self):
        """Changes of state (drift, rollbacks, failed jobs, stale feeds, a new leader) told to the
        configured sinks, once each; in the scheduler's thread pool, each attempt bounded by
        alerts.timeout, so the live tick never waits on a sink."""
        from scheduler.services.alerts import run_alerts

        report = run_alerts(self.brain, self.config)
        if report.detected or report.delivered or report.undeliverable:
            log.info("alerts: %s", report)
        return report

    def mirror_mlflow(self):
        """What is new (versions, a changed champion) mirrored to the MLflow tracking server. A
        server that does not answer is logged and tried again next time: nothing is recorded as
        exported until MLflow holds it."""
        from scheduler.services.mlflow_export import MlflowExportError, export_to_mlflow

        settings = self.config.mlflow
        assert settings is not None  # the entry exists only when configured
        try:
            report = export_to_mlflow(self.brain, settings.tracking_uri, slots=settings.slots or None,
                                      timeout=settings.timeout, retries=settings.retries)
        except MlflowExportError as error:
            log.warning("mlflow: %s", error)
            return None
        if report.runs_created or report.aliases_moved:
            log.info("mlflow: %d run(s) exported, %d alias(es) moved to %s", report.runs_created,
                     report.aliases_moved, report.tracking_uri)
        return report

    def record_frames(self) -> dict[str, bool]:
        return record_console_frames(self.brain)

    def queue_retrains(self, cadence: str | None = None) -> list[int]:
        """One train job per slot, unless the slot already has one queued or running."""
        from scheduler.services.training import slot_training  # the engine, in the leader only

        busy = {job.slot_key for job in self.brain.list_jobs(limit=500, states=list(ACTIVE_JOB_STATES))}
        queued = []
        for slot in self.brain.list_slots():
            if slot.key in busy:
                log.info("retrain of %s skipped: a job for it is already queued or running", slot.key)
                continue
            training = slot_training(self.config, self.brain, slot)
            job = self.brain.create_job(
                "train", slot_key=slot.key,
                params=train_job_params(slot.symbol, slot.timeframe, training, cadence=cadence),
            )
            queued.append(job.id)
            log.info("retrain of %s queued as job %d", slot.key, job.id)
        return queued

    def check_drift(self) -> int:
        """Drift of every slot's latest version against its training window, stored per slot."""
        from scheduler.services.drift import check_slot_drift

        stored = 0
        for slot in self.brain.list_slots():
            try:
                rows = check_slot_drift(self.brain, slot.key)
            except (ValueError, KeyError) as error:  # a slot whose data cannot be checked
                log.warning("drift check of %s skipped: %s", slot.key, error)
                continue
            stored += rows
            log.info("drift check of %s: %d results stored", slot.key, rows)
        return stored

    def dispatch(self) -> None:
        with self._lock:
            for job_id, code in self.executor.reap().items():
                job = self.brain.get_job(job_id)
                # The worker died without saying so (kill -9, OOM) — unless the job is another
                # process's: a console that started its own worker won the claim, ours gave up.
                if job.state == "running" and self._why_dead(job) is not None:
                    self._interrupt_and_requeue(job, f"worker exited with code {code}")
                elif job.state == "queued":  # the worker died before it claimed the job
                    self.launched.discard(job_id)
                    log.warning("job %d: its worker exited with code %s before claiming it; "
                                "dispatching it again", job_id, code)
                else:
                    log.info("job %d %s", job_id, job.state)
            while self.executor.has_capacity():
                job = self._next_queued()
                if job is None:
                    return
                self.launched.add(job.id)
                self.executor.submit(job.id)
                log.info("job %d (%s %s) started in a worker process", job.id, job.kind, job.slot_key or "")
                pause_points.pause_if_asked("dispatch")  # test hook; a no-op unless asked

    def _next_queued(self):
        queued = self.brain.list_jobs(limit=500, states=[JobState.QUEUED])
        waiting = [job for job in queued if job.id not in self.launched]
        return min(waiting, key=lambda job: job.id) if waiting else None

    def reap_dead_jobs(self) -> list[int]:
        """Jobs 'running' whose worker is gone: interrupted, and queued again as new jobs.

        Run on taking the lead (a dead leader's workers may have died with it, or may still be
        running: those are left to finish) and then on a cadence. Returns the new jobs' ids."""
        with self._lock:
            requeued = []
            for job in self.brain.list_jobs(limit=500, states=[JobState.RUNNING]):
                if job.id in self.executor.running:  # ours and alive: dispatch watches it
                    continue
                why = self._why_dead(job)
                if why is not None:
                    new_id = self._interrupt_and_requeue(job, why)
                    if new_id is not None:
                        requeued.append(new_id)
            return requeued

    @staticmethod
    def _why_dead(job: JobRecord) -> str | None:
        host = (job.worker or "").rsplit(":", 1)[0]
        if host == socket.gethostname() and job.pid is not None:
            return None if pid_alive(job.pid) else f"its worker (pid {job.pid}) is gone"
        cutoff = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS)
        if job.heartbeat_at is None or job.heartbeat_at < cutoff:
            return f"no heartbeat from its worker for {STALE_AFTER_SECONDS:g}s"
        return None

    def _interrupt_and_requeue(self, job: JobRecord, why: str) -> int | None:
        """Only the one who wins the running -> interrupted transition queues the job again."""
        if not self.brain.interrupt_job(job.id, f"interrupted: {why}"):
            return None
        new = self.brain.requeue_job(job.id)
        log.warning("job %d interrupted (%s); queued again as job %d", job.id, why, new.id)
        return new.id

    def stop(self) -> None:
        with self._lock:
            codes = self.executor.stop_all()
            for job_id, code in codes.items():
                job = self.brain.get_job(job_id)
                if job.state == "running":
                    self.brain.interrupt_job(job_id, f"leader stopped (worker exit code {code})")
                    job = self.brain.get_job(job_id)
                if job.state == "interrupted":  # the next leader picks it up again
                    new = self.brain.requeue_job(job_id)
                    log.info("job %d interrupted by shutdown; queued again as job %d", job_id, new.id)


def _guarded(lease: LeaderLease, entry: ScheduleEntry) -> Callable[[], None]:
    """A schedule entry that does nothing unless our lease is still good, and never kills the
    scheduler thread when the brain is briefly unreachable."""

    def run() -> None:
        if not lease.is_valid():
            log.info("%s skipped: not the leader", entry.name)
            return
        try:
            entry.run()
        except BrainError as error:
            log.warning("%s failed, will retry: %s", entry.name, error)

    return run


def _schedule(scheduler: BackgroundScheduler, lease: LeaderLease, entries: list[ScheduleEntry]) -> None:
    for entry in entries:
        first = {"next_run_time": datetime.now(UTC)} if entry.at_start else {}
        scheduler.add_job(_guarded(lease, entry), "interval", seconds=entry.every,
                          id=entry.name, name=entry.name, **first)


def run_headless(
    brain_url: str,
    config: HuracanConfig,
    *,
    stop: threading.Event | None = None,
    log_dir: Path | None = None,
    feeds: list | None = None,
    exit_with: int | None = None,
) -> int:
    """Run until SIGTERM / SIGINT (or `stop` is set, or the process `exit_with` ends: a leader
    embedded by a console goes with it); returns the process exit code.

    `brain_url` is the full URL (secrets included): worker processes open the brain with it.
    """
    stop = stop or threading.Event()
    brain = open_brain(brain_url)
    lease = LeaderLease(brain)
    # First: a process that cannot serve the /metrics it was asked to stops having done nothing. A
    # leader a console embeds serves none (it would take the port of the monitored one). The
    # endpoint runs in a process of its own: a page's making never holds this one's interpreter.
    try:
        metrics = (start_metrics_process(brain_url, config, holder=lease.holder_id)
                   if exit_with is None else None)
    except MetricsUnavailable as error:
        brain.close()
        print(f"huracan-tui: error: {error}", file=sys.stderr)
        return 1
    actor, origin = current_actor()
    log_path = (log_dir / "workers.log") if log_dir else None
    leader = Leader(brain, config, make_executor(config, brain_url, log_path=log_path), feeds=feeds)
    if metrics is not None:
        leader.around_tick = metrics.ticking

    schedule = config.schedule
    scheduler = BackgroundScheduler(
        timezone=UTC,
        # A cadence missed while the machine slept runs once on waking, not once per miss.
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(schedule.misfire_grace)},
    )

    def request_stop(signum, _frame):
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    brain.audit("headless.start", actor=actor, origin=origin, outcome="ok",
                details={"retrain_every_s": schedule.retrain_every, "holder": lease.holder_id})
    log.info("headless scheduler running on %s: retrain every %gs", brain.url, schedule.retrain_every)
    standby_seen: object = None  # the leader last reported while standing by
    try:
        scheduler.start(paused=True)
        while True:
            if lease.held and not lease.renew():
                log.error("lost the lead of %s: acting stops until it is ours again", brain.url)
                scheduler.pause()
            if not lease.held:
                if lease.try_acquire():
                    try:
                        _take_lead(brain, leader, lease, scheduler, actor, origin)
                    except BrainError as error:  # the brain went away mid-takeover: try again
                        log.warning("taking the lead failed, will retry: %s", error)
                        lease.release()
                    standby_seen = None
                else:
                    standby_seen = _report_standby(lease, standby_seen)
            if stop.wait(HEARTBEAT_SECONDS if lease.held else STANDBY_RETRY_SECONDS):
                break
            if exit_with is not None and not pid_alive(exit_with):
                log.info("the console (pid %d) this leader was embedded in is gone: stopping", exit_with)
                break
    finally:
        scheduler.shutdown(wait=True)
        try:
            leader.stop()
        except BrainError as error:  # workers are stopped; only their jobs' rows could not say so
            log.warning("stopped, but could not record it for every job: %s", error)
        lease.release()
        try:
            brain.audit("headless.stop", actor=actor, origin=origin, outcome="ok")
        except BrainError as error:
            log.warning("could not record the stop in the audit log: %s", error)
        if metrics is not None:
            metrics.close()
        brain.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("headless scheduler stopped")
    return 0


def _take_lead(brain: Brain, leader: Leader, lease: LeaderLease, scheduler: BackgroundScheduler,
               actor: str, origin: str | None) -> None:
    requeued = leader.reap()
    brain.audit("headless.leader", actor=actor, origin=origin, outcome="ok", target=lease.holder_id,
                details={"requeued_jobs": requeued})
    log.info("leader of %s (%s); %d job(s) left by dead workers queued again",
             brain.url, lease.holder_id, len(requeued))
    if not scheduler.get_jobs():
        _schedule(scheduler, lease, leader.schedule_entries())
    scheduler.resume()


def _report_standby(lease: LeaderLease, last: object) -> object:
    """Say once (and again whenever the leader changes) that we stand by, and for whom."""
    try:
        current = lease.holder()
    except BrainError as error:
        log.warning("standby: cannot read the lease: %s", error)
        return last
    who = current.holder if current else None
    if who != last:
        label = f"{current.label} ({current.holder})" if current else "nobody (the lease is being released)"
        log.info("standby: %s leads this brain; taking over when it stops", label)
    return who


def demo_config(config: HuracanConfig) -> HuracanConfig:
    """The demo's leader: the bars the demo import held back replay in live, and the schedule entries are
    quick enough that forecasts, outcomes, drift and queues visibly move within a minute."""
    schedule = config.schedule.model_copy(update={"live_every": 2.0, "drift_every": 30.0,
                                                  "record_every": 10.0})
    return config.model_copy(update={"schedule": schedule})

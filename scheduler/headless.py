"""The headless scheduler (`huracan-tui --headless`): APScheduler cadences against the brain.

Two recurring jobs: `retrain` queues a train job per slot at the configured cadence, and
`dispatch` hands queued jobs (from the cadence, the console or the CLI) to worker processes.
SIGTERM / Ctrl-C stops cleanly: workers are told to stop, and every job they were running is
marked interrupted in the brain rather than left 'running' forever.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from brain import Brain, open_brain
from brain.identity import current_actor
from scheduler.config import HuracanConfig
from scheduler.executor import LocalExecutor
from scheduler.jobs import train_job_params

log = logging.getLogger("huracan.headless")

ACTIVE_STATES = ["queued", "running"]
# A job whose worker has not reported for this long belongs to a process that died.
STALE_AFTER_SECONDS = 120.0


class Leader:
    """The scheduling loop's state: the brain, the worker processes and the cadence config."""

    def __init__(self, brain: Brain, config: HuracanConfig, executor: LocalExecutor):
        self.brain = brain
        self.config = config
        self.executor = executor
        self.launched: set[int] = set()
        self._lock = threading.Lock()  # dispatch and shutdown must not interleave

    def queue_retrains(self) -> list[int]:
        """One train job per slot, unless the slot already has one queued or running."""
        busy = {job.slot_key for job in self.brain.list_jobs(limit=500, states=ACTIVE_STATES)}
        queued = []
        for slot in self.brain.list_slots():
            if slot.key in busy:
                log.info("retrain of %s skipped: a job for it is already queued or running", slot.key)
                continue
            training = self.config.training.model_copy(update={"horizon": slot.horizon})
            job = self.brain.create_job(
                "train", slot_key=slot.key, params=train_job_params(slot.symbol, slot.timeframe, training)
            )
            queued.append(job.id)
            log.info("retrain of %s queued as job %d", slot.key, job.id)
        return queued

    def check_drift(self) -> int:
        """Drift of every slot's latest version against its training window, stored per slot."""
        from scheduler.monitoring import check_slot_drift

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
                if job.state == "running":  # the worker died without saying so (kill -9, OOM)
                    self.brain.interrupt_job(job_id, f"worker exited with code {code}")
                    log.warning("job %d interrupted: its worker exited with code %s", job_id, code)
                else:
                    log.info("job %d %s", job_id, job.state)
            while self.executor.has_capacity():
                job = self._next_queued()
                if job is None:
                    return
                self.launched.add(job.id)
                self.executor.submit(job.id)
                log.info("job %d (%s %s) started in a worker process", job.id, job.kind, job.slot_key or "")

    def _next_queued(self):
        queued = self.brain.list_jobs(limit=500, states=["queued"])
        waiting = [job for job in queued if job.id not in self.launched]
        return min(waiting, key=lambda job: job.id) if waiting else None

    def stop(self) -> None:
        with self._lock:
            codes = self.executor.stop_all()
            for job_id, code in codes.items():
                if self.brain.get_job(job_id).state == "running":
                    self.brain.interrupt_job(job_id, f"leader stopped (worker exit code {code})")
                log.info("job %d interrupted by shutdown", job_id)


def run_headless(
    brain_url: str,
    config: HuracanConfig,
    *,
    stop: threading.Event | None = None,
    log_dir: Path | None = None,
) -> int:
    """Run until SIGTERM / SIGINT (or `stop` is set); returns the process exit code.

    `brain_url` is the full URL (secrets included): worker processes open the brain with it.
    """
    stop = stop or threading.Event()
    brain = open_brain(brain_url)
    actor, origin = current_actor()
    recovered = brain.interrupt_running_jobs(stale_after_seconds=STALE_AFTER_SECONDS)
    for job_id in recovered:
        log.warning("job %d was left running by a process that died; marked interrupted", job_id)
    log_path = (log_dir / "workers.log") if log_dir else None
    leader = Leader(brain, config, LocalExecutor(brain_url, log_path=log_path))

    schedule = config.schedule
    scheduler = BackgroundScheduler(
        timezone=UTC,
        # A cadence missed while the machine slept runs once on waking, not once per miss.
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": int(schedule.misfire_grace)},
    )
    retrain_kwargs = {"next_run_time": datetime.now(UTC)} if schedule.retrain_on_start else {}
    scheduler.add_job(leader.queue_retrains, "interval", seconds=schedule.retrain_every,
                      id="retrain", name="retrain cadence", **retrain_kwargs)
    scheduler.add_job(leader.check_drift, "interval", seconds=schedule.drift_every,
                      id="drift", name="drift checks")
    scheduler.add_job(leader.dispatch, "interval", seconds=schedule.dispatch_every,
                      id="dispatch", name="dispatch queued jobs", next_run_time=datetime.now(UTC))

    def request_stop(signum, _frame):
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    brain.audit("headless.start", actor=actor, origin=origin, outcome="ok",
                details={"retrain_every_s": schedule.retrain_every})
    log.info("headless scheduler running on %s: retrain every %gs", brain.url, schedule.retrain_every)
    try:
        scheduler.start()
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    finally:
        scheduler.shutdown(wait=True)
        leader.stop()
        brain.audit("headless.stop", actor=actor, origin=origin, outcome="ok")
        brain.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("headless scheduler stopped")
    return 0

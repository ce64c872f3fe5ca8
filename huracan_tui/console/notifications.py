"""What happened between two polls, worded for a toast: jobs that ended, drift found by a new
check, champions changed, rollbacks (automatic ones say so) and new queue items. Plain Python on
two snapshots, so it is tested without a terminal."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.services.overview import BrainSnapshot


@dataclass(frozen=True)
class Event:
    title: str
    message: str
    severity: str = "information"  # information, warning, error (Textual's toast severities)


def events_between(before: BrainSnapshot, after: BrainSnapshot) -> list[Event]:
    rollbacks = _rollbacks(before, after)
    # A rollback's own toast says how the champion changed; the slot's change adds nothing.
    rolled_back = after.newest_rollback.slot_key if rollbacks else None
    return [*_finished_jobs(before, after), *rollbacks, *_slot_changes(before, after, rolled_back)]


def _finished_jobs(before: BrainSnapshot, after: BrainSnapshot) -> list[Event]:
    was_active = {job.id for job in before.active_jobs}
    events = []
    for job in after.jobs:
        if job.id not in was_active or job.state in ("queued", "running"):
            continue
        what = f"{job.kind} {job.slot_key or ''}".strip()
        if job.state == "succeeded":
            events.append(Event("Job finished", f"Job {job.id} ({what}) finished."))
        else:
            severity = "error" if job.state == "failed" else "warning"
            events.append(Event(f"Job {job.state}", f"Job {job.id} ({what}) {job.state}: "
                                                    f"{job.error or job.message or ''}", severity))
    return events


def _rollbacks(before: BrainSnapshot, after: BrainSnapshot) -> list[Event]:
    newest, seen = after.newest_rollback, before.newest_rollback
    if newest is None or (seen is not None and newest.id <= seen.id):
        return []
    how = "Automatic rollback" if newest.automatic else "Rollback"
    return [Event(how, f"{newest.slot_key}: v{newest.from_version} → v{newest.to_version} "
                       f"by {newest.actor}: {newest.reason}", "warning")]


def _slot_changes(before: BrainSnapshot, after: BrainSnapshot, rolled_back: str | None) -> list[Event]:
    earlier = {slot.slot: slot for slot in before.slots}
    events = []
    for slot in after.slots:
        key, old = slot.slot, earlier.get(slot.slot)
        if old is None or old is slot:
            continue
        if slot.champion != old.champion and slot.champion and key != rolled_back:
            previous = f"v{old.champion} → " if old.champion else ""
            events.append(Event("Champion", f"{key}: {previous}v{slot.champion}"))
        drift, old_drift = slot.drift, old.drift
        if drift and drift.drifted and (old_drift is None or drift.ts != old_drift.ts):
            events.append(Event("Drift detected", f"{key}: {drift.drifted} of {drift.features} "
                                                  f"features drifted ({drift.method.upper()})", "warning"))
        for queue, count in slot.queue:
            if count > old.queued(queue):
                events.append(Event("Queue", f"{key} is in the {queue} queue (Q to review)"))
    return events

"""What happened between two polls, worded for a toast: jobs that ended, a slot's drift flag
turning on or off, champions changed, rollbacks (automatic ones say so), new queue items and
alerts that turned undeliverable.
Changes of state only: a new drift check with the same verdict, or a poll that finds things as
they were, says nothing. Plain Python on two snapshots, so it is tested without a terminal."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from scheduler.services.overview import BrainSnapshot


@dataclass(frozen=True)
class Event:
    title: str
    message: str
    severity: str = "information"  # information, warning, error (Textual's toast severities)


def events_between(before: BrainSnapshot, after: BrainSnapshot, *,
                   queued_since: Collection[int] = ()) -> list[Event]:
    """`queued_since`: ids of jobs queued after `before` was read (by this console): their end is
    told even where no poll saw them active."""
    rollbacks = _rollbacks(before, after)
    # A rollback's own toast says how the champion changed; the slot's change adds nothing.
    rolled_back = after.newest_rollback.slot_key if rollbacks else None
    return [*_finished_jobs(before, after, queued_since), *rollbacks,
            *_slot_changes(before, after, rolled_back), *_undeliverable_alerts(before, after)]


def _undeliverable_alerts(before: BrainSnapshot, after: BrainSnapshot) -> list[Event]:
    """An alert the leader could not deliver to a sink after its last retry (the newest of those
    the count grew by; `huracan alerts --undeliverable` lists them all)."""
    grown = after.alerts.undeliverable - before.alerts.undeliverable
    events = []
    for alert in after.alerts.newest[:max(grown, 0)]:
        failed = [d for d in alert.deliveries if d.state == "undeliverable"]
        why = "; ".join(f"{d.sink}: {d.last_error}" for d in failed)
        events.append(Event("Alert undeliverable", f"#{alert.id} {alert.kind}: {alert.message} ({why})",
                            "error"))
    return events


def _finished_jobs(before: BrainSnapshot, after: BrainSnapshot, queued_since: Collection[int]) -> list[Event]:
    was_active = {job.id for job in before.active_jobs} | set(queued_since)
    events = []
    for job in after.jobs:
        if job.id not in was_active or job.state in ("queued", "running"):
            continue
        what = f"{job.kind} {job.slot_key or ''}".strip()
        if job.state == "succeeded":
            summary = _job_summary(job)
            events.append(Event("Job finished", f"Job {job.id} ({what}) finished" +
                                (f": {summary}" if summary else ".")))
        else:
            severity = "error" if job.state == "failed" else "warning"
            events.append(Event(f"Job {job.state}", f"Job {job.id} ({what}) {job.state}: "
                                                    f"{job.error or job.message or ''}", severity))
    return events


def _job_summary(job) -> str:
    """What a finished job left, in a few words."""
    versions = (job.result or {}).get("versions")
    if versions:
        return f"stored {len(versions)} version{'s' if len(versions) != 1 else ''}"
    return job.message or ""


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
        drift, drifted = slot.drift, _drifted(slot.drift)
        if drifted and not _drifted(old.drift):
            events.append(Event("Drift detected", f"{key}: {drift.drifted} of {drift.features} "
                                                  f"features drifted ({drift.method.upper()})", "warning"))
        elif not drifted and _drifted(old.drift) and drift is not None:
            events.append(Event("Drift cleared", f"{key}: no feature drifted at the newest check "
                                                 f"({drift.method.upper()})"))
        for queue, count in slot.queue:
            if count > old.queued(queue):
                events.append(Event("Queue", f"{key} is in the {queue} queue (Q to review)"))
    return events


def _drifted(flag) -> bool:
    """The slot's drift flag: on while its newest check found a feature drifted."""
    return bool(flag and flag.drifted)

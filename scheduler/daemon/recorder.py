"""Record and replay: the leader keeps compact frames of what the console shows, so an operator
can step back through the last hours (the console's Replay view, `H`).

Three kinds of frame, each a small JSON document built from the brain:
- "metrics": per slot, the champion and latest version, the champion's model kind, out-of-sample
  Sharpe / hit rate / IC / MAE and live numbers (brain.live_summaries) when there are any (the
  latest version's before the slot has a champion);
- "queues": the open retrain and prune items with their rules and reasons;
- "drift": per slot, the newest check's drifted features per method and the dataset verdict, and
  the drift flag exactly as the console reads it (its method's newest check).

Numbers are rounded to 4 significant digits: enough to read, and noise below that does not count
as a change, so an unchanged brain costs no rows (brain.history stores only changes).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from brain import Brain
from brain.queues import OPEN_STATES

RETENTION = timedelta(hours=48)
FRAME_KINDS = ("metrics", "queues", "drift")
OOS_METRICS = ("sharpe", "hit_rate", "ic", "mae")
LIVE_METRICS = ("sharpe", "win_rate", "mae", "n")
REASON_CHARS = 120  # a queue item's reason, cut: the queue view has the whole evidence
DRIFT_SHARE = 0.5  # evidently's default drift_share, for checks that did not store the verdict


def compact(value: Any) -> Any:
    """4 significant digits; NaN and infinities become None (JSON has neither)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return float(f"{value:.4g}") if math.isfinite(value) else None
    return value


def metrics_frame(brain: Brain) -> dict[str, Any]:
    champions = brain.champions()
    live = brain.live_summaries()
    slots = {}
    for summary in brain.status():
        key = summary.slot
        champion = champions.get(key)
        model, oos = summary.model_kind, summary.metrics
        if champion is not None and champion != summary.latest_version:
            version = brain.get_version(key, champion)
            model = version.model_kind
            oos = {m.name: m.value for m in brain.version_metrics(version.id, scope="oos") if m.fold is None}
        row = {
            "champion": champion,
            "latest": summary.latest_version,
            "model": model,
            "oos": {name: compact(oos.get(name)) for name in OOS_METRICS if name in oos},
        }
        live_numbers = live.get(key)
        if live_numbers and live_numbers.get("version") == champion:
            row["live"] = {name: compact(live_numbers[name]) for name in LIVE_METRICS if name in live_numbers}
        slots[key] = row
    return {"slots": slots}


def queues_frame(brain: Brain) -> dict[str, Any]:
    items = brain.list_queue(states=list(OPEN_STATES))
    return {"items": [
        {"id": item.id, "queue": item.queue, "slot": item.slot_key, "version": item.version,
         "state": item.state, "rule": item.rule, "reason": (item.reason or "")[:REASON_CHARS]}
        for item in sorted(items, key=lambda item: item.id)
    ]}


def latest_drift_check(brain: Brain, slot_key: str) -> dict[str, Any] | None:
    newest = brain.list_drift_results(slot_key=slot_key, limit=1)
    if not newest:
        return None
    checked = newest[0].ts
    rows = [row for row in brain.list_drift_results(slot_key=slot_key, since=checked, limit=100_000)
            if row.ts == checked]
    methods: dict[str, dict[str, Any]] = {}
    for method in sorted({row.method for row in rows}):
        of_method = [row for row in rows if row.method == method]
        drifted = sorted({row.feature for row in of_method if row.drifted})
        stored = [row.details.get("dataset_drift") for row in of_method if row.details]
        verdict = stored[0] if stored and stored[0] is not None else (
            len(drifted) / len({row.feature for row in of_method}) >= DRIFT_SHARE)
        methods[method] = {"drifted": drifted, "dataset_drift": bool(verdict)}
    features = len({row.feature for row in rows})
    return {"checked": checked.isoformat(), "features": features, "methods": methods}


def drift_frame(brain: Brain) -> dict[str, Any]:
    """Each slot's newest check, and ("flag") the drift flag the console's Models view shows: the
    very read it makes (brain.drift_flags), so a replayed frame shows what the console showed."""
    flags = brain.drift_flags()
    slots = {}
    for slot in brain.list_slots():
        check = latest_drift_check(brain, slot.key)
        if check is not None:
            flag = flags.get(slot.key)
            if flag is not None:
                check["flag"] = {**flag, "ts": flag["ts"].isoformat()}
            slots[slot.key] = check
    return {"slots": slots}


BUILDERS = {"metrics": metrics_frame, "queues": queues_frame, "drift": drift_frame}


def record_console_frames(
    brain: Brain, now: datetime | None = None, retention: timedelta | None = RETENTION,
) -> dict[str, bool]:
    """Record one frame of each kind at `now` (stored only when it changed) and drop frames past
    `retention`; returns which kinds were stored. Cheap enough to call every minute."""
    now = now or datetime.now(UTC)
    stored = {kind: brain.record_frame(kind, BUILDERS[kind](brain), ts=now) is not None
              for kind in FRAME_KINDS}
    if retention is not None:
        brain.prune_history(now - retention)
    return stored

"""The signal of a sizing agent (ppo_sizing), read from the brain: the member version of its slot
whose forecast it sizes on (the slot's champion, or `params.signal_version: N`) and that member's
stored walk-forward out-of-sample forecasts (brain.oos_predictions), handed to the engine as an
engine.rl.signal.SizingSignal. `huracan train`, train_slot (so the worker's train jobs and the
console's retrain dialog) resolve it before anything is fitted; a refusal is one line
(SignalError, a ValueError) and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from brain import Brain, BrainError
from brain.records import VersionRecord
from engine.ensembles.version import MemberVersion
from engine.rl.signal import SIGNAL_PARAM, SignalError, SizingSignal
from engine.training import needs_signal

KIND = "ppo_sizing"


def sizing_signal(brain: Brain, slot_key: str, params: Mapping[str, Any], kind: str = KIND) -> SizingSignal:
    """The member version `kind` sizes on in `slot_key` and its out-of-sample forecasts.
    SignalError (one line) for a slot without a champion, an unknown or unusable member, or a
    member with no stored out-of-sample rows."""
    chosen = params.get(SIGNAL_PARAM)
    slot = brain.get_slot(slot_key)
    if chosen is None:
        champion = None if slot is None else brain.champion(slot_key)
        if champion is None:
            raise SignalError(
                f"{kind} needs a champion forecast for slot {slot_key}: train and promote a model first"
            )
        # A sizing champion sizes on a member: a new agent sizes on the same one.
        recorded = (champion.manifest.get("signal") or {}).get("number")
        version = champion if recorded is None else _version(brain, slot_key, int(recorded), kind)
    else:
        if isinstance(chosen, bool) or not isinstance(chosen, int) or chosen < 1:
            raise SignalError(
                f"{kind} parameter {SIGNAL_PARAM} must be a version number >= 1, got {chosen!r}"
            )
        if slot is None:
            raise SignalError(f"{kind} parameter {SIGNAL_PARAM} {chosen}: there is no slot {slot_key} yet")
        version = _version(brain, slot_key, chosen, kind)
    if version.manifest.get("signal") is not None or needs_signal(version.model_kind):
        raise SignalError(
            f"{kind}: {slot_key} v{version.number} is a sizing agent itself; size on a forecast"
        )
    if version.status == "pruned":
        raise SignalError(f"{kind}: {slot_key} v{version.number} is pruned; choose another {SIGNAL_PARAM}")
    rows = brain.oos_predictions(version.id)
    if rows is None:
        raise SignalError(
            f"{kind}: {slot_key} v{version.number} has no stored out-of-sample forecasts (trained before "
            "the brain kept them); retrain it first"
        )
    prediction = np.asarray([np.nan if value is None else value for value in rows.prediction], dtype=float)
    member = MemberVersion(version.number, version.id, version.artifact_sha256, version.manifest)
    return SizingSignal(member, tuple(rows.ts), prediction)


def signals_for(brain: Brain, slot_key: str, kinds: list[str], params: Mapping[str, Mapping]) -> dict:
    """{kind: SizingSignal} for each sizing kind of `kinds` (see sizing_signal)."""
    return {kind: sizing_signal(brain, slot_key, params.get(kind, {}), kind)
            for kind in kinds if needs_signal(kind)}


def _version(brain: Brain, slot_key: str, number: int, kind: str) -> VersionRecord:
    try:
        return brain.get_version(slot_key, number)
    except BrainError:
        known = sorted(v.number for v in brain.list_versions(slot_key))
        raise SignalError(
            f"{kind} parameter {SIGNAL_PARAM} {number}: {slot_key} has no version {number} "
            f"(versions: {known})"
        ) from None

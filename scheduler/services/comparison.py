"""Champion versus challenger(s), statistically, on the bars stored in the brain.

Both versions are re-evaluated on the fold periods of the champion's manifest (a fresh fit on
each fold's training period, then its test period: engine.abtest.replay_returns), after the
manifest's cost_bps. Every test of engine.abtest runs, corrected across challengers, and the rows
land in model_comparisons. It refits models, so it runs in a worker (job kind `compare`) or in
the `huracan ab` command, never in the console's process.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from brain import Brain
from brain.lifecycle import overall_verdict  # one rule, shared with promotions

FIRST_VERSION = 1  # what a slot without a champion yet is defended by


class ComparisonError(ValueError):
    """A comparison that cannot run, worded as one line (which slot, which version, why)."""


def champion_of(brain: Brain, slot_key: str) -> int:
    """The version number a comparison defends: the slot's champion, else its first version."""
    champion = brain.champion(slot_key)
    return FIRST_VERSION if champion is None else champion.number


def json_safe(value):
    """A document a job result can hold: NaN / infinity as null, times as ISO text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def compare_versions(
    brain: Brain,
    slot_key: str,
    champion: int,
    challengers: list[int],
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Run every test of engine.abtest, store one model_comparisons row per (challenger, test)
    and return the comparison as a JSON-safe document. ComparisonError on bad input."""
    from engine import abtest
    from engine.metrics import periods_per_year

    if not challengers:
        raise ComparisonError(f"{slot_key}: no challenger to compare with v{champion}")
    if champion in challengers:
        raise ComparisonError(f"version {champion} cannot be its own challenger")
    if not 0 < alpha < 1:
        raise ComparisonError(f"alpha {alpha}: must be between 0 and 1")
    if correction not in abtest.CORRECTIONS:
        raise ComparisonError(f"correction {correction!r}: known {', '.join(abtest.CORRECTIONS)}")
    if n_boot < 10:
        raise ComparisonError(f"n_boot {n_boot}: use at least 10 resamples")
    slot = brain.get_slot(slot_key)
    if slot is None:
        raise ComparisonError(f"no slot {slot_key!r} in the brain (see `huracan status`)")
    numbers = sorted({v.number for v in brain.list_versions(slot_key)})
    for number in (champion, *challengers):
        if number not in numbers:
            raise ComparisonError(f"slot {slot_key} has no version {number} (versions: {numbers})")
    defender = brain.get_version(slot_key, champion)
    others = {n: brain.get_version(slot_key, n) for n in challengers}
    frame = brain.load_bars(slot.symbol, slot.timeframe)
    folds_of = comparison_folds_of(champion, defender, others)
    folds = (defender if folds_of == champion else others[folds_of]).manifest.get("folds") or []
    if not folds:
        raise ComparisonError(f"{slot_key} v{folds_of}: its manifest has no folds to compare on")
    try:
        base = abtest.replay_returns(frame, defender.manifest, folds, _alt_of(brain, slot.symbol, defender))
        replayed = {f"v{n}": abtest.replay_returns(frame, v.manifest, folds, _alt_of(brain, slot.symbol, v))
                    for n, v in others.items()}
        stamps, champion_returns, aligned = abtest.align(base, replayed)
    except (ValueError, KeyError) as error:
        raise ComparisonError(f"{slot_key}: {error}") from None
    bars_per_year = periods_per_year(slot.timeframe)
    results = abtest.compare(
        champion_returns, aligned, alpha=alpha, correction=correction,
        horizon=int(defender.manifest.get("horizon", slot.horizon)), periods_per_year=bars_per_year,
        n_boot=n_boot, seed=seed,
    )
    scores = abtest.composite_scores({f"v{champion}": champion_returns, **aligned},
                                     periods_per_year=bars_per_year)
    best = abtest.best_model(scores)
    rows: list[dict[str, Any]] = [
        {
            "slot_key": slot_key,
            "champion_version": champion,
            "challenger_version": int(result.challenger[1:]),
            "test": result.test,
            "statistic": result.statistic,
            "p_value": result.p_value,
            "p_adjusted": result.p_adjusted,
            "correction": result.correction,
            "effect_size": result.effect_size,
            "verdict": result.verdict,
            "details": {**result.details, "alpha": alpha, "best_model": best},
        }
        for result in results
    ]
    brain.record_comparison(rows)
    overall = {
        f"v{n}": overall_verdict([row["verdict"] for row in rows if row["challenger_version"] == n])
        for n in challengers
    }
    return json_safe({
        "slot": slot_key,
        "champion": champion,
        "challengers": list(challengers),
        "periods": len(stamps),
        "folds_of": folds_of,
        "first_ts": stamps[0],
        "last_ts": stamps[-1],
        "alpha": alpha,
        "correction": correction,
        "results": [{k: v for k, v in row.items() if k != "slot_key"} for row in rows],
        "composite": scores,
        "best_model": best,
        "overall": overall,
    })


def comparison_folds_of(champion: int, defender, others: dict) -> int:
    """The version whose walk-forward folds a comparison replays everyone on: the champion's,
    unless a challenger is a sizing agent (its manifest has a `signal`) and the champion is
    not. A sizing agent has out-of-sample bars only where its member had a forecast, so the
    champion's first folds may hold none of them; a plain version can be refitted on any
    folds, so both are replayed on the agent's own folds instead."""
    if defender.manifest.get("signal") is not None:
        return champion
    sizing = [number for number, version in others.items() if version.manifest.get("signal") is not None]
    return sizing[0] if sizing else champion


def _alt_of(brain: Brain, symbol: str, version) -> dict:
    """The alternative data a version's spec joins, from the brain."""
    from engine.pipeline import spec_of_manifest

    spec = spec_of_manifest(version.manifest)
    return {item.kind: brain.load_alt_data(item.kind, symbol) for item in spec.alt}

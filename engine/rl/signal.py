"""The signal a sizing agent (ppo_sizing) sizes on: one member version of the same slot, whose
forecast is X's first column.

Training reads the member's stored walk-forward OUT-OF-SAMPLE predictions (the service layer
reads them from the brain, brain.oos_predictions, and hands them over as a `SizingSignal`; the
engine has no database). Only the bars that have one are used, and the sizing agent's own
walk-forward folds run over those bars only, so each fold learns on bars whose signal was itself
predicted out of sample: the agent never learns to trust a forecast fitted on the bars it sizes.
Serving (engine.serving.SizingServable) loads the member, sha256-checked, forecasts the same bars
with it and puts that forecast in column 0.

Beside the agent, two fixed rules on the same out-of-sample bars and the same signal are scored
(`baseline_metrics`), so a sizing agent is judged against what sizing without learning gives:
fixed size, sign(signal) x 1; and volatility targeting, sign(signal) x target_vol /
realised_vol, capped at the agent's leverage cap, where realised_vol is the standard deviation
of the last `vol_window` bar returns known at the bar and target_vol the median realised_vol of
the bars before the first out-of-sample bar (a typical level, known before any of them is
traded: calmer bars than that are held at the cap, stormier ones smaller).

An A/B replay (engine.abtest.replay_predictions) rebuilds a sizing version from its
self-contained manifest (`replay_sizing`): the member's out-of-sample forecasts replayed from its
own manifest, then the agent refitted per fold on the bars that have one.

No gymnasium or torch at import: imported by the training pipeline for every sizing run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from engine.ensembles.version import MemberVersion

SIGNAL_PARAM = "signal_version"  # params.signal_version: the member number chosen by hand
BASELINE_METRICS = ("baseline_fixed_sharpe", "baseline_voltarget_sharpe")


class SignalError(ValueError):
    """A signal a sizing agent cannot use; one line naming the member and why."""


@dataclass(frozen=True, eq=False)  # numpy field: == compares identity
class SizingSignal:
    """A member version and its walk-forward out-of-sample forecast per bar (bar order)."""

    member: MemberVersion
    timestamps: tuple[datetime, ...]
    prediction: np.ndarray

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.prediction):
            raise SignalError(
                f"v{self.member.number}: {len(self.timestamps)} bars for {len(self.prediction)} forecasts"
            )
        if not len(self.timestamps):
            raise SignalError(f"v{self.member.number} has no stored out-of-sample forecasts")

    def on(self, timestamps: Sequence[datetime]) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `timestamps` that have a finite forecast, those forecasts)."""
        by_bar = dict(zip(self.timestamps, np.asarray(self.prediction, dtype=float).tolist(), strict=True))
        keep = [i for i, ts in enumerate(timestamps) if ts in by_bar and np.isfinite(by_bar[ts])]
        return np.asarray(keep, dtype=int), np.asarray([by_bar[timestamps[i]] for i in keep], dtype=float)


def member_record(member: MemberVersion) -> dict[str, Any]:
    """What a sizing version's manifest records of its member (Manifest.signal)."""
    return member.to_json(with_manifest=True)


def member_of(document: dict[str, Any]) -> MemberVersion:
    """The member a sizing manifest's `signal` records."""
    try:
        return MemberVersion.from_json(document)
    except (KeyError, TypeError, ValueError) as error:
        raise SignalError(f"the manifest's signal record is malformed ({error})") from None


def rolling_volatility(bar_returns: np.ndarray, window: int) -> np.ndarray:
    """Per bar t: the standard deviation of bar_returns[t - window + 1 .. t] (fewer at the start),
    as engine.rl.sizing_env's realised volatility (the agent's own state), in numpy only."""
    n = bar_returns.size
    sums = np.concatenate([[0.0], np.cumsum(bar_returns)])
    squares = np.concatenate([[0.0], np.cumsum(bar_returns * bar_returns)])
    ends = np.arange(1, n + 1)
    starts = np.maximum(ends - int(window), 0)
    count = ends - starts
    mean = (sums[ends] - sums[starts]) / count
    return np.sqrt(np.clip((squares[ends] - squares[starts]) / count - mean * mean, 0.0, None))


def baseline_sizes(
    signal: np.ndarray, next_ret: np.ndarray, oos_start: int, *, vol_window: int, leverage_cap: float
) -> dict[str, np.ndarray]:
    """The two fixed rules' sizes on rows oos_start.. of a sizing run's bars (see the module
    docstring). `next_ret`: each row's next-bar return; a row's own bar return is the row
    before's next return (known at its close)."""
    bar_returns = np.zeros_like(next_ret, dtype=float)
    bar_returns[1:] = next_ret[:-1]
    direction = np.sign(signal[oos_start:])
    realised = rolling_volatility(bar_returns, vol_window)
    warm = min(int(vol_window), max(oos_start - 1, 1))  # bars whose window is full, where there are some
    before = realised[warm:oos_start]
    target = float(np.median(before)) if before.size else 0.0
    volatility = realised[oos_start:]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(volatility > 0, target / volatility, leverage_cap)
    return {
        "baseline_fixed_sharpe": direction,
        "baseline_voltarget_sharpe": direction * np.clip(scale, 0.0, leverage_cap),
    }


def baseline_metrics(
    signal: np.ndarray, next_ret: np.ndarray, oos_start: int, *, cost_bps: float, bars_per_year: float,
    vol_window: int, leverage_cap: float,
) -> dict[str, float]:
    """{baseline_fixed_sharpe, baseline_voltarget_sharpe}: each rule's Sharpe after costs on the
    out-of-sample rows (rows oos_start.., back to back as the agent's own Sharpe)."""
    from engine.metrics import sharpe_ratio, strategy_returns

    sizes = baseline_sizes(signal, next_ret, oos_start, vol_window=vol_window, leverage_cap=leverage_cap)
    return {
        name: sharpe_ratio(strategy_returns(size, next_ret[oos_start:], cost_bps, "size"), bars_per_year)
        for name, size in sizes.items()
    }


# ---- A/B replays ------------------------------------------------------------------------------


def replay_signal(frame, member: MemberVersion, alt=None) -> SizingSignal:
    """The member's walk-forward out-of-sample forecasts rebuilt from its self-contained manifest
    (each of its own folds refitted, engine.abtest.replay_predictions): what the brain stored with
    it, without the brain."""
    from engine.abtest import replay_predictions

    replays = replay_predictions(frame, member.manifest, member.manifest.get("folds") or [], alt)
    if not replays:
        raise SignalError(f"member v{member.number} has no folds to rebuild its forecasts from")
    return SizingSignal(member, tuple(ts for replay in replays for ts in replay.timestamps),
                        np.concatenate([replay.prediction for replay in replays]))


def replay_sizing(frame, manifest, folds, alt=None) -> list:
    """A sizing version's out-of-sample sizes over `folds` (engine.abtest.FoldReplay per fold),
    as engine.abtest.replay_predictions gives a plain version's: its member's out-of-sample
    forecasts rebuilt, then per fold a fresh agent fitted on the fold's training bars that have
    one, sizing its test bars that have one. ValueError (one line) for a fold whose periods hold
    no such bar."""
    import bisect

    from engine.abtest import FoldReplay
    from engine.pipeline import spec_of_manifest
    from engine.training import checked_single_symbol, fit_and_predict, fold_inputs, prepare_data, with_signal

    kind, member = manifest.model_kind, member_of(manifest.signal)
    spec = spec_of_manifest(manifest.to_json())
    data = prepare_data(checked_single_symbol(frame), manifest.horizon, 0.0, spec=spec, alt=alt,
                        cost_bps=float(manifest.cost_bps))
    data = with_signal(data, replay_signal(frame, member, alt), kind)

    def between(start, end) -> range:
        return range(bisect.bisect_left(data.timestamps, start), bisect.bisect_right(data.timestamps, end))

    replays = []
    for fold in folds:
        train = between(fold.train_start_ts, fold.train_end_ts)
        test = between(fold.test_start_ts, fold.test_end_ts)
        if not len(train) or not len(test):
            raise ValueError(
                f"{kind}: fold {fold.index + 1}'s periods hold no bar with an out-of-sample forecast of "
                f"its member v{member.number}; compare it on its own folds"
            )
        fold_data, _steps = fold_inputs(data, spec.preprocessing, train, kind, spec.model.seed)
        _model, prediction, _proba = fit_and_predict(kind, dict(manifest.params), fold_data, train, test,
                                                     manifest.horizon)
        replays.append(FoldReplay.of_test_rows(data, test, prediction))
    return replays

"""Stress a slot's champion on synthetic market paths (`huracan stress SLOT --paths N`).

A GAN (engine.synthetic) is trained on the slot's bars, or the one a previous run trained on the
same bars with the same settings is taken from the brain; it makes N paths of `bars` bars each,
stitched on at the last real close. Each path is the real history followed by its synthetic bars,
so the champion's features warm up on real bars exactly as they do live; the champion
(engine.serving, through engine.pipeline.version_features, as the live loop serves it) forecasts
the synthetic bars only, and each path is scored by engine.metrics as training scores a version:
its position rule and cost_bps, Sharpe annualised by the timeframe, max drawdown of the
compounded returns, hit rate against the forward return over the slot's horizon. The report
gives the spread of each over the paths (mean, p5, p50, p95) and the stylised facts of the
paths' returns against the real ones, with their verdict: a generator whose paths fail the
facts says so in every report made with it. The report is stored in the brain
(brain/stress.py) for the console's slot detail.

Bad input (no such slot, no champion, fewer than one path, too little history, a champion that
reads alternative data synthetic bars cannot have) is a StressError raised before anything is
trained or written.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from brain import Brain
from brain.stress import StressResultRecord
from engine.synthetic.stylised import LAGS, StylisedFacts
from scheduler.services.live_metrics import _cost_bps, position_rule

if TYPE_CHECKING:  # polars comes with it: the console reads stored reports without it
    from engine.synthetic.gan import GanSettings

DEFAULT_BARS = 252
STRESS_METRICS = ("sharpe", "max_drawdown", "hit_rate")


class StressError(ValueError):
    """A stress run that cannot start: what is wrong, in one line."""


@dataclass(frozen=True)
class Spread:
    """One figure's distribution over the paths (NaN paths left out; all NaN: all NaN)."""

    mean: float
    p5: float
    p50: float
    p95: float
    paths: int  # the paths with a finite figure

    @classmethod
    def of(cls, values: np.ndarray) -> Spread:
        finite = values[np.isfinite(values)]
        if not finite.size:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        p5, p50, p95 = np.percentile(finite, [5, 50, 95])
        return cls(float(finite.mean()), float(p5), float(p50), float(p95), int(finite.size))


@dataclass(frozen=True)
class StressReport:
    slot_key: str
    version: int
    kind: str
    paths: int
    bars: int  # synthetic bars per path
    seed: int
    cost_bps: float
    rule: str
    sharpe: Spread
    max_drawdown: Spread
    hit_rate: Spread
    facts: StylisedFacts
    generator: dict[str, Any]  # its spec (JSON), weights sha256, and whether it was reused

    @property
    def verdict(self) -> str:
        return self.facts.verdict

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["facts"] = self.facts.to_json()
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> StressReport:
        fields = dict(document)
        for name in STRESS_METRICS:
            spread = document[name]
            mean, p5, p50, p95 = (math.nan if spread[key] is None else float(spread[key])
                                  for key in ("mean", "p5", "p50", "p95"))
            fields[name] = Spread(mean, p5, p50, p95, int(spread["paths"]))
        fields["facts"] = StylisedFacts.from_json(document["facts"])
        return cls(**fields)


def stress(
    brain: Brain,
    slot_key: str,
    *,
    paths: int,
    seed: int = 0,
    bars: int = DEFAULT_BARS,
    settings: GanSettings | None = None,
) -> tuple[StressReport, StressResultRecord]:
    """Run the champion of `slot_key` on `paths` synthetic paths and store the report (see the
    module). StressError before any work when the request cannot be carried out."""
    from engine.serving import load_servable
    from engine.synthetic.bars import VOLUME_LEVEL_BARS
    from engine.synthetic.gan import GanSettings

    if paths < 1:
        raise StressError(f"--paths must be at least 1, got {paths}")
    if bars <= max(LAGS):
        raise StressError(f"--bars must be more than {max(LAGS)} (the stylised facts' lags), got {bars}")
    slot = brain.get_slot(slot_key)
    if slot is None:
        raise StressError(f"no slot {slot_key!r} in the brain")
    champion = brain.champion(slot_key)
    if champion is None:
        raise StressError(f"slot {slot_key} has no champion to stress; promote a version first")
    from engine.pipeline import spec_of_manifest

    if spec_of_manifest(champion.manifest).alt:
        raise StressError(f"the champion v{champion.number} of {slot_key} reads alternative data, "
                          "which synthetic bars do not have; stress a version without it")
    try:
        settings = settings or GanSettings(seed=seed)
    except ValueError as error:
        raise StressError(str(error)) from None
    history = brain.load_bars(slot.symbol, slot.timeframe)
    needed = settings.window + VOLUME_LEVEL_BARS + 2
    if history.height < needed:
        raise StressError(f"{slot_key} has {history.height} bars; stressing needs at least {needed} "
                          f"(a GAN window of {settings.window} bars and the volume level's "
                          f"{VOLUME_LEVEL_BARS})")
    servable = load_servable(champion.manifest, brain.load_artifact(champion.artifact_sha256),
                             sha256=champion.artifact_sha256, load_artifact=brain.load_artifact)
    generator, reused, key = _generator(brain, slot_key, history, settings)
    made = generator.paths(paths, bars, seed)
    cost, rule = _cost_bps(champion), position_rule(champion)
    scores = np.array([_score(servable, history, rows, slot.timeframe, slot.horizon, cost, rule)
                       for rows in made])
    if not np.isfinite(scores).any():
        raise StressError(f"the champion v{champion.number} forecast fewer than 2 synthetic bars on "
                          f"every path of {bars}; pass a larger --bars")
    from engine.synthetic.stylised import stylised_facts

    real = np.diff(np.log(history["close"].to_numpy().astype(float)))
    report = StressReport(
        slot_key=slot_key, version=champion.number, kind=champion.model_kind, paths=paths, bars=bars,
        seed=seed, cost_bps=cost, rule=rule,
        sharpe=Spread.of(scores[:, 0]), max_drawdown=Spread.of(scores[:, 1]),
        hit_rate=Spread.of(scores[:, 2]),
        facts=stylised_facts(real, list(made[:, :, 0])),
        generator={"spec": generator.spec.to_json(), "reused": reused,
                   "sha256": hashlib.sha256(generator.weights).hexdigest()},
    )
    record = brain.record_stress_result(
        slot_key, champion.id, paths=paths, seed=seed, generator_key=key,
        generator_weights=generator.weights, report=report.to_json(),
    )
    return report, record


@dataclass(frozen=True)
class StoredStress:
    """A stress report as the brain keeps it, with when it was made."""

    report: StressReport
    created_at: datetime


def latest_stress(brain: Brain, slot_key: str) -> StoredStress | None:
    """The slot's newest stored stress report (what the console's slot detail shows)."""
    record = brain.latest_stress_result(slot_key)
    return None if record is None else StoredStress(StressReport.from_json(record.report), record.created_at)


def _generator(brain: Brain, slot_key: str, history, settings: GanSettings):
    """(generator, reused, key): the stored one trained on these bars with these settings, or a new one."""
    from engine.data import data_fingerprint
    from engine.synthetic.gan import load_generator, train_gan

    key = hashlib.sha256(json.dumps({"bars": data_fingerprint(history), "settings": asdict(settings)},
                                    sort_keys=True).encode()).hexdigest()
    stored = brain.latest_stress_result(slot_key, generator_key=key)
    if stored is not None:
        spec = stored.report["generator"]["spec"]
        return load_generator(spec, brain.load_artifact(stored.generator_sha256)), True, key
    try:
        return train_gan(history, settings), False, key
    except ValueError as error:
        raise StressError(f"{slot_key}: {error}") from None


def _score(servable, history, rows: np.ndarray, timeframe: str, horizon: int, cost: float,
           rule: str) -> tuple[float, float, float]:
    """(Sharpe after costs, max drawdown, hit rate) of the champion over one path's synthetic bars."""
    import polars as pl

    from engine.metrics import hit_rate, max_drawdown, periods_per_year, sharpe_ratio, strategy_returns
    from engine.pipeline import version_features
    from engine.synthetic.bars import stitched_bars
    from engine.targets import add_forward_return, target_name

    path = stitched_bars(history, rows)
    wanted = path["ts"].to_list()[history.height:]
    forecast = servable.forecast(lambda spec: version_features(path, spec), wanted)
    if len(forecast.ts) < 2:
        return math.nan, math.nan, math.nan
    outcomes = (
        add_forward_return(path, horizon)
        .filter(pl.col("ts").is_in(forecast.ts))
        .select("ts", "next_ret", target_name(horizon))
    )
    known = outcomes["next_ret"].is_not_null().to_numpy()  # the path's last bar has no next
    prediction = np.asarray(forecast.batch, dtype=float)[known]
    next_ret = outcomes["next_ret"].to_numpy()[known]
    target = outcomes[target_name(horizon)].to_numpy()
    returns = strategy_returns(prediction, next_ret, cost, rule)
    scored = np.isfinite(target)
    return (sharpe_ratio(returns, periods_per_year(timeframe)), max_drawdown(returns),
            hit_rate(target[scored], np.asarray(forecast.batch, dtype=float)[scored]))

"""A/B comparison of a champion with one or many challengers on the same out-of-sample periods.

Inputs are per-period returns (after costs) of each model on the SAME periods: `align` matches
them on timestamps and refuses any mismatch. Every statistic compares challenger - champion, so a
positive effect favours the challenger:

- paired_t: scipy.stats.ttest_rel(challenger, champion), two-sided.
- wilcoxon: scipy.stats.wilcoxon(challenger, champion), two-sided (scipy's defaults).
- mann_whitney: scipy.stats.mannwhitneyu(challenger, champion, alternative="two-sided").
- diebold_mariano: loss = -return, d_t = loss_champion - loss_challenger; DM = mean(d) / sqrt(
  LRV / n) with the Newey-West (Bartlett) long-run variance LRV = g0 + 2 sum_{l<=L} (1 - l/(L+1)) gl,
  gl = sum_t (d_t - mean)(d_{t-l} - mean) / n; p from the standard normal, two-sided. Lag L =
  max(h - 1, floor(4 (n / 100) ^ (2/9))) (the forecast horizon's overlap, at least the Newey-West
  rule of thumb). Equals statsmodels OLS(d, 1).fit(cov_type="HAC", maxlags=L)'s t-stat.
- sharpe_bootstrap: circular block bootstrap (paired: the same blocks for both series) of
  Sharpe(challenger) - Sharpe(champion), block length ceil(n^(1/3)) unless given, seeded;
  percentile confidence interval; p = min(1, 2 min(P*(diff <= 0), P*(diff >= 0))).
- effect size: paired Cohen's d = mean(diff) / std(diff, ddof=1) (diff = challenger - champion).

Across challengers each test's p-values are corrected with statsmodels' multipletests (Holm by
default, or fdr_bh for Benjamini-Hochberg). Verdict: challenger_better when the corrected p <=
alpha and the effect favours the challenger, champion_better when it favours the champion,
else no_difference.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from engine.manifest import FoldRecord, Manifest
from engine.metrics import max_drawdown, profit_factor, sharpe_ratio, sortino_ratio

# A return series: what the replay produces (numpy) or any sequence of floats.
Returns = Sequence[float] | np.ndarray

TESTS = ("paired_t", "wilcoxon", "mann_whitney", "diebold_mariano", "sharpe_bootstrap")
CORRECTIONS = ("holm", "fdr_bh")
VERDICTS = ("challenger_better", "champion_better", "no_difference")
DEFAULT_WEIGHTS = {"sharpe": 0.4, "sortino": 0.2, "max_drawdown": 0.2, "profit_factor": 0.2}


@dataclass
class TestResult:
    challenger: str
    test: str
    statistic: float
    p_value: float
    effect_size: float
    p_adjusted: float = math.nan
    correction: str | None = None
    verdict: str = "no_difference"
    details: dict = field(default_factory=dict)

    def to_row(self) -> dict:
        return {
            "challenger": self.challenger,
            "test": self.test,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "correction": self.correction,
            "effect_size": self.effect_size,
            "verdict": self.verdict,
            "details": self.details,
        }


# ---- alignment -----------------------------------------------------------------------------


def align(
    champion: tuple[Sequence, Returns], challengers: Mapping[str, tuple[Sequence, Returns]]
) -> tuple[list, np.ndarray, dict[str, np.ndarray]]:
    """(timestamps, champion returns, {name: challenger returns}) on the champion's periods.

    Each argument is (timestamps, values). ValueError when a challenger's periods are not exactly
    the champion's (same set; order may differ), when timestamps repeat, or values are not finite."""
    stamps, values = _series("champion", *champion)
    order = {ts: index for index, ts in enumerate(stamps)}
    aligned = {}
    for name, (their_stamps, their_values) in challengers.items():
        their_stamps, their_values = _series(f"challenger {name}", their_stamps, their_values)
        if set(their_stamps) != set(order):
            missing = len(set(order) - set(their_stamps))
            extra = len(set(their_stamps) - set(order))
            raise ValueError(
                f"challenger {name}: periods differ from the champion's ({missing} missing, {extra} extra); "
                "compare models on the same out-of-sample periods"
            )
        placed = np.empty(len(stamps))
        placed[[order[ts] for ts in their_stamps]] = their_values
        aligned[name] = placed
    return stamps, values, aligned


def _series(label: str, stamps, values) -> tuple[list, np.ndarray]:
    stamps = list(stamps)
    values = np.asarray(values, dtype=float).ravel()
    if len(stamps) != values.size:
        raise ValueError(f"{label}: {len(stamps)} timestamps for {values.size} values")
    if len(set(stamps)) != len(stamps):
        raise ValueError(f"{label}: repeated timestamps")
    if values.size < 3:
        raise ValueError(f"{label}: {values.size} periods; need at least 3 to compare")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{label}: returns must be finite (NaN or inf found)")
    return stamps, values


# ---- the tests -----------------------------------------------------------------------------


def cohens_d(champion, challenger) -> float:
    diff = np.asarray(challenger, dtype=float) - np.asarray(champion, dtype=float)
    spread = np.std(diff, ddof=1)
    return float(np.mean(diff) / spread) if spread > 0 else math.nan


def paired_t(champion, challenger) -> tuple[float, float]:
    result = stats.ttest_rel(challenger, champion)
    return float(result.statistic), float(result.pvalue)


def wilcoxon(champion, challenger) -> tuple[float, float]:
    diff = np.asarray(challenger, dtype=float) - np.asarray(champion, dtype=float)
    if not np.any(diff):
        return math.nan, 1.0  # identical series: nothing to rank
    result = stats.wilcoxon(challenger, champion)
    return float(result.statistic), float(result.pvalue)


def mann_whitney(champion, challenger) -> tuple[float, float]:
    result = stats.mannwhitneyu(challenger, champion, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def newey_west_lag(n: int, horizon: int = 1) -> int:
    return max(horizon - 1, int(math.floor(4 * (n / 100) ** (2 / 9))))


def diebold_mariano(champion, challenger, *, horizon: int = 1, lag: int | None = None) -> tuple[float, float]:
    """(DM statistic, two-sided normal p) on losses = -returns; positive favours the challenger."""
    d = np.asarray(challenger, dtype=float) - np.asarray(champion, dtype=float)  # loss_champ - loss_chall
    n = d.size
    lag = newey_west_lag(n, horizon) if lag is None else int(lag)
    e = d - d.mean()
    lrv = float(e @ e) / n
    for l in range(1, min(lag, n - 1) + 1):  # noqa: E741
        lrv += 2 * (1 - l / (lag + 1)) * float(e[l:] @ e[:-l]) / n
    if lrv <= 0:
        return math.nan, 1.0
    statistic = float(d.mean() / math.sqrt(lrv / n))
    return statistic, float(2 * stats.norm.sf(abs(statistic)))


def _sharpe_rows(samples: np.ndarray, periods_per_year: float) -> np.ndarray:
    """Sharpe of each row (engine.metrics.sharpe_ratio's formula, vectorised); NaN without spread."""
    spread = samples.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = samples.mean(axis=1) / spread * math.sqrt(periods_per_year)
    return np.where(spread > 0, sharpe, np.nan)


def block_indices(n: int, n_boot: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) indices of a circular block bootstrap: random starts, runs of `block` wrapping."""
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    runs = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return runs.reshape(n_boot, -1)[:, :n]


def sharpe_bootstrap(
    champion,
    challenger,
    *,
    periods_per_year: float = 252.0,
    n_boot: int = 1000,
    block: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Sharpe difference (challenger - champion) with its circular block bootstrap interval."""
    champion, challenger = np.asarray(champion, dtype=float), np.asarray(challenger, dtype=float)
    n = champion.size
    block = max(1, int(math.ceil(n ** (1 / 3)))) if block is None else int(block)
    index = block_indices(n, n_boot, block, np.random.default_rng(seed))
    diffs = _sharpe_rows(challenger[index], periods_per_year)
    diffs = diffs - _sharpe_rows(champion[index], periods_per_year)
    diffs = diffs[np.isfinite(diffs)]
    point = sharpe_ratio(challenger, periods_per_year) - sharpe_ratio(champion, periods_per_year)
    if diffs.size == 0:
        return {"difference": point, "low": math.nan, "high": math.nan, "p_value": 1.0, "block": block}
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    p_value = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return {
        "difference": float(point),
        "low": float(low),
        "high": float(high),
        "p_value": float(p_value),
        "block": block,
        "n_boot": int(n_boot),
        "confidence": confidence,
    }


def adjust(p_values: Sequence[float], correction: str) -> np.ndarray:
    """statsmodels.stats.multitest.multipletests(p, method=correction)[1]; NaN p-values stay NaN."""
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; known: {', '.join(CORRECTIONS)}")
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    known = np.isfinite(p)
    if known.any():
        adjusted[known] = multipletests(p[known], method=correction)[1]
    return adjusted


def verdict(p_adjusted: float, effect: float, alpha: float) -> str:
    if not (math.isfinite(p_adjusted) and math.isfinite(effect)) or p_adjusted > alpha or effect == 0:
        return "no_difference"
    return "challenger_better" if effect > 0 else "champion_better"


RANK_AND_T_TESTS = (("paired_t", paired_t), ("wilcoxon", wilcoxon), ("mann_whitney", mann_whitney))


# ---- everything at once --------------------------------------------------------------------


def compare(
    champion,
    challengers: Mapping[str, Returns],
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    horizon: int = 1,
    periods_per_year: float = 252.0,
    n_boot: int = 1000,
    block: int | None = None,
    seed: int = 0,
) -> list[TestResult]:
    """Every test for every challenger (already aligned arrays of the same length as champion),
    corrected across challengers test by test. One TestResult per (challenger, test)."""
    champion = np.asarray(champion, dtype=float)
    if not challengers:
        raise ValueError("compare needs at least one challenger")
    results: list[TestResult] = []
    for name, values in challengers.items():
        challenger = np.asarray(values, dtype=float)
        if challenger.shape != champion.shape:
            raise ValueError(f"challenger {name}: {challenger.size} periods, champion {champion.size}")
        d = cohens_d(champion, challenger)
        mean_diff = float(np.mean(challenger - champion))
        common = {"mean_difference": mean_diff, "n": int(champion.size)}
        for test, function in RANK_AND_T_TESTS:
            statistic, p = function(champion, challenger)
            results.append(TestResult(name, test, statistic, p, d, details=dict(common)))
        lag = newey_west_lag(champion.size, horizon)
        statistic, p = diebold_mariano(champion, challenger, horizon=horizon, lag=lag)
        results.append(TestResult(name, "diebold_mariano", statistic, p, d, details={**common, "lag": lag}))
        boot = sharpe_bootstrap(
            champion, challenger, periods_per_year=periods_per_year, n_boot=n_boot, block=block, seed=seed
        )
        results.append(
            TestResult(name, "sharpe_bootstrap", boot["difference"], boot["p_value"], boot["difference"],
                       details={**common, **boot})
        )
    for test in TESTS:
        rows = [row for row in results if row.test == test]
        for row, p_adjusted in zip(rows, adjust([row.p_value for row in rows], correction), strict=True):
            row.p_adjusted = float(p_adjusted)
            row.correction = correction
            row.verdict = verdict(row.p_adjusted, row.effect_size, alpha)
    return results


# ---- composite score and best model --------------------------------------------------------


def trading_scores(returns, periods_per_year: float) -> dict[str, float]:
    return {
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "sortino": sortino_ratio(returns, periods_per_year),
        "max_drawdown": max_drawdown(returns),  # <= 0: closer to zero is better
        "profit_factor": profit_factor(returns),
    }


def composite_scores(
    models: Mapping[str, Returns],
    *,
    periods_per_year: float = 252.0,
    weights: Mapping[str, float] | None = None,
) -> dict[str, dict]:
    """{model: {"score", "metrics"}}: each metric min-max scaled across the models (higher is
    better; max_drawdown is negative so it already is), NaN scaled to 0, then a weighted sum with
    `weights` (default DEFAULT_WEIGHTS; keys among sharpe, sortino, max_drawdown, profit_factor).
    With one model, or a metric equal for all, that metric scales to 1."""
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        known = ", ".join(DEFAULT_WEIGHTS)
        raise ValueError(f"unknown composite weight(s) {sorted(unknown)}; known: {known}")
    metrics = {name: trading_scores(values, periods_per_year) for name, values in models.items()}
    scores = {name: 0.0 for name in models}
    for metric, weight in weights.items():
        column = np.array([metrics[name][metric] for name in models], dtype=float)
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            continue
        low, high = finite.min(), finite.max()
        scaled = np.ones_like(column) if high == low else (column - low) / (high - low)
        scaled = np.where(np.isfinite(column), scaled, 0.0)
        for name, value in zip(models, scaled, strict=True):
            scores[name] += weight * float(value)
    return {name: {"score": scores[name], "metrics": metrics[name]} for name in models}


def best_model(scores: Mapping[str, dict]) -> str:
    """The highest composite score; ties go to the first listed (put the champion first)."""
    return max(scores, key=lambda name: scores[name]["score"])


# ---- replaying a version's out-of-sample periods ---------------------------------------------


def replay_returns(
    frame, manifest: Manifest | Mapping, folds: Sequence[FoldRecord | Mapping], alt: Mapping | None = None
) -> tuple[list, np.ndarray]:
    """(timestamps, strategy returns after the manifest's cost_bps) of the model described by
    `manifest` (kind, params, features, horizon, threshold) on the test periods of `folds`.
    Both may be the stored JSON documents (a version's manifest and its "folds").

    Honest out-of-sample: for each fold a fresh model is fitted on that fold's training period
    (train_start_ts..train_end_ts) and predicts its test period (test_start_ts..test_end_ts),
    exactly as engine.training's walk-forward does; the stored final artifact has seen every
    row, so predicting the folds' periods with it would be in-sample. Each fold's returns start
    flat, as in training's per-fold metrics. Each version is replayed on its own spec (recipe,
    preprocessing fitted per fold, target, alternative data `alt`), so versions with different
    recipes are compared on the same test bars; an ensemble version replays its members and its
    own walk-forward (engine.ensembles.version), a sizing version its member's out-of-sample
    forecasts and its agent (engine.rl.signal.replay_sizing). Returns are by the manifest's
    position rule (engine.metrics.POSITION_RULES: a sizing agent's sizes are held as sizes).
    ValueError when the bars do not cover a period or the features differ from the manifest's."""
    from engine.metrics import strategy_returns

    if not isinstance(manifest, Manifest):
        manifest = Manifest.from_json(manifest)
    stamps: list = []
    pieces = []
    for replay in replay_predictions(frame, manifest, folds, alt):
        pieces.append(strategy_returns(replay.prediction, replay.next_ret, float(manifest.cost_bps),
                                       manifest.position_rule))
        stamps.extend(replay.timestamps)
    return stamps, np.concatenate(pieces)


@dataclass(frozen=True)
class FoldReplay:
    """One fold's test bars as a version predicts them out of sample, with what they realised:
    the target the version learns, the next bar's return and the forward return in bps."""

    timestamps: list
    prediction: np.ndarray
    target: np.ndarray
    next_ret: np.ndarray
    fwd: np.ndarray

    @classmethod
    def of_test_rows(cls, data, test: range, prediction) -> FoldReplay:
        """The replay of `test`'s rows of prepared data (engine.training.PreparedData)."""
        return cls(
            timestamps=data.timestamps[test.start : test.stop],
            prediction=np.asarray(prediction, dtype=float),
            target=data.regression_target[test.start : test.stop],
            next_ret=data.next_ret[test.start : test.stop],
            fwd=data.fwd[test.start : test.stop],
        )


def replay_predictions(
    frame, manifest: Manifest | Mapping, folds: Sequence[FoldRecord | Mapping], alt: Mapping | None = None
) -> list[FoldReplay]:
    """Per fold of `folds`, the version's out-of-sample predictions of its test bars, each fold
    refitted on its training period (see replay_returns)."""
    from engine.pipeline import spec_of_manifest
    from engine.training import checked_single_symbol, fit_and_predict, fold_inputs, prepare_data

    if not isinstance(manifest, Manifest):
        manifest = Manifest.from_json(manifest)
    folds = [fold if isinstance(fold, FoldRecord) else FoldRecord.from_json(fold) for fold in folds]
    if manifest.model_kind == "ensemble":
        from engine.ensembles.version import replay_ensemble

        return replay_ensemble(frame, manifest, folds, alt)
    if manifest.model_kind == "regime_router":
        from engine.regimes.router import replay_router

        return replay_router(frame, manifest, folds, alt)
    if manifest.signal is not None:
        from engine.rl.signal import replay_sizing

        return replay_sizing(frame, manifest, folds, alt)
    kind, horizon = manifest.model_kind, manifest.horizon
    spec = spec_of_manifest(manifest.to_json())
    data = prepare_data(
        checked_single_symbol(frame), horizon, manifest.threshold_bps or 0.0, spec=spec, alt=alt,
        cost_bps=float(manifest.cost_bps),
    )
    if list(manifest.features) != data.features:
        raise ValueError(f"{kind}: the manifest's features are not the ones this engine computes")
    position = {ts: index for index, ts in enumerate(data.timestamps)}

    def row(stamp, label: str) -> int:
        index = position.get(stamp)
        if index is None:
            raise ValueError(f"{kind}: no usable bar at the fold's {label} {stamp.isoformat()}")
        return index

    def first_row_from(stamp) -> int:
        # A version whose recipe warms up longer has no usable row at another's first training
        # bar: it trains from its own first usable one (its test bars are the same).
        return bisect.bisect_left(data.timestamps, stamp)

    replays = []
    for fold in folds:
        train = range(first_row_from(fold.train_start_ts), row(fold.train_end_ts, "train end") + 1)
        test = range(row(fold.test_start_ts, "test start"), row(fold.test_end_ts, "test end") + 1)
        fold_data, _steps = fold_inputs(data, spec.preprocessing, train, kind, spec.model.seed)
        _model, prediction, _proba = fit_and_predict(
            kind, dict(manifest.params), fold_data, train, test, horizon,
            early_stopping=manifest.early_stopping,
        )
        replays.append(FoldReplay.of_test_rows(data, test, prediction))
    return replays

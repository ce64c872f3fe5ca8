"""The stylised facts of real against synthetic returns, each judged against a stated tolerance.

Four facts every daily or intraday return series shows, which a generator of market paths has to
reproduce before anything run on its paths means much:

- `distribution`: the two-sample Kolmogorov-Smirnov statistic of the pooled returns passes at
  most `KS_MAX`. The statistic, not the p-value, is the test: with thousands of synthetic returns
  any difference at all is "significant", and the p-value is reported beside it.
- `tails`: excess kurtosis. Where the real series is heavy-tailed (excess kurtosis above
  `HEAVY_TAILS`) the synthetic one must be within a factor `KURTOSIS_FACTOR` of it either way;
  else within `HEAVY_TAILS` of it.
- `volatility_clustering`: the autocorrelation of |r| at lags 1-20 (`LAGS`), pooled over paths
  (never across the join of two paths); the mean absolute difference between the two curves is
  at most `CLUSTERING_GAP`.
- `no_linear_memory`: the autocorrelation of r itself stays within `LINEAR_MEMORY_MAX` of zero at
  every lag.

The verdict is "passes" only when all four pass; otherwise "fails: " and the facts that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

LAGS = tuple(range(1, 21))
KS_MAX = 0.10
HEAVY_TAILS = 1.0
KURTOSIS_FACTOR = 2.0
CLUSTERING_GAP = 0.07
LINEAR_MEMORY_MAX = 0.10


@dataclass(frozen=True)
class Fact:
    """One stylised fact: the real and synthetic figure, the rule, and whether it held."""

    name: str
    real: float | None  # None where the fact compares the two series as one figure (KS)
    synthetic: float
    tolerance: str
    passed: bool


@dataclass(frozen=True)
class StylisedFacts:
    facts: tuple[Fact, ...]
    ks_statistic: float
    ks_pvalue: float
    abs_acf_real: tuple[float, ...]  # autocorrelation of |r|, lags 1-20
    abs_acf_synthetic: tuple[float, ...]
    acf_real: tuple[float, ...]  # autocorrelation of r, lags 1-20
    acf_synthetic: tuple[float, ...]
    real_returns: int
    synthetic_returns: int

    @property
    def failed(self) -> list[str]:
        return [fact.name for fact in self.facts if not fact.passed]

    @property
    def verdict(self) -> str:
        failed = self.failed
        return "passes" if not failed else "fails: " + ", ".join(failed)

    def to_json(self) -> dict:
        document = asdict(self)
        document["verdict"] = self.verdict
        return document

    @classmethod
    def from_json(cls, document: dict) -> StylisedFacts:
        fields = {name: value for name, value in document.items() if name != "verdict"}
        fields["facts"] = tuple(Fact(**fact) for fact in document["facts"])
        for name in ("abs_acf_real", "abs_acf_synthetic", "acf_real", "acf_synthetic"):
            fields[name] = tuple(fields[name])
        return cls(**fields)


def autocorrelation(paths: Sequence[np.ndarray], lags: Sequence[int] = LAGS) -> np.ndarray:
    """The autocorrelation at each lag of one series or several (pooled: one mean and variance
    over every value, lagged products only within a path)."""
    paths = [np.asarray(path, dtype=float).ravel() for path in paths]
    values = np.concatenate(paths)
    mean, variance = values.mean(), values.var()
    if variance == 0:
        return np.zeros(len(lags))
    out = []
    for lag in lags:
        products = [np.sum((p[:-lag] - mean) * (p[lag:] - mean)) for p in paths if p.size > lag]
        pairs = sum(p.size - lag for p in paths if p.size > lag)
        out.append(float(np.sum(products)) / pairs / variance if pairs else np.nan)
    return np.asarray(out)


def stylised_facts(real: np.ndarray, synthetic: Sequence[np.ndarray]) -> StylisedFacts:
    """Real returns (one series) against synthetic ones (one array per path); see the module."""
    from scipy import stats  # here, not at import: the console reads stored facts without scipy

    real = np.asarray(real, dtype=float).ravel()
    paths = [np.asarray(path, dtype=float).ravel() for path in synthetic]
    pooled = np.concatenate(paths) if paths else np.empty(0)
    if real.size <= max(LAGS) or pooled.size <= max(LAGS):
        raise ValueError(f"stylised facts need more than {max(LAGS)} returns on each side "
                         f"(real {real.size}, synthetic {pooled.size})")
    ks = stats.ks_2samp(real, pooled)
    kurt_real, kurt_synthetic = float(stats.kurtosis(real)), float(stats.kurtosis(pooled))
    if kurt_real > HEAVY_TAILS:
        tails_ok = kurt_real / KURTOSIS_FACTOR <= kurt_synthetic <= kurt_real * KURTOSIS_FACTOR
        tails_rule = f"within x{KURTOSIS_FACTOR:g} of real"
    else:
        tails_ok = abs(kurt_synthetic - kurt_real) <= HEAVY_TAILS
        tails_rule = f"within {HEAVY_TAILS:g} of real"
    abs_real, abs_synthetic = autocorrelation([np.abs(real)]), autocorrelation([np.abs(p) for p in paths])
    gap = float(np.mean(np.abs(abs_real - abs_synthetic)))
    acf_real, acf_synthetic = autocorrelation([real]), autocorrelation(paths)
    worst = float(np.max(np.abs(acf_synthetic)))
    facts = (
        Fact("distribution", None, float(ks.statistic), f"KS statistic <= {KS_MAX:g}",
             bool(ks.statistic <= KS_MAX)),
        Fact("tails", kurt_real, kurt_synthetic, f"excess kurtosis {tails_rule}", bool(tails_ok)),
        Fact("volatility_clustering", float(np.mean(abs_real)), float(np.mean(abs_synthetic)),
             f"mean |ACF(|r|) gap| lags 1-20 <= {CLUSTERING_GAP:g} (gap {gap:.3f})", gap <= CLUSTERING_GAP),
        Fact("no_linear_memory", float(np.max(np.abs(acf_real))), worst,
             f"max |ACF(r)| lags 1-20 <= {LINEAR_MEMORY_MAX:g}", worst <= LINEAR_MEMORY_MAX),
    )
    return StylisedFacts(
        facts=facts, ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue),
        abs_acf_real=tuple(map(float, abs_real)), abs_acf_synthetic=tuple(map(float, abs_synthetic)),
        acf_real=tuple(map(float, acf_real)), acf_synthetic=tuple(map(float, acf_synthetic)),
        real_returns=int(real.size), synthetic_returns=int(pooled.size),
    )


def block_bootstrap(
    returns: np.ndarray, *, paths: int, length: int, block: int, seed: int
) -> list[np.ndarray]:
    """Paths resampled from `returns` in contiguous blocks (the moving-block bootstrap): the
    baseline a generator has to beat, since it keeps clustering within each block by construction."""
    returns = np.asarray(returns, dtype=float).ravel()
    if returns.size < block:
        raise ValueError(f"a block of {block} needs at least {block} returns, got {returns.size}")
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(paths):
        starts = rng.integers(0, returns.size - block + 1, size=-(-length // block))
        made.append(np.concatenate([returns[s:s + block] for s in starts])[:length])
    return made

"""One recipe entry per indicator: its parameters (validated), the columns it makes and the
polars expressions that compute them.

Column names carry the parameters (`rsi_14`, `macd_12_26_9`, `bb_upper_20_2`), so two entries
with different parameters never collide and a name says how its column was made.

An entry computes in stages (`steps()`): a stage may read the columns of earlier stages, which
lets an indicator keep its intermediate series (gains, true range, MACD line …) in scratch
columns instead of recomputing them inside every expression that reads them. Scratch columns
are named `__<a column of the entry>__<part>` and dropped at the end.

For a frame of several symbols, expressions read `row`, the row number within the row's symbol
(compute_features adds it as the SYMBOL_ROW column; see indicators.py for why windows need it).
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar, Literal

import polars as pl
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

from engine.features import indicators
from engine.regimes.config import RegimeConfig

OHLCV = ("open", "high", "low", "close", "volume")
_MAX_WINDOW = 100_000  # TA-Lib's own upper bound for every period

Stages = list[dict[str, pl.Expr]]
SYMBOL_ROW = "__symbol_row"


def _unique(values: list) -> list:
    repeated = sorted({value for value in values if values.count(value) > 1}, key=str)
    if repeated:
        raise ValueError(f"repeated value(s): {', '.join(map(str, repeated))}")
    return values


def _window(minimum: int):
    return Annotated[int, Strict(), Field(ge=minimum, le=_MAX_WINDOW)]


def _windows(minimum: int, default: list[int]):
    return Annotated[
        list[_window(minimum)],
        Field(default_factory=lambda: list(default), min_length=1),
        AfterValidator(_unique),
    ]


def _number(value: float) -> str:
    """2.0 -> '2', 2.5 -> '2.5': how a parameter reads in a column name."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


_c, _o, _h, _l, _v = (pl.col(name) for name in ("close", "open", "high", "low", "volume"))


def _rolling_zscores(spec, wanted, row) -> tuple[dict[str, pl.Expr], dict[str, pl.Expr]]:
    """Two stages for rolling z-scores, (source column, output name, window) each: the moments
    (rolling mean and sample std, in scratch columns), then the scores (a flat window gives 0)."""
    moments, scores = {}, {}
    for source, name, window in wanted:
        mean, std = f"__{name}__mean", f"__{name}__std"
        moments[mean] = indicators.sma(pl.col(source), window, row=row)
        moments[std] = indicators.rolling_std(pl.col(source), window, row=row)
        scores[name] = indicators.zscore_from_moments(pl.col(source), pl.col(mean), pl.col(std))
    return moments, scores


class FeatureSpec(BaseModel):
    """Base of every recipe entry. `derived` entries read other entries' columns (lags,
    z-scores) and run after the rest."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    derived: ClassVar[bool] = False
    # Its value at a bar depends on every earlier bar of the symbol, and not as a running sum
    # (an expanding quantile): a tail window cannot give batch's numbers (engine.features.tail).
    whole_history: ClassVar[bool] = False

    def expressions(self, row: pl.Expr | None = None) -> dict[str, pl.Expr]:
        """Column name -> expression, for entries that need a single stage."""
        raise NotImplementedError

    def steps(self, row: pl.Expr | None = None) -> Stages:
        """The stages; `row` is the row number within the symbol (None: a one-symbol frame)."""
        return [self.expressions(row)]

    def columns(self) -> list[str]:
        return list(self.expressions())

    def sources(self) -> list[str]:
        """Columns this entry reads besides the OHLCV ones (derived entries only)."""
        return []

    def _scratch(self, part: str) -> str:
        return f"__{self.columns()[0]}__{part}"


class Returns(FeatureSpec):
    """ret_{h} = (close_t - close_{t-h}) / close_{t-h} (talib.ROCP)."""

    indicator: Literal["returns"]
    horizons: _windows(1, [1])

    def expressions(self, row=None):
        return {f"ret_{h}": indicators.simple_return(_c, h, row=row) for h in self.horizons}


class LogReturns(FeatureSpec):
    """log_ret_{h} = ln(close_t / close_{t-h}) (ln of talib.ROCR)."""

    indicator: Literal["log_returns"]
    horizons: _windows(1, [1])

    def expressions(self, row=None):
        return {f"log_ret_{h}": indicators.log_return(_c, h, row=row) for h in self.horizons}


_VOLATILITY_PREFIX = {"close_to_close": "vol_cc", "parkinson": "vol_parkinson", "garman_klass": "vol_gk"}


class Volatility(FeatureSpec):
    """Rolling volatility per bar (not annualised): vol_cc_{w}, vol_parkinson_{w}, vol_gk_{w};
    `prefix` names the columns {prefix}_{w} instead, for one estimator (the core recipe's vol_20)."""

    indicator: Literal["volatility"]
    windows: _windows(2, [20])
    estimators: Annotated[
        list[Literal["close_to_close", "parkinson", "garman_klass"]],
        Field(default_factory=lambda: list(_VOLATILITY_PREFIX), min_length=1),
        AfterValidator(_unique),
    ]
    prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] | None = None

    @model_validator(mode="after")
    def _prefix_names_one_estimator(self):
        if self.prefix is not None and len(self.estimators) != 1:
            raise ValueError("prefix names the columns of one estimator; list exactly one")
        return self

    def _name(self, estimator: str, window: int) -> str:
        return f"{self.prefix or _VOLATILITY_PREFIX[estimator]}_{window}"

    def columns(self):
        return [self._name(estimator, w) for estimator in self.estimators for w in self.windows]

    def steps(self, row=None):
        # The per-bar terms are shared by every window and by both range-based estimators.
        returns, high_low, close_open = (
            self._scratch(part) for part in ("returns", "high_low", "close_open")
        )
        terms = {
            returns: indicators.log_return(_c, 1, row=row),
            high_low: indicators.squared_log_ratio(_h, _l),
            close_open: indicators.squared_log_ratio(_c, _o),
        }
        build = {
            "close_to_close": lambda w: indicators.volatility_from_returns(pl.col(returns), w, row=row),
            "parkinson": lambda w: indicators.parkinson_from_squares(pl.col(high_low), w, row=row),
            "garman_klass": lambda w: indicators.garman_klass_from_squares(
                pl.col(high_low), pl.col(close_open), w, row=row
            ),
        }
        reads = {"close_to_close": [returns], "parkinson": [high_low], "garman_klass": [high_low, close_open]}
        used = {name for estimator in self.estimators for name in reads[estimator]}
        return [
            {name: term for name, term in terms.items() if name in used},
            {
                self._name(estimator, w): build[estimator](w)
                for estimator in self.estimators
                for w in self.windows
            },
        ]


class Sma(FeatureSpec):
    indicator: Literal["sma"]
    periods: _windows(2, [20])

    def expressions(self, row=None):
        return {f"sma_{p}": indicators.sma(_c, p, row=row) for p in self.periods}


class SmaRatio(FeatureSpec):
    """sma_{p}_ratio = close / SMA(close, p) - 1 (talib.SMA), the close's distance from its mean."""

    indicator: Literal["sma_ratio"]
    periods: _windows(2, [20])

    def expressions(self, row=None):
        return {f"sma_{p}_ratio": _c / indicators.sma(_c, p, row=row) - 1 for p in self.periods}


class HlRange(FeatureSpec):
    """hl_range = (high - low) / close, the bar's range as a share of its close."""

    indicator: Literal["hl_range"]

    def expressions(self, row=None):
        return {"hl_range": (_h - _l) / _c}


class VolumeZscore(FeatureSpec):
    """volume_z_{w}: the rolling z-score (sample std; a flat window gives 0) of ln(1 + volume), so
    a volume spike reads the same at any scale of trading."""

    indicator: Literal["volume_zscore"]
    windows: _windows(2, [20])

    def columns(self):
        return [f"volume_z_{w}" for w in self.windows]

    def steps(self, row=None):
        logged = self._scratch("log_volume")
        moments, scores = _rolling_zscores(self, [(logged, f"volume_z_{w}", w) for w in self.windows], row)
        return [{logged: _v.log1p()}, moments, scores]


class Ema(FeatureSpec):
    indicator: Literal["ema"]
    periods: _windows(2, [20])

    def expressions(self, row=None):
        return {f"ema_{p}": indicators.ema(_c, p, row=row) for p in self.periods}


class Rsi(FeatureSpec):
    """rsi_{p}: Wilder's RSI (talib.RSI)."""

    indicator: Literal["rsi"]
    periods: _windows(2, [14])

    def columns(self):
        return [f"rsi_{p}" for p in self.periods]

    def steps(self, row=None):
        gain, loss = self._scratch("gain"), self._scratch("loss")
        change = _c - indicators.lagged(_c, 1, row=row)
        averages = {}
        for p in self.periods:
            averages[self._scratch(f"gain_{p}")] = indicators.wilder_average(pl.col(gain), p, row=row)
            averages[self._scratch(f"loss_{p}")] = indicators.wilder_average(pl.col(loss), p, row=row)
        return [
            {gain: change.clip(lower_bound=0), loss: (-change).clip(lower_bound=0)},
            averages,
            {
                f"rsi_{p}": indicators.rsi_from_averages(
                    pl.col(self._scratch(f"gain_{p}")), pl.col(self._scratch(f"loss_{p}"))
                )
                for p in self.periods
            },
        ]


class Macd(FeatureSpec):
    """macd_{f}_{s}_{g}, macd_signal_…, macd_hist_… (talib.MACD)."""

    indicator: Literal["macd"]
    fast: _window(2) = 12
    slow: _window(2) = 26
    signal: _window(1) = 9

    @model_validator(mode="after")
    def _fast_below_slow(self):
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self

    def columns(self):
        suffix = f"{self.fast}_{self.slow}_{self.signal}"
        return [f"macd_{suffix}", f"macd_signal_{suffix}", f"macd_hist_{suffix}"]

    def steps(self, row=None):
        name, signal, hist = self.columns()
        fast, slow, line = self._scratch("fast"), self._scratch("slow"), self._scratch("line")
        return [
            {
                fast: indicators.macd_fast_ema(_c, self.fast, self.slow, row=row),
                slow: indicators.ema(_c, self.slow, row=row),
            },
            {line: pl.col(fast) - pl.col(slow)},
            {signal: indicators.macd_signal(pl.col(line), self.slow, self.signal, row=row)},
            {
                name: indicators.macd_shown_line(pl.col(line), self.slow, self.signal, row=row),
                hist: pl.col(line) - pl.col(signal),
            },
        ]


class Bbands(FeatureSpec):
    """bb_upper_{p}_{k}, bb_middle_…, bb_lower_… (talib.BBANDS with nbdevup = nbdevdn = k)."""

    indicator: Literal["bbands"]
    period: _window(2) = 20
    num_std: Annotated[float, Field(strict=True, gt=0, le=1_000, allow_inf_nan=False)] = 2.0

    def columns(self):
        suffix = f"{self.period}_{_number(self.num_std)}"
        return [f"bb_upper_{suffix}", f"bb_middle_{suffix}", f"bb_lower_{suffix}"]

    def steps(self, row=None):
        upper, middle, lower = self.columns()
        width = self._scratch("width")
        return [
            {
                middle: indicators.sma(_c, self.period, row=row),
                width: indicators.bollinger_width(_c, self.period, self.num_std, row=row),
            },
            {upper: pl.col(middle) + pl.col(width), lower: pl.col(middle) - pl.col(width)},
        ]


class Atr(FeatureSpec):
    """atr_{p} (talib.ATR)."""

    indicator: Literal["atr"]
    periods: _windows(1, [14])

    def columns(self):
        return [f"atr_{p}" for p in self.periods]

    def steps(self, row=None):
        true_range = self._scratch("true_range")
        return [
            {true_range: indicators.true_range(_h, _l, _c, row=row)},
            {f"atr_{p}": indicators.wilder_average(pl.col(true_range), p, row=row) for p in self.periods},
        ]


class Roc(FeatureSpec):
    indicator: Literal["roc"]
    periods: _windows(1, [10])

    def expressions(self, row=None):
        return {f"roc_{p}": indicators.roc(_c, p, row=row) for p in self.periods}


class Stoch(FeatureSpec):
    """stoch_k_{k}_{smooth} and stoch_d_{k}_{smooth} (talib.STOCH, SMA smoothing); a d_period
    other than smooth is added to both names (stoch_k_14_3_5)."""

    indicator: Literal["stoch"]
    k_period: _window(1) = 14
    smooth: _window(1) = 3
    d_period: _window(1) | None = None

    def columns(self):
        d_period = self.d_period or self.smooth
        suffix = f"{self.k_period}_{self.smooth}" + (f"_{d_period}" if d_period != self.smooth else "")
        return [f"stoch_k_{suffix}", f"stoch_d_{suffix}"]

    def steps(self, row=None):
        name_k, name_d = self.columns()
        lowest, highest = self._scratch("lowest"), self._scratch("highest")
        fast_k, slow_k = self._scratch("fast_k"), self._scratch("slow_k")
        d_period = self.d_period or self.smooth
        lowest_low, highest_high = indicators.stochastic_range(_h, _l, self.k_period, row=row)
        return [
            {lowest: lowest_low, highest: highest_high},
            {fast_k: indicators.stochastic_fast_k(_c, pl.col(lowest), pl.col(highest))},
            {slow_k: indicators.sma(pl.col(fast_k), self.smooth, row=row)},
            {
                name_k: indicators.stochastic_shown_k(
                    pl.col(slow_k), self.k_period, self.smooth, d_period, row=row
                ),
                name_d: indicators.sma(pl.col(slow_k), d_period, row=row),
            },
        ]


class Obv(FeatureSpec):
    indicator: Literal["obv"]

    def expressions(self, row=None):
        return {"obv": indicators.on_balance_volume(_c, _v, row=row)}


class Momentum(FeatureSpec):
    indicator: Literal["momentum"]
    periods: _windows(1, [10])

    def expressions(self, row=None):
        return {f"mom_{p}": indicators.momentum(_c, p, row=row) for p in self.periods}


class LinregSlope(FeatureSpec):
    """The trend component: least-squares slope of the close over the window (talib.LINEARREG_SLOPE)."""

    indicator: Literal["linreg_slope"]
    periods: _windows(2, [14])

    def expressions(self, row=None):
        return {f"linreg_slope_{p}": indicators.linear_regression_slope(_c, p, row=row) for p in self.periods}


_ColumnNames = Annotated[
    list[Annotated[str, Field(min_length=1)]], Field(min_length=1), AfterValidator(_unique)
]


class Lags(FeatureSpec):
    """{column}_lag_{k}: the column's value k bars earlier (an OHLCV column or another entry's)."""

    derived: ClassVar[bool] = True
    indicator: Literal["lags"]
    columns_: _ColumnNames = Field(alias="columns")
    lags: _windows(1, [1])

    def expressions(self, row=None):
        return {
            f"{name}_lag_{k}": indicators.lagged(pl.col(name), k, row=row)
            for name in self.columns_
            for k in self.lags
        }

    def sources(self):
        return list(self.columns_)


class Zscore(FeatureSpec):
    """{column}_zscore_{w}: rolling z-score with the sample std; a flat window gives 0."""

    derived: ClassVar[bool] = True
    indicator: Literal["zscore"]
    columns_: _ColumnNames = Field(alias="columns")
    windows: _windows(2, [20])

    def columns(self):
        return [f"{name}_zscore_{w}" for name in self.columns_ for w in self.windows]

    def steps(self, row=None):
        wanted = [(name, f"{name}_zscore_{w}", w) for name in self.columns_ for w in self.windows]
        return list(_rolling_zscores(self, wanted, row))

    def sources(self):
        return list(self.columns_)


# Each field: its cycle length and the value the cycle starts at.
_CALENDAR_CYCLE = {"hour": (24, 0), "day_of_week": (7, 1), "month": (12, 1)}
_MICROS_PER_HOUR = 3_600_000_000


class Calendar(FeatureSpec):
    """hour (0-23), day_of_week (1 = Monday … 7 = Sunday), month (1-12), all of `ts` in UTC; with
    `cyclical`, also {field}_sin / {field}_cos on the field's cycle (so 23h sits next to 0h)."""

    indicator: Literal["calendar"]
    fields: Annotated[
        list[Literal["hour", "day_of_week", "month"]],
        Field(default_factory=lambda: list(_CALENDAR_CYCLE), min_length=1),
        AfterValidator(_unique),
    ]
    cyclical: Annotated[bool, Strict()] = False

    def columns(self):
        return [
            *self.fields,
            *(f"{name}_{f}" for name in self.fields if self.cyclical for f in ("sin", "cos")),
        ]

    def steps(self, row=None):
        ts = pl.col("ts")
        values = {
            # The canonical ts is UTC, where the hour is the epoch's hours modulo 24 (cheaper
            # than the calendar arithmetic of dt.hour, same number).
            "hour": (ts.dt.epoch("us") // _MICROS_PER_HOUR % 24).cast(pl.Int8),
            "day_of_week": ts.dt.weekday(),
            "month": ts.dt.month(),
        }
        stages: Stages = [{name: values[name] for name in self.fields}]
        if self.cyclical:
            waves = {}
            for name in self.fields:
                length, start = _CALENDAR_CYCLE[name]
                angles = [2 * math.pi * step / length for step in range(length)]
                position = pl.col(name).cast(pl.Int64) - start
                # A lookup of the cycle's few values instead of sin/cos on every row.
                waves[f"{name}_sin"] = pl.lit(pl.Series([math.sin(a) for a in angles])).gather(position)
                waves[f"{name}_cos"] = pl.lit(pl.Series([math.cos(a) for a in angles])).gather(position)
            stages.append(waves)
        return stages


_REGIMES = RegimeConfig()  # the defaults a regime entry's column name leaves out
_Quantile = Annotated[float, Field(strict=False, gt=0, lt=1, allow_inf_nan=False)]


class RegimeVol(FeatureSpec):
    """regime_vol_{w}: the vol regime as a number (low 0, normal 1, high 2; engine.regimes): the
    bar's realised volatility over `window` bars against its symbol's expanding history. Other
    quantiles than the default add _q{q1}_{q2}, another min_history _h{bars}."""

    whole_history: ClassVar[bool] = True
    indicator: Literal["regime_vol"]
    window: _window(2) = _REGIMES.vol_window
    quantiles: tuple[_Quantile, _Quantile] = _REGIMES.vol_quantiles
    min_history: _window(1) = _REGIMES.min_history

    @model_validator(mode="after")
    def _quantiles_in_order(self):
        if self.quantiles[0] >= self.quantiles[1]:
            raise ValueError(f"quantiles {list(self.quantiles)}: the first must be below the second")
        return self

    def expressions(self, row=None):
        name = f"regime_vol_{self.window}"
        if tuple(self.quantiles) != _REGIMES.vol_quantiles:
            name += f"_q{_number(self.quantiles[0])}_{_number(self.quantiles[1])}"
        if self.min_history != _REGIMES.min_history:
            name += f"_h{self.min_history}"
        return {name: indicators.vol_regime(_c, self.window, self.quantiles, self.min_history, row=row)}


class RegimeTrend(FeatureSpec):
    """regime_trend_{p}: the trend regime as a number (trending_down -1, ranging 0, trending_up 1;
    engine.regimes): ADX(p) >= threshold and the larger DI (TA-Lib's ADX, PLUS_DI, MINUS_DI).
    Another threshold than the default adds _t{threshold}, another min_history _h{bars}."""

    indicator: Literal["regime_trend"]
    period: _window(2) = _REGIMES.adx_period
    threshold: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = _REGIMES.adx_threshold
    min_history: _window(1) = _REGIMES.min_history

    def expressions(self, row=None):
        name = f"regime_trend_{self.period}"
        if self.threshold != _REGIMES.adx_threshold:
            name += f"_t{_number(self.threshold)}"
        if self.min_history != _REGIMES.min_history:
            name += f"_h{self.min_history}"
        return {
            name: indicators.trend_regime(
                _h, _l, _c, self.period, self.threshold, self.min_history, row=row
            )
        }


SPECS: tuple[type[FeatureSpec], ...] = (
    Returns, LogReturns, Volatility, Sma, SmaRatio, Ema, Rsi, Macd, Bbands, Atr, Roc, Stoch, Obv,
    Momentum, LinregSlope, HlRange, VolumeZscore, Lags, Zscore, Calendar, RegimeVol, RegimeTrend,
)  # fmt: skip
INDICATORS: dict[str, type[FeatureSpec]] = {
    spec.model_fields["indicator"].annotation.__args__[0]: spec for spec in SPECS
}

"""Technical indicators as polars expressions, each equal to its TA-Lib function.

Every builder takes expressions (`pl.col("close")` …) and returns expressions. All of them are
causal: the value at a row uses that row and earlier rows only. Rows where TA-Lib returns NaN
(its "lookback") are null here, and from TA-Lib's first value on the numbers are TA-Lib's, up
to rounding where polars adds in another order: relative differences below 1e-11 in our tests
and benchmarks (a MACD line crossing 0 included), none at all for OBV, MOM, ROC and
LINEARREG_SLOPE. TA-Lib is meant with its defaults: no unstable period, default (not
Metastock) compatibility, simple-moving-average MA types.

Several symbols in one frame: pass `row`, the row number within the row's own symbol, with
each symbol's rows contiguous and in time order (compute_features arranges both). Windows are
then computed down the whole column, which is fast, and every value whose window would reach
back into the previous symbol is masked to null; recursions (EMA, Wilder, OBV, the regression
sums) restart at each symbol's first row. Without `row` the frame is one symbol (or the
expression runs under the caller's `.over("symbol")`).

Multi-output indicators come in parts (macd_fast_ema, macd_signal, …): polars does not share
a sub-expression that appears inside `when/then` branches, so a whole MACD written as one
expression would compute its EMAs several times. specs.py keeps the parts in scratch columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from engine.regimes.labels import realised_vol, trend_codes, vol_codes

# A rolling std below this is a constant window up to rounding; its z-score is defined as 0.
FLAT_STD = 1e-12
_GARMAN_KLASS_CLOSE_OPEN = 2 * math.log(2) - 1
# TA-Lib's LINEARREG functions re-sum their window from scratch every this many windows.
_TALIB_RESEED_WINDOWS = 32


def _rows(row: pl.Expr | None) -> pl.Expr:
    return pl.int_range(pl.len()) if row is None else row


def lagged(values: pl.Expr, periods: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """`values` from `periods` rows earlier in the same symbol (null before that)."""
    shifted = values.shift(periods)
    # Without `row` the column is one symbol and shift already leaves the first rows null.
    return shifted if row is None else pl.when(row >= periods).then(shifted)


def _windowed(window_value: pl.Expr, window: int, row: pl.Expr | None) -> pl.Expr:
    # A rolling value whose window starts inside the symbol; the others would mix symbols.
    # (Without `row`, rolling functions already leave the first window - 1 rows null.)
    return window_value if row is None else pl.when(row >= window - 1).then(window_value)


def _per_symbol(
    kernel: Callable[[np.ndarray, np.ndarray], None], values: pl.Expr, row: pl.Expr | None
) -> pl.Expr:
    """Run `kernel(x, out)` on each symbol's stretch of `values` (a null reads as NaN); the
    kernel fills `out` (NaN where the indicator has no value yet, which becomes null)."""

    def run(columns: list[pl.Series]) -> pl.Series:
        data = columns[0].cast(pl.Float64).to_numpy()
        out = np.empty(data.size)
        if len(columns) == 1:
            kernel(data, out)
        else:
            starts = np.flatnonzero(columns[1].to_numpy() == 0).tolist()
            bounds = [0, *(start for start in starts if start > 0), data.size]
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                kernel(data[a:b], out[a:b])
        return pl.Series(out, nan_to_null=True)

    inputs = [values] if row is None else [values, row]
    return pl.map_batches(inputs, run, return_dtype=pl.Float64)


# --- moving averages -------------------------------------------------------------------------


def sma(values: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Simple moving average; equals `talib.SMA(values, timeperiod=period)`."""
    return _windowed(values.rolling_mean(period), period, row)


def ema(values: pl.Expr, period: int, first_row: int = 0, *, row: pl.Expr | None = None) -> pl.Expr:
    """Exponential moving average with k = 2 / (period + 1), seeded with the SMA of the first
    `period` values, so its first value is at row first_row + period - 1; equals
    `talib.EMA(values, timeperiod=period)`.

    `first_row` is the first non-null row of `values` within a symbol (0 for prices; later for
    a series with its own warm-up, such as the MACD line).
    """
    return _per_symbol(_seeded_ewm(2 / (period + 1), period, first_row + period - 1), values, row)


def wilder_average(values: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Wilder's smoothing of a series whose row 0 is undefined (a change, a true range): the
    seed at row `period` is the mean of rows 1..period, then avg_t = (avg_{t-1} · (period - 1)
    + x_t) / period, an exponential mean with alpha = 1 / period started from the seed."""
    return _per_symbol(_seeded_ewm(1 / period, period, period), values, row)


def _seeded_ewm(alpha: float, period: int, seed_row: int) -> Callable[[np.ndarray, np.ndarray], None]:
    """Kernel: avg = mean of the `period` values ending at seed_row, then avg += alpha · (x - avg).

    Both halves follow TA-Lib's arithmetic, which matters where a difference of two averages is
    near 0 (a MACD line crossing): the seed is a sequential sum divided by `period`, and polars'
    exponential mean (adjust=False) updates as avg + alpha · (x - avg), TA-Lib's own formula.
    (TA-Lib builds that contract the update into one fused multiply-add still differ in the
    last bit now and then; relative differences stay near 1e-11 where the MACD line nears 0.)
    """

    def kernel(values: np.ndarray, out: np.ndarray) -> None:
        out[:seed_row] = np.nan
        if values.size <= seed_row:
            return
        seeded = values[seed_row:].copy()
        # np.add.accumulate adds in order, as TA-Lib's loop does (np.sum would add pairwise).
        seeded[0] = np.add.accumulate(values[seed_row - period + 1 : seed_row + 1])[-1] / period
        out[seed_row:] = pl.Series(seeded).ewm_mean(alpha=alpha, adjust=False).to_numpy()

    return kernel


# --- RSI -------------------------------------------------------------------------------------


def rsi(close: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Wilder's RSI; equals `talib.RSI(close, timeperiod=period)`. First value at row `period`;
    0 where both average gain and loss are 0, as TA-Lib reports."""
    change = close - lagged(close, 1, row=row)
    return rsi_from_averages(
        wilder_average(change.clip(lower_bound=0), period, row=row),
        wilder_average((-change).clip(lower_bound=0), period, row=row),
    )


def rsi_from_averages(average_gain: pl.Expr, average_loss: pl.Expr) -> pl.Expr:
    total = average_gain + average_loss
    return pl.when(total == 0).then(0.0).otherwise(100 * average_gain / total)


# --- MACD ------------------------------------------------------------------------------------


def macd(
    close: pl.Expr, fast: int, slow: int, signal: int, *, row: pl.Expr | None = None
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(macd, signal, histogram); equals `talib.MACD(close, fast, slow, signal)`.

    TA-Lib's quirk, reproduced: the fast EMA does not start at row fast - 1 but at row
    slow - 1, seeded with the mean of the `fast` closes ending there, so that both EMAs start
    together (macd_fast_ema). The signal line is an EMA of the MACD line seeded with the mean of
    its first `signal` values. TA-Lib reports all three outputs from row slow + signal - 2 only
    (the MACD line exists earlier but is hidden), and so do we (macd_shown_line).
    """
    line = macd_fast_ema(close, fast, slow, row=row) - ema(close, slow, row=row)
    signal_line = macd_signal(line, slow, signal, row=row)
    return macd_shown_line(line, slow, signal, row=row), signal_line, line - signal_line


def macd_fast_ema(close: pl.Expr, fast: int, slow: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """TA-Lib's MACD fast EMA: seeded at row slow - 1 with the mean of the last `fast` closes."""
    if fast >= slow:
        raise ValueError(f"macd needs fast < slow, got fast={fast}, slow={slow}")
    return ema(close, fast, first_row=slow - fast, row=row)


def macd_signal(line: pl.Expr, slow: int, signal: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """EMA of the MACD line (which starts at row slow - 1)."""
    return ema(line, signal, first_row=slow - 1, row=row)


def macd_shown_line(line: pl.Expr, slow: int, signal: int, *, row: pl.Expr | None = None) -> pl.Expr:
    return pl.when(_rows(row) >= slow + signal - 2).then(line)


# --- Bollinger bands -------------------------------------------------------------------------


def bollinger(
    close: pl.Expr, period: int, num_std: float, *, row: pl.Expr | None = None
) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(upper, middle, lower) bands: SMA ± num_std · population std (ddof=0) over `period`;
    equals `talib.BBANDS(close, period, nbdevup=num_std, nbdevdn=num_std, matype=SMA)`."""
    middle = sma(close, period, row=row)
    width = bollinger_width(close, period, num_std, row=row)
    return middle + width, middle, middle - width


def bollinger_width(close: pl.Expr, period: int, num_std: float, *, row: pl.Expr | None = None) -> pl.Expr:
    return num_std * _windowed(close.rolling_std(period, ddof=0), period, row)


# --- ranges ----------------------------------------------------------------------------------


def true_range(high: pl.Expr, low: pl.Expr, close: pl.Expr, *, row: pl.Expr | None = None) -> pl.Expr:
    """Greatest of high - low, |high - previous close|, |low - previous close|; equals
    `talib.TRANGE` (null at row 0, which has no previous close)."""
    previous = lagged(close, 1, row=row)
    spread = pl.max_horizontal(high - low, (high - previous).abs(), (low - previous).abs())
    return pl.when(previous.is_not_null()).then(spread)


def atr(high: pl.Expr, low: pl.Expr, close: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Average true range with Wilder's smoothing, seeded with the SMA of the first `period`
    true ranges (rows 1..period); equals `talib.ATR(high, low, close, timeperiod=period)`."""
    return wilder_average(true_range(high, low, close, row=row), period, row=row)


def stochastic(
    high: pl.Expr,
    low: pl.Expr,
    close: pl.Expr,
    k_period: int,
    smooth: int,
    d_period: int,
    *,
    row: pl.Expr | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """Slow stochastic (%K, %D); equals `talib.STOCH(high, low, close, fastk_period=k_period,
    slowk_period=smooth, slowk_matype=SMA, slowd_period=d_period, slowd_matype=SMA)`.

    Fast %K = 100 · (close - lowest low) / (highest high - lowest low) over `k_period` bars,
    0 when the range is 0; slow %K = SMA(fast %K, smooth); %D = SMA(slow %K, d_period). Like
    TA-Lib, both outputs start at row k_period + smooth + d_period - 3.
    """
    lowest, highest = stochastic_range(high, low, k_period, row=row)
    slow_k = sma(stochastic_fast_k(close, lowest, highest), smooth, row=row)
    slow_d = sma(slow_k, d_period, row=row)
    return stochastic_shown_k(slow_k, k_period, smooth, d_period, row=row), slow_d


def stochastic_range(
    high: pl.Expr, low: pl.Expr, k_period: int, *, row: pl.Expr | None = None
) -> tuple[pl.Expr, pl.Expr]:
    """(lowest low, highest high) over the last `k_period` bars; equal to `talib.MIN` / `talib.MAX`."""
    return (
        _per_symbol(_rolling_extreme(np.minimum, k_period), low, row),
        _per_symbol(_rolling_extreme(np.maximum, k_period), high, row),
    )


def _rolling_extreme(ufunc: np.ufunc, window: int) -> Callable[[np.ndarray, np.ndarray], None]:
    """Kernel: out_t = ufunc over x_{t-window+1..t}, as `window` in-place passes over the column.

    O(n · window), but each pass is one vectorised sweep through memory: for the short windows
    of a stochastic this is several times faster than polars' rolling_min / rolling_max.
    """

    def kernel(values: np.ndarray, out: np.ndarray) -> None:
        out[: window - 1] = np.nan
        if values.size < window:
            return
        extreme = out[window - 1 :]
        extreme[:] = values[window - 1 :]
        for back in range(1, window):
            ufunc(extreme, values[window - 1 - back : values.size - back], out=extreme)

    return kernel


def stochastic_fast_k(close: pl.Expr, lowest: pl.Expr, highest: pl.Expr) -> pl.Expr:
    """Fast %K from the window's lowest low and highest high."""
    # TA-Lib divides by (range / 100) rather than multiplying by 100: the same rounding.
    spread = (highest - lowest) / 100
    return pl.when(spread == 0).then(0.0).otherwise((close - lowest) / spread)


def stochastic_shown_k(
    slow_k: pl.Expr, k_period: int, smooth: int, d_period: int, *, row: pl.Expr | None = None
) -> pl.Expr:
    return pl.when(_rows(row) >= k_period + smooth + d_period - 3).then(slow_k)


# --- momentum and returns --------------------------------------------------------------------


def roc(values: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Rate of change in percent, 100 · (x_t / x_{t-period} - 1), 0 where the older value is 0;
    equals `talib.ROC(values, timeperiod=period)`."""
    older = lagged(values, period, row=row)
    return pl.when(older == 0).then(0.0).otherwise((values / older - 1) * 100)


def simple_return(values: pl.Expr, horizon: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """x_t / x_{t-horizon} - 1; equals `talib.ROCP(values, timeperiod=horizon)` (prices > 0).
    TA-Lib writes (x_t - x_{t-h}) / x_{t-h}; the two differ in the last bit of the ratio, a
    relative 1e-16 / |return| (below 1e-10 for every move in the bundled data). This form is the
    one every stored version's `ret_*` inputs were computed with, so it stays: the core recipe
    reproduces those inputs bit for bit."""
    return values / lagged(values, horizon, row=row) - 1


def log_return(values: pl.Expr, horizon: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """ln(x_t) - ln(x_{t-horizon}); equals `numpy.log(talib.ROCR(values, timeperiod=horizon))` up
    to rounding (the form every stored version's `log_ret_*` inputs were computed with)."""
    logged = values.log()
    return logged - lagged(logged, horizon, row=row)


def momentum(values: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """x_t - x_{t-period}; equals `talib.MOM(values, timeperiod=period)`."""
    return values - lagged(values, period, row=row)


def on_balance_volume(close: pl.Expr, volume: pl.Expr, *, row: pl.Expr | None = None) -> pl.Expr:
    """Running sum of volume signed by the close's direction, starting at the first bar's
    volume (flat closes add nothing); equals `talib.OBV(close, volume)`, bit for bit."""
    signed = pl.when(_rows(row) == 0).then(volume).otherwise((close - close.shift(1)).sign() * volume)
    # np.cumsum adds in order, as TA-Lib's loop does.
    return _per_symbol(lambda x, out: np.cumsum(x, out=out), signed, row)


# --- trend -----------------------------------------------------------------------------------


def linear_regression_slope(values: pl.Expr, period: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Least-squares slope of the last `period` values against time, per bar; equals
    `talib.LINEARREG_SLOPE(values, timeperiod=period)` bit for bit (see _talib_slope)."""
    return _per_symbol(lambda x, out: _talib_slope(x, period, out), values, row)


def _talib_slope(values: np.ndarray, period: int, out: np.ndarray) -> None:
    """TA-Lib's LINEARREG_SLOPE arithmetic, vectorised.

    With x counted in bars ago, slope = (period · Σxy - Σx · Σy) / ((Σx)² - period · Σx²).
    TA-Lib (0.6 and later) sums a window from scratch only every 32 · period bars and slides
    the sums in between: Σy ← (Σy - y_old) + y_new and Σxy ← (Σxy + Σy_before) - period · y_old.
    Rounding drifts between re-seeds, and a slope near 0 is mostly that rounding, so matching
    it to 1e-8 means the same additions in the same order. Two roundings per step are not one
    cumulative sum, but one sequential cumulative sum over the interleaved addends (-y_old,
    y_new, -y_old, …) is; each re-seed segment is a row of a matrix, accumulated along the row.
    """
    n = values.size
    first = period - 1  # the first full window ends here
    out[: min(first, n)] = np.nan
    if n <= first:
        return
    segment = _TALIB_RESEED_WINDOWS * period
    starts = np.arange(first, n, segment)
    n_segments = starts.size
    # Seeds: each window summed oldest to newest, as TA-Lib's loop does (np.add.accumulate is
    # sequential; np.sum would sum pairwise and round differently).
    bars_ago = np.arange(period - 1, -1, -1)
    windows = values[starts[:, None] - bars_ago]
    seed_y = np.add.accumulate(windows, axis=1)[:, -1]
    seed_xy = np.add.accumulate(windows * bars_ago.astype(np.float64), axis=1)[:, -1]

    # padded[first + s·segment + j] is y at step j of segment s; past the end it is 0.
    padded = np.zeros(first + n_segments * segment)
    padded[:n] = values
    newest = padded[first:].reshape(n_segments, segment)[:, 1:]
    oldest = padded[: n_segments * segment].reshape(n_segments, segment)[:, :-1]  # y_{t - period}

    steps = np.empty((n_segments, 2 * segment - 1))
    steps[:, 0] = seed_y
    np.negative(oldest, out=steps[:, 1::2])
    steps[:, 2::2] = newest
    sum_y = np.add.accumulate(steps, axis=1)[:, 0::2]
    steps[:, 0] = seed_xy
    steps[:, 1::2] = sum_y[:, :-1]
    np.multiply(oldest, -float(period), out=steps[:, 2::2])
    sum_xy = np.add.accumulate(steps, axis=1)[:, 0::2]

    sum_x = period * (period - 1) * 0.5
    sum_x_sqr = period * (period - 1) * (2 * period - 1) / 6
    divisor = sum_x * sum_x - period * sum_x_sqr
    slope = (period * sum_xy - sum_x * sum_y) / divisor
    out[first:] = slope.reshape(-1)[: n - first]


# --- volatility and normalisation ------------------------------------------------------------


def volatility_from_returns(log_returns: pl.Expr, window: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Sample std (ddof=1) of the last `window` one-bar log returns, per bar (not annualised);
    equals `talib.STDDEV(log returns, window) * sqrt(window / (window - 1))`."""
    # The first return is at row 1, so the first full window of returns ends at row `window`.
    return _windowed(log_returns.rolling_std(window, ddof=1), window + 1, row)


def squared_log_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """ln(numerator / denominator)², the per-bar term of the range-based estimators."""
    return (numerator / denominator).log().pow(2)


def parkinson_from_squares(high_low: pl.Expr, window: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Parkinson (1980): sqrt(mean(ln(high / low)²) / (4 ln 2)) over `window` bars, per bar, from
    the squared log ranges. TA-Lib has no counterpart; tested against the formula."""
    return (_windowed(high_low.rolling_mean(window), window, row) / (4 * math.log(2))).sqrt()


def garman_klass_from_squares(
    high_low: pl.Expr, close_open: pl.Expr, window: int, *, row: pl.Expr | None = None
) -> pl.Expr:
    """Garman-Klass (1980): sqrt(mean(0.5 ln(high / low)² - (2 ln 2 - 1) ln(close / open)²))
    over `window` bars, per bar, from the squared log ratios. TA-Lib has no counterpart; tested
    against the formula.

    The mean cannot be negative while open and close lie within [low, high]; bars that break
    that could push it below 0, and such a window gives 0, not NaN.
    """
    term = 0.5 * high_low - _GARMAN_KLASS_CLOSE_OPEN * close_open
    return _windowed(term.rolling_mean(window), window, row).clip(lower_bound=0).sqrt()


def rolling_std(values: pl.Expr, window: int, *, row: pl.Expr | None = None) -> pl.Expr:
    """Sample std (ddof=1) over `window` rows."""
    return _windowed(values.rolling_std(window), window, row)


def zscore_from_moments(values: pl.Expr, mean: pl.Expr, std: pl.Expr) -> pl.Expr:
    """(x - rolling mean) / rolling sample std (ddof=1); a flat window (std below FLAT_STD) gives 0.
    Equals (x - talib.SMA) / (talib.STDDEV · sqrt(window / (window - 1)))."""
    return pl.when(std < FLAT_STD).then(0.0).otherwise((values - mean) / std)


# --- market regimes (engine.regimes.labels) -------------------------------------------------


def _per_symbol_many(
    kernel: Callable[..., np.ndarray], inputs: list[pl.Expr], row: pl.Expr | None
) -> pl.Expr:
    """Run `kernel(*arrays) -> values` on each symbol's stretch of several input columns (a null
    reads as NaN; NaN in the result becomes null)."""

    def run(columns: list[pl.Series]) -> pl.Series:
        count = len(inputs)
        data = [column.cast(pl.Float64).to_numpy() for column in columns[:count]]
        if len(columns) == count:
            return pl.Series(kernel(*data), nan_to_null=True)
        out = np.empty(data[0].size)
        starts = np.flatnonzero(columns[count].to_numpy() == 0).tolist()
        bounds = [0, *(start for start in starts if start > 0), data[0].size]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            out[a:b] = kernel(*(array[a:b] for array in data))
        return pl.Series(out, nan_to_null=True)

    return pl.map_batches(inputs if row is None else [*inputs, row], run, return_dtype=pl.Float64)


def vol_regime(
    close: pl.Expr,
    window: int,
    quantiles: tuple[float, float],
    min_history: int,
    *,
    row: pl.Expr | None = None,
) -> pl.Expr:
    """The vol regime's code per bar (low 0, normal 1, high 2; engine.regimes.labels.vol_codes):
    the bar's realised volatility against the expanding history of its own symbol."""
    return _per_symbol_many(
        lambda c: vol_codes(realised_vol(c, window), quantiles, min_history), [close], row
    )


def trend_regime(
    high: pl.Expr,
    low: pl.Expr,
    close: pl.Expr,
    period: int,
    threshold: float,
    min_history: int,
    *,
    row: pl.Expr | None = None,
) -> pl.Expr:
    """The trend regime's code per bar (down -1, ranging 0, up 1; engine.regimes.labels.trend_codes):
    ADX >= threshold and the larger of +DI / -DI (TA-Lib's ADX, PLUS_DI, MINUS_DI)."""
    return _per_symbol_many(
        lambda h, lo, c: trend_codes(h, lo, c, period, threshold, min_history), [high, low, close], row
    )

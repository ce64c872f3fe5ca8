"""The hidden-Markov regime axis: a Gaussian HMM (hmmlearn) fitted on training rows only and
read with the FORWARD (filtering) probabilities only.

hmmlearn's `predict` / `predict_proba` give the smoothed posteriors p(state_t | all rows), which
use rows after t; here the state at t is argmax p(state_t | rows <= t), the forward recursion
computed from the fitted model's start probabilities, transition matrix and Gaussian emission
densities:

    alpha_0 ∝ startprob · b(x_0),   alpha_t ∝ (alpha_{t-1} · transmat) · b(x_t)

Features per bar: the one-bar log return and the realised volatility (label_regimes' vol_window),
standardised with the training rows' mean and std. States are named state_0 … state_{k-1} by
their mean realised volatility, state_0 the calmest.

hmmlearn is imported inside functions: it is heavy, and only this axis needs it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from engine.regimes.config import ROWS_PER_PARAMETER, RegimeConfig, RegimeError, rows_needed
from engine.regimes.labels import realised_vol, require_bars

FEATURES = ("log_return", "realised_vol")
# Fits kept per process, by their training rows: a series' fit reads only its first bars, so
# the live loop labelling new bars tick after tick refits nothing.
_FITS: dict[tuple[str, int, int], FittedHmm] = {}
_FITS_KEPT = 32


def hmm_features(close: np.ndarray, vol_window: int) -> np.ndarray:
    """(bars, 2): log return and realised volatility per bar; NaN rows where either is undefined."""
    log_return = np.full(close.size, np.nan)
    log_return[1:] = np.diff(np.log(np.asarray(close, dtype=np.float64)))
    return np.column_stack([log_return, realised_vol(close, vol_window)])


@dataclass(frozen=True)
class FittedHmm:
    """A Gaussian HMM fitted on training rows, with its feature scaling and state order."""

    model: Any  # hmmlearn.hmm.GaussianHMM
    mean: np.ndarray  # of the training rows, per feature
    scale: np.ndarray  # std of the training rows, per feature
    order: np.ndarray  # order[name index] = the model's state: state_0 is the calmest

    def state_names(self) -> list[str]:
        return [f"state_{i}" for i in range(self.order.size)]


def fit_hmm(train: np.ndarray, states: int, *, seed: int = 0) -> FittedHmm:
    """Fit on `train` (rows x FEATURES, no NaN); RegimeError (one line) for too few rows."""
    need = rows_needed(states, train.shape[1])
    if train.shape[0] < need:
        raise RegimeError(
            f"hmm: {states} states need at least {need} training rows ({ROWS_PER_PARAMETER} per "
            f"parameter), got {train.shape[0]}: raise regimes.hmm_train_bars or lower regimes.hmm_states"
        )
    from hmmlearn.hmm import GaussianHMM

    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = GaussianHMM(n_components=states, covariance_type="full", n_iter=100, random_state=seed)
    model.fit((train - mean) / scale)
    # realised vol is feature 1: order the states by their mean of it.
    order = np.argsort(model.means_[:, 1], kind="stable")
    return FittedHmm(model=model, mean=mean, scale=scale, order=order)


def _cached_fit(train: np.ndarray, states: int, seed: int) -> FittedHmm:
    key = (hashlib.sha256(np.ascontiguousarray(train).tobytes()).hexdigest(), states, seed)
    if key not in _FITS:
        if len(_FITS) >= _FITS_KEPT:
            del _FITS[next(iter(_FITS))]  # the oldest
        _FITS[key] = fit_hmm(train, states, seed=seed)
    return _FITS[key]


def _log_emissions(fitted: FittedHmm, rows: np.ndarray) -> np.ndarray:
    """(rows, states): log density of each row under each state's Gaussian."""
    from scipy.stats import multivariate_normal

    scaled = (rows - fitted.mean) / fitted.scale
    model = fitted.model
    return np.column_stack(
        [
            multivariate_normal(mean=model.means_[k], cov=model.covars_[k], allow_singular=True).logpdf(
                scaled
            )
            for k in range(model.n_components)
        ]
    ).reshape(rows.shape[0], model.n_components)


def forward_probabilities(fitted: FittedHmm, rows: np.ndarray) -> np.ndarray:
    """(rows, states): p(state_t | rows[0..t]) for each t, the filtering probabilities (in the
    model's own state order). Each row's answer uses that row and earlier rows only."""
    log_b = _log_emissions(fitted, rows)
    # Scaled densities: subtracting each row's max keeps exp() in range and cancels in the
    # normalisation.
    b = np.exp(log_b - log_b.max(axis=1, keepdims=True))
    transmat = fitted.model.transmat_
    out = np.empty_like(b)
    alpha = fitted.model.startprob_ * b[0]
    out[0] = alpha / alpha.sum()
    for t in range(1, b.shape[0]):
        alpha = (out[t - 1] @ transmat) * b[t]
        total = alpha.sum()
        # A row no state explains (every density underflowed) keeps the prediction alone.
        out[t] = alpha / total if total > 0 else out[t - 1] @ transmat
    return out


def hmm_labels(bars: pl.DataFrame, config: RegimeConfig) -> pl.Series:
    """state_0 … per bar: fitted on the bars before row `hmm_train_bars` (their feature rows),
    labelled from that row on with the forward probabilities; null before it, and everywhere
    while the series is shorter than that."""
    require_bars(bars, "hmm labels")
    if config.hmm_states is None:
        raise RegimeError("hmm labels: regimes.hmm_states is not set")
    close = bars["close"].cast(pl.Float64).to_numpy()
    labels: list[str | None] = [None] * close.size
    start = config.hmm_train_bars
    if close.size <= start:
        return pl.Series(labels, dtype=pl.Utf8)
    features = hmm_features(close, config.vol_window)
    valid = ~np.isnan(features).any(axis=1)
    train = features[:start][valid[:start]]
    fitted = _cached_fit(train, config.hmm_states, config.hmm_seed)
    rows = np.flatnonzero(valid)
    probabilities = forward_probabilities(fitted, features[rows])
    rank = np.empty_like(fitted.order)
    rank[fitted.order] = np.arange(fitted.order.size)  # model state -> its name's index
    names = fitted.state_names()
    for row, state in zip(rows.tolist(), probabilities.argmax(axis=1).tolist(), strict=True):
        if row >= start:
            labels[row] = names[rank[state]]
    return pl.Series(labels, dtype=pl.Utf8)

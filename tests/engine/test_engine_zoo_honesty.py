"""Honest evaluation of the zoo (DESIGN.md section 4): shuffled targets score like chance out of
sample, and a planted signal of known strength is recovered and ranked first."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from engine.models import TABULAR_MODEL_CLASSES, make_model

AVAILABLE = [kind for kind, cls in TABULAR_MODEL_CLASSES.items() if cls.unavailable_reason() is None]
# Few trees and one thread: these tests check honesty, not accuracy, and must stay quick.
FAST = {"n_estimators": 40, "n_jobs": 1}


def fast_params(kind: str, **extra) -> dict:
    defaults = TABULAR_MODEL_CLASSES[kind].default_params()
    return {**{name: value for name, value in FAST.items() if name in defaults}, **extra}


def planted(n_rows: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Eight standard-normal features; the next return is rho * x0 + sqrt(1 - rho^2) * noise,
    so corr(x0, next return) = rho and the other seven features are pure noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, 8))
    noise = rng.standard_normal(n_rows)
    return X, rho * X[:, 0] + math.sqrt(1.0 - rho**2) * noise


@pytest.fixture(scope="module")
def shuffled():
    X, y = planted(4_000, rho=0.5, seed=11)
    # The same returns in random order: the features no longer say anything about them.
    return X, np.random.default_rng(12).permutation(y)


@pytest.mark.parametrize("kind", AVAILABLE)
def test_shuffled_targets_score_like_chance_out_of_sample(shuffled, kind):
    X, y = shuffled
    train, test = slice(0, 2_000), slice(2_000, None)
    model = make_model(kind, **fast_params(kind))
    if model.task == "classification":
        direction = np.where(y > 0, 1, -1)
        model.fit(X[train], direction[train])
        accuracy = np.mean(model.predict(X[test]) == direction[test])
    else:
        model.fit(X[train], y[train])
        accuracy = np.mean(np.sign(model.predict(X[test])) == np.sign(y[test]))
    # 2,000 test rows: one standard error of a coin's hit rate is 0.011, so 0.05 is 4.5 of them.
    assert abs(accuracy - 0.5) <= 0.05, f"{kind} scores {accuracy:.3f} on shuffled targets"


def theoretical_spearman(rho: float) -> float:
    """Spearman's correlation of a bivariate normal with Pearson correlation rho."""
    return 6.0 / math.pi * math.asin(rho / 2.0)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("linear", {}),
        ("lightgbm", {"n_estimators": 100, "learning_rate": 0.1, "n_jobs": 1}),
        ("xgboost", {"n_estimators": 100, "learning_rate": 0.1, "n_jobs": 1}),
    ],
)
def test_planted_signal_is_recovered_and_ranked_first(kind, params):
    rho = 0.5
    X, y = planted(6_000, rho=rho, seed=3)
    model = make_model(kind, **params).fit(X[:4_000], y[:4_000])
    information_coefficient = spearmanr(model.predict(X[4_000:]), y[4_000:]).statistic
    # Ten seeds of this set-up gave 0.87 to 0.99 of the theoretical value; 0.8 is the bar.
    assert information_coefficient >= 0.8 * theoretical_spearman(rho)
    importances = model.feature_importances()
    assert np.argmax(importances) == 0
    assert importances[0] > 2 * np.sort(importances)[-2]  # first by a wide margin, not by luck


def test_theoretical_spearman_matches_a_large_sample():
    X, y = planted(200_000, rho=0.5, seed=5)
    assert spearmanr(X[:, 0], y).statistic == pytest.approx(theoretical_spearman(0.5), abs=0.005)

"""Every kind of the zoo declares what it can do (ModelTags) and the declaration is true: each tag
is checked against what a fitted model of the kind actually does."""

from __future__ import annotations

import numpy as np
import pytest

from engine.models import MODEL_CLASSES, ModelTags, make_model, model_tags
from engine.models.base import Model

# The agents (family "reinforcement") are checked in test_engine_rl_agents.py: a fit is thousands
# of environment steps, and a prediction also depends on where the rollout starts (the agent's
# own position), which context_rows does not describe.
KINDS = [kind for kind, cls in MODEL_CLASSES.items()
         if cls.unavailable_reason() is None and cls.card.family != "reinforcement"]
SMALL = {"n_estimators": 20, "n_jobs": 1, "early_stopping_rounds": 2, "max_epochs": 6, "patience": 1,
         "lookback": 4, "hidden_size": 4, "d_model": 8, "heads": 2, "batch_size": 32, "device": "cpu"}


def small(kind: str, **extra):
    names = MODEL_CLASSES[kind].param_names()
    return make_model(kind, **{**{k: v for k, v in SMALL.items() if k in names}, **extra})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(240, 4))
    y = X[:, 0] - 0.5 * X[:, 1] + rng.normal(scale=0.5, size=240)
    return X, y


def target(kind: str, y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, 1, -1) if MODEL_CLASSES[kind].task == "classification" else y


def output(model, X) -> np.ndarray:
    return model.predict_proba(X) if model.task == "classification" else model.predict(X)


def test_every_kind_declares_its_tags():
    assert KINDS, "no kind of the zoo is available here"
    for kind, cls in MODEL_CLASSES.items():
        assert isinstance(cls.tags, ModelTags) and model_tags(kind) is cls.tags, kind
        assert isinstance(make_model(kind), Model), kind
        tags = cls.tags
        assert not tags.learns_online or tags.supports_warm_start, kind
        family = cls.card.family
        assert tags.reports_epochs == tags.reads_context == (family in ("neural", "reinforcement")), kind
        assert tags.learns_online == (family == "online"), kind


@pytest.mark.parametrize("kind", KINDS)
def test_supports_warm_start_is_true(data, kind):
    """A kind tagged so continues from a previous model (not the same as a fresh fit on the new
    rows); the others cannot be given a previous model at all."""
    X, y = data
    y = target(kind, y)
    previous = small(kind).fit(X[:160], y[:160])
    fresh = small(kind).fit(X[160:], y[160:])
    if not model_tags(kind).supports_warm_start:
        with pytest.raises(TypeError):
            small(kind).fit(X[160:], y[160:], init_model=previous)
        assert not hasattr(previous, "learn_more")
        return
    if model_tags(kind).learns_online:
        continued = type(previous).from_bytes(previous.to_bytes()).learn_more(X[160:], y[160:])
        assert continued.n_learned_ == previous.n_learned_ + 80
    else:
        continued = small(kind).fit(X[160:], y[160:], init_model=previous)
    assert not np.allclose(output(continued, X), output(fresh, X))


@pytest.mark.parametrize("kind", KINDS)
def test_accepts_eval_set_is_true(data, kind):
    """Validation data changes what a kind tagged accepts_eval_set learns (early stopping), and
    nothing for the others."""
    X, y = data
    y = target(kind, y)
    rng = np.random.default_rng(1)
    noise = rng.permutation(y[160:])  # validation targets unrelated to X: stops at once
    plain = small(kind, seed=3).fit(X[:160], y[:160])
    checked = small(kind, seed=3).fit(X[:160], y[:160], X_val=X[160:], y_val=noise)
    same = np.allclose(output(plain, X), output(checked, X))
    assert same != model_tags(kind).accepts_eval_set


@pytest.mark.parametrize("kind", KINDS)
def test_reports_epochs_is_true(data, kind):
    X, y = data
    extras: list[dict] = []
    small(kind).fit(X, target(kind, y), progress=lambda fraction, message, extra: extras.append(extra))
    reported = [extra for extra in extras if "epoch" in extra]
    assert bool(reported) == model_tags(kind).reports_epochs
    if reported:
        assert {"loss", "val_loss"} <= set(reported[-1])


@pytest.mark.parametrize("kind", KINDS)
def test_reads_context_is_true(data, kind):
    """A row's prediction depends on the rows before it exactly when the kind says it reads
    context, and context_rows says how many."""
    X, y = data
    model = small(kind).fit(X, target(kind, y))
    alone = output(model, X[-1:])[-1]
    with_past = output(model, X)[-1]
    assert model.context_rows == (SMALL["lookback"] - 1 if model_tags(kind).reads_context else 0)
    assert np.allclose(alone, with_past) != model_tags(kind).reads_context
    if model.context_rows:
        window = output(model, X[-1 - model.context_rows :])[-1]
        np.testing.assert_allclose(window, with_past, rtol=1e-6, atol=1e-9)

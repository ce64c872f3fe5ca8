"""Online learners (River) and the batch + online blend."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest

from engine.models import MODEL_CLASSES, LinearModel, load_model, make_model, zoo
from engine.models.online import OnlineBlend, RiverLinearModel, RiverLogisticModel


def _stream(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -0.5, 0.0]) + 0.1 * rng.normal(size=n)
    return X, y


def test_the_online_kinds_are_in_the_zoo_with_cards():
    entries = {entry["kind"]: entry for entry in zoo()}
    assert MODEL_CLASSES["river_linear"] is RiverLinearModel
    assert entries["river_linear"]["family"] == "online" and entries["river_linear"]["task"] == "regression"
    assert entries["river_logistic"]["task"] == "classification"
    assert entries["river_linear"]["artifact_format"] == "river-json"
    assert entries["river_logistic"]["artifact_format"] == "river-json"
    assert RiverLinearModel.library_versions()["river"]


def test_fit_learns_the_stream_and_matches_river_itself():
    from river import linear_model, optim, preprocessing

    X, y = _stream()
    model = make_model("river_linear", learning_rate=0.02).fit(X, y)
    river_pipeline = preprocessing.StandardScaler() | linear_model.LinearRegression(optimizer=optim.SGD(0.02))
    for row, target in zip(X, y, strict=True):
        river_pipeline.learn_one(dict(enumerate(row.tolist())), float(target))
    expected = [river_pipeline.predict_one(dict(enumerate(row.tolist()))) for row in X[:10]]
    np.testing.assert_allclose(model.predict(X[:10]), expected, rtol=1e-12)
    assert model.n_learned_ == len(y)
    assert np.corrcoef(model.predict(X), y)[0, 1] > 0.95


def test_predict_then_learn_is_causal():
    X, y = _stream(120)
    t = 60
    first = RiverLinearModel().fit(X[:20], y[:20]).predict_then_learn(X[20:], y[20:])
    X2, y2 = X.copy(), y.copy()
    X2[t + 1 :] += 100.0  # everything after row t changes
    y2[t:] = -y2[t:]  # including row t's own outcome
    second = RiverLinearModel().fit(X2[:20], y2[:20]).predict_then_learn(X2[20:], y2[20:])
    # prediction at row t (index t - 20) and before are unchanged; later ones are not
    np.testing.assert_array_equal(first[: t - 20 + 1], second[: t - 20 + 1])
    assert not np.allclose(first[t - 20 + 2 :], second[t - 20 + 2 :])


def test_predict_does_not_learn_and_learn_more_continues():
    X, y = _stream()
    model = RiverLinearModel().fit(X[:100], y[:100])
    before = model.predict(X[100:])
    np.testing.assert_array_equal(model.predict(X[100:]), before)
    assert model.n_learned_ == 100
    continued = RiverLinearModel().fit(X[:100], y[:100]).learn_more(X[100:], y[100:])
    from_scratch = RiverLinearModel().fit(X, y)
    np.testing.assert_allclose(continued.predict(X[:5]), from_scratch.predict(X[:5]), rtol=1e-12)
    assert continued.n_learned_ == len(y)


def test_round_trip_is_verified_by_sha256():
    X, y = _stream()
    model = RiverLinearModel().fit(X, y)
    data = model.to_bytes()
    loaded = load_model("river_linear", data, sha256=hashlib.sha256(data).hexdigest())
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.get_params() == model.get_params()
    loaded.learn_more(X[:10], y[:10])  # the state (scaler, weights) came back, learning continues
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ValueError, match="does not match"):
        load_model("river_linear", tampered, sha256=hashlib.sha256(data).hexdigest())


def test_online_classifier_keeps_its_labels():
    X, y = _stream()
    labels = np.where(y > 0, 1, -1)
    model = RiverLogisticModel().fit(X[:200], labels[:200])
    assert model.classes_.tolist() == [-1, 1]
    online = model.predict_then_learn(X[200:], labels[200:])
    assert set(np.unique(online)) <= {-1, 1}
    assert np.mean(online == labels[200:]) > 0.8
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    back = RiverLogisticModel.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    with pytest.raises(ValueError, match="two classes"):
        RiverLogisticModel().fit(X[:30], np.arange(30) % 3)


def test_bad_parameters_name_themselves():
    with pytest.raises(ValueError, match="learning_rate"):
        make_model("river_linear", learning_rate=0)
    with pytest.raises(ValueError, match="l2"):
        make_model("river_linear", l2=-1)


def test_blend_arithmetic_and_weight_bounds():
    X, y = _stream()
    batch = LinearModel().fit(X[:200], y[:200])
    online = RiverLinearModel().fit(X[:200], y[:200])
    expected = 0.8 * batch.predict(X[200:]) + 0.2 * online.predict(X[200:])
    np.testing.assert_allclose(OnlineBlend(batch, online).predict(X[200:]), expected, rtol=1e-12)
    np.testing.assert_allclose(OnlineBlend(batch, online, weight=0).predict(X), batch.predict(X))
    np.testing.assert_allclose(OnlineBlend(batch, online, weight=1).predict(X), online.predict(X))
    for bad in (-0.1, 1.5, "half", True):
        with pytest.raises(ValueError, match="between 0 and 1"):
            OnlineBlend(batch, online, weight=bad)
    # predict_then_learn: the online part is its own predict-then-learn
    copy = RiverLinearModel.from_bytes(online.to_bytes())
    blended = OnlineBlend(batch, online, weight=0.3).predict_then_learn(X[200:], y[200:])
    expected = 0.7 * batch.predict(X[200:]) + 0.3 * copy.predict_then_learn(X[200:], y[200:])
    np.testing.assert_allclose(blended, expected, rtol=1e-12)


# ---- stored as data: JSON, rebuilt into fresh River objects --------------------------------


def _labelled_stream(n=300, seed=0):
    X, y = _stream(n, seed)
    return X, np.where(y > 0, 1, -1)


@pytest.mark.parametrize("cls", [RiverLinearModel, RiverLogisticModel])
def test_a_loaded_learner_predicts_and_keeps_learning_bit_for_bit(cls):
    X, y = _stream() if cls is RiverLinearModel else _labelled_stream()
    weights = np.linspace(0.5, 1.5, 300)
    saved = cls(learning_rate=0.03, l2=0.001).fit(X[:100], y[:100], sample_weight=weights[:100])
    data = saved.to_bytes()
    loaded = load_model(
        saved.kind, data, sha256=hashlib.sha256(data).hexdigest(), artifact_format="river-json"
    )
    # Uninterrupted: the same learner carrying straight on over the later rows.
    uninterrupted = cls(learning_rate=0.03, l2=0.001).fit(X[:100], y[:100], sample_weight=weights[:100])
    np.testing.assert_array_equal(
        loaded.predict_then_learn(X[100:], y[100:], sample_weight=weights[100:]),
        uninterrupted.predict_then_learn(X[100:], y[100:], sample_weight=weights[100:]),
    )
    np.testing.assert_array_equal(loaded.predict(X), uninterrupted.predict(X))
    if cls is RiverLogisticModel:
        np.testing.assert_array_equal(loaded.predict_proba(X), uninterrupted.predict_proba(X))
        assert loaded.classes_.dtype == saved.classes_.dtype and loaded.classes_.tolist() == [-1, 1]
    assert loaded.n_learned_ == uninterrupted.n_learned_ == 300
    assert loaded.to_bytes() == uninterrupted.to_bytes()  # every piece of state came back


def test_the_artifact_is_a_json_document_of_the_learned_state():
    X, y = _stream()
    model = RiverLinearModel().fit(X, y)
    document = json.loads(model.to_bytes())
    assert document["format"] == "river-json" and document["kind"] == "river_linear"
    scaler, linear = model.pipeline_[0], model.pipeline_[-1]
    assert document["scaler"]["counts"] == [[j, 300] for j in range(3)]
    assert document["scaler"]["means"] == [[j, scaler.means[j]] for j in range(3)]
    assert document["linear"]["weights"] == [[j, linear.weights[j]] for j in range(3)]
    assert document["linear"]["intercept"] == linear.intercept
    assert document["linear"]["optimizer_iterations"] == 300
    assert model.to_bytes() == RiverLinearModel().fit(X, y).to_bytes()


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_is_refused_without_being_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    attack = pickle.dumps(_Payload(marker))
    for declared in (None, "river-json"):
        with pytest.raises(ValueError, match="pickle .*never loaded; retrain this version") as refused:
            load_model(
                "river_linear", attack, sha256=hashlib.sha256(attack).hexdigest(), artifact_format=declared
            )
        assert "\n" not in str(refused.value)
    with pytest.raises(ValueError, match="declared format 'pickle' is not 'river-json'.*retrain") as refused:
        load_model("river_logistic", attack, artifact_format="pickle")
    assert "\n" not in str(refused.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[1, 2]",
        json.dumps({"format": "river-json", "version": 1, "kind": "river_logistic"}).encode(),
        json.dumps({"format": "river-json", "version": 1, "kind": "river_linear", "params": {}}).encode(),
    ],
)
def test_foreign_or_broken_documents_are_refused_in_one_line(data):
    with pytest.raises(ValueError, match="river_linear artifact") as refused:
        RiverLinearModel.from_bytes(data)
    assert "\n" not in str(refused.value)

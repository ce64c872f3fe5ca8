"""The tabular zoo: one interface for every kind, the libraries' own numbers behind it, exact
round trips through the libraries' own formats, refusal of odd or modified artifacts."""

from __future__ import annotations

import hashlib
import json

import lightgbm
import numpy as np
import pytest
import skops.io
import xgboost
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from engine.models import (
    MODEL_CLASSES,
    TABULAR_MODEL_CLASSES,
    KNNModel,
    LightGBMClassifierModel,
    NotFittedError,
    load_model,
    make_model,
    zoo,
)

AVAILABLE = [kind for kind, cls in TABULAR_MODEL_CLASSES.items() if cls.unavailable_reason() is None]
REGRESSORS = [kind for kind in AVAILABLE if TABULAR_MODEL_CLASSES[kind].task == "regression"]
CLASSIFIERS = [kind for kind in AVAILABLE if TABULAR_MODEL_CLASSES[kind].task == "classification"]
BOOSTERS = [
    kind for kind in AVAILABLE if "early_stopping_rounds" in TABULAR_MODEL_CLASSES[kind].default_params()
]
ARTIFACT_FORMATS = {"scikit-learn": "skops", "xgboost": "xgboost-ubj", "lightgbm": "lightgbm-text",
                    "catboost": "catboost-cbm"}  # fmt: skip
EXPECTED_KINDS = {
    "linear", "knn", "svm", "decision_tree", "random_forest", "xgboost", "lightgbm", "catboost",
    "logistic", "knn_classifier", "svm_classifier", "decision_tree_classifier", "random_forest_classifier",
    "xgboost_classifier", "lightgbm_classifier", "catboost_classifier",
}  # fmt: skip


def fast(kind: str, **extra):
    defaults = TABULAR_MODEL_CLASSES[kind].default_params()
    small = {name: value for name, value in {"n_estimators": 25, "n_jobs": 1}.items() if name in defaults}
    return make_model(kind, **{**small, **extra})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(360, 5))
    y = X[:, 0] - 0.5 * X[:, 2] + rng.normal(scale=0.7, size=360)
    return X, y


def labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Sell / hold / buy as -1 / 0 / 1 (three classes) or down / up as -1 / 1 (two)."""
    if n_classes == 2:
        return np.where(y > 0, 1, -1)
    return np.digitize(y, [-0.6, 0.6]) - 1


def target(kind: str, y: np.ndarray, n_classes: int = 3) -> np.ndarray:
    return labels(y, n_classes) if TABULAR_MODEL_CLASSES[kind].task == "classification" else y


# ---- the registry -------------------------------------------------------------------------


def test_the_zoo_has_every_kind_with_a_card():
    assert set(TABULAR_MODEL_CLASSES) == EXPECTED_KINDS
    assert set(TABULAR_MODEL_CLASSES) <= set(MODEL_CLASSES)
    for kind, cls in TABULAR_MODEL_CLASSES.items():
        assert (cls.kind, cls.card.kind, cls.card.task) == (kind, kind, cls.task)
        assert cls.task in ("regression", "classification")
        assert cls.card.family in ("baseline", "tree")
        assert cls.artifact_format == ARTIFACT_FORMATS[cls.card.library]
        assert all([cls.card.purpose, cls.card.ideal_input, cls.card.feature_requirements,
                    cls.card.output_schema, cls.card.regimes])  # fmt: skip
        assert kind.endswith("classifier") or kind == "logistic" or cls.task == "regression"


def test_zoo_lists_cards_availability_and_default_params_as_json():
    entries = {entry["kind"]: entry for entry in zoo()}
    assert set(entries) == set(MODEL_CLASSES)
    json.dumps(zoo(), allow_nan=False)
    xgb = entries["xgboost_classifier"]
    assert xgb["task"] == "classification" and xgb["family"] == "tree" and xgb["library"] == "xgboost"
    assert xgb["available"] is True and xgb["reason"] is None
    assert xgb["artifact_format"] == "xgboost-ubj"
    assert xgb["default_params"]["scale_pos_weight"] is None
    assert set(xgb) >= {"purpose", "ideal_input", "feature_requirements", "output_schema", "regimes"}
    assert [entry["kind"] for entry in zoo()][:3] == ["linear", "knn", "svm"]  # simplest first


CATBOOST_INSTALLED = TABULAR_MODEL_CLASSES["catboost"].unavailable_reason() is None


@pytest.mark.skipif(CATBOOST_INSTALLED, reason="catboost is installed here")
def test_catboost_is_listed_unavailable_with_the_way_to_get_it():
    entry = next(entry for entry in zoo() if entry["kind"] == "catboost")
    assert entry["available"] is False and entry["reason"] == "pip install catboost"
    with pytest.raises(ValueError, match="'catboost' is not available: pip install catboost"):
        make_model("catboost")


def test_make_model_names_what_is_wrong():
    with pytest.raises(ValueError, match="unknown model kind 'forest'"):
        make_model("forest")
    with pytest.raises(ValueError, match="bad parameters for 'xgboost'.*'depth'"):
        make_model("xgboost", depth=3)
    with pytest.raises(ValueError, match="class_weight must be 'balanced' or None"):
        make_model("logistic", class_weight="heavy")
    with pytest.raises(ValueError, match="n_estimators must be a whole number >= 1"):
        make_model("random_forest", n_estimators=0)
    with pytest.raises(ValueError, match="scale_pos_weight must be 'auto'"):
        make_model("xgboost_classifier", scale_pos_weight=-1)
    with pytest.raises(ValueError, match="kernel must be one of"):
        make_model("svm", kernel="cubic")


def test_existing_kinds_keep_their_parameters():
    assert make_model("linear").get_params() == {"alpha": 1.0, "seed": 42}
    assert "early_stopping_rounds" not in make_model("lightgbm").get_params()
    assert make_model("lightgbm", early_stopping_rounds=10).get_params()["early_stopping_rounds"] == 10


# ---- one interface ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", AVAILABLE)
def test_every_kind_fits_predicts_and_round_trips_exactly(data, kind):
    X, y = data
    y = target(kind, y)
    model = fast(kind)
    assert model.fit(X[:300], y[:300]) is model
    predictions = model.predict(X[300:])
    assert predictions.shape == (60,)
    artifact = model.to_bytes()
    loaded = load_model(kind, artifact, sha256=hashlib.sha256(artifact).hexdigest())
    assert type(loaded) is type(model) and loaded.artifact_format == model.artifact_format
    np.testing.assert_array_equal(loaded.predict(X[300:]), predictions)
    assert loaded.get_params() == model.get_params()
    if model.task == "classification":
        np.testing.assert_array_equal(loaded.predict_proba(X[300:]), model.predict_proba(X[300:]))
        np.testing.assert_array_equal(loaded.classes_, model.classes_)
    else:
        assert not hasattr(model, "predict_proba")
        assert np.corrcoef(predictions, y[300:])[0, 1] > 0.5  # it did learn something
    assert model.card.library in model.library_versions()


@pytest.mark.parametrize("kind", AVAILABLE)
def test_predicting_before_fit_says_so(data, kind):
    with pytest.raises(NotFittedError, match=f"{kind} model is not fitted yet"):
        fast(kind).predict(data[0])


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", CLASSIFIERS)
def test_classifiers_give_probabilities_in_sorted_class_order(data, kind, n_classes):
    X, y = data
    y = labels(y, n_classes)
    model = fast(kind).fit(X[:300], y[:300])
    np.testing.assert_array_equal(model.classes_, np.unique(y))
    probabilities = model.predict_proba(X[300:])
    assert probabilities.shape == (60, n_classes)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(model.predict(X[300:]), model.classes_[probabilities.argmax(axis=1)])
    assert np.mean(model.predict(X[300:]) == y[300:]) > 1.0 / n_classes  # better than a guess


@pytest.mark.parametrize("kind", AVAILABLE)
def test_feature_importances_are_shares_or_none(data, kind):
    X, y = data
    model = fast(kind).fit(X, target(kind, y))
    importances = model.feature_importances()
    if kind.startswith(("knn", "svm")):
        assert importances is None  # permutation importance is measured elsewhere
    else:
        assert importances.shape == (5,) and np.all(importances >= 0)
        assert importances.sum() == pytest.approx(1.0)
        assert np.argmax(importances) == 0  # x0 carries most of the signal


# ---- the libraries' own numbers -----------------------------------------------------------


def test_logistic_is_scikit_learns_own(data):
    X, y = data
    y = labels(y, 3)
    ours = make_model("logistic", C=0.5).fit(X, y)
    classifier = LogisticRegression(C=0.5, max_iter=1000, random_state=42)
    theirs = make_pipeline(StandardScaler(), classifier).fit(X, y)
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


def test_xgboost_classifier_is_xgboosts_own_with_labels_mapped(data):
    X, y = data
    y = labels(y, 3)  # -1 / 0 / 1; XGBoost wants 0..k-1
    ours = fast("xgboost_classifier").fit(X, y)
    theirs = xgboost.XGBClassifier(**ours._xgboost_kwargs(with_validation=False)).fit(X, y + 1)
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


def test_lightgbm_classifier_is_lightgbms_own(data):
    X, y = data
    y = labels(y, 3)
    ours = fast("lightgbm_classifier").fit(X, y)
    theirs = lightgbm.LGBMClassifier(**ours._lightgbm_kwargs(with_validation=False)).fit(X, y)
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


# ---- early stopping -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", BOOSTERS)
def test_early_stopping_on_noise_keeps_few_rounds(kind):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(600, 4)), rng.normal(size=600)
    y = target(kind, y, n_classes=2)
    model = make_model(kind, n_estimators=300, early_stopping_rounds=10, n_jobs=1)
    model.fit(X[:400], y[:400], X_val=X[400:], y_val=y[400:])
    assert model.best_iteration_ is not None and model.best_iteration_ < 300
    assert model.n_iterations_ == model.best_iteration_  # what is used is what is stored
    loaded = type(model).from_bytes(model.to_bytes())
    assert (loaded.n_iterations_, loaded.best_iteration_) == (model.n_iterations_, model.best_iteration_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    without_validation = make_model(kind, n_estimators=30, early_stopping_rounds=10, n_jobs=1).fit(X, y)
    assert without_validation.n_iterations_ == 30 and without_validation.best_iteration_ is None


def test_early_stopped_lightgbm_equals_lightgbms_own():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(600, 4)), rng.normal(size=600)
    ours = make_model("lightgbm", n_estimators=300, early_stopping_rounds=10, n_jobs=1)
    ours.fit(X[:400], y[:400], X_val=X[400:], y_val=y[400:])
    theirs = lightgbm.LGBMRegressor(**ours._lightgbm_kwargs(with_validation=False))
    theirs.fit(X[:400], y[:400], eval_X=X[400:], eval_y=y[400:],
               callbacks=[lightgbm.early_stopping(10, verbose=False)])  # fmt: skip
    assert ours.best_iteration_ == theirs.best_iteration_
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_validation_data_must_come_in_pairs(data):
    X, y = data
    with pytest.raises(ValueError, match="pass X_val and y_val together"):
        fast("xgboost").fit(X, y, X_val=X)


# ---- class imbalance and sample weights ---------------------------------------------------


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(800, 4))
    score = X[:, 0] + rng.normal(scale=1.5, size=800)
    return X, np.where(score > np.quantile(score, 0.85), 1, -1)  # 15% buys


@pytest.mark.parametrize(
    ("kind", "setting"),
    [
        ("logistic", {"class_weight": "balanced"}),
        ("svm_classifier", {"class_weight": "balanced"}),
        ("decision_tree_classifier", {"class_weight": "balanced"}),
        ("random_forest_classifier", {"class_weight": "balanced"}),
        ("lightgbm_classifier", {"class_weight": "balanced"}),
        ("xgboost_classifier", {"class_weight": "balanced"}),
        ("xgboost_classifier", {"scale_pos_weight": "auto"}),
    ],
)
def test_class_weights_lift_the_rare_class(imbalanced, kind, setting):
    X, y = imbalanced
    plain = fast(kind).fit(X, y).predict_proba(X)[:, 1].mean()
    weighted = fast(kind, **setting).fit(X, y).predict_proba(X)[:, 1].mean()
    assert weighted > plain + 0.1  # the rare class (buy) gets far more probability


def test_xgboost_balanced_and_auto_weights_are_the_textbook_ones(imbalanced):
    X, y = imbalanced
    codes = (y == 1).astype(int)
    balanced = fast("xgboost_classifier", class_weight="balanced").fit(X, y)
    kwargs = balanced._xgboost_kwargs(with_validation=False)
    weights = compute_sample_weight("balanced", codes)
    theirs = xgboost.XGBClassifier(**kwargs).fit(X, codes, sample_weight=weights)
    np.testing.assert_array_equal(balanced.predict_proba(X), theirs.predict_proba(X))
    auto = fast("xgboost_classifier", scale_pos_weight="auto").fit(X, y)
    ratio = (codes == 0).sum() / codes.sum()
    theirs = xgboost.XGBClassifier(**kwargs, scale_pos_weight=ratio).fit(X, codes)
    np.testing.assert_array_equal(auto.predict_proba(X), theirs.predict_proba(X))


def test_scale_pos_weight_refuses_three_classes(data):
    X, y = data
    with pytest.raises(ValueError, match="scale_pos_weight applies to two classes, got 3"):
        fast("xgboost_classifier", scale_pos_weight="auto").fit(X, labels(y, 3))


@pytest.mark.parametrize("kind", [kind for kind in AVAILABLE if not kind.startswith("knn")])
def test_sample_weights_decide_which_rows_the_model_learns_from(kind):
    # The first half of the rows says y follows x0, the second half says y opposes it; weight
    # (e.g. realised reward / risk) picks which half the model believes.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 3))
    y = np.where(np.arange(600) < 300, 1.0, -1.0) * X[:, 0] + rng.normal(scale=0.3, size=600)
    y = target(kind, y, n_classes=2)
    first = np.where(np.arange(600) < 300, 1.0, 0.01)
    probe = np.column_stack([np.linspace(-2, 2, 50), np.zeros(50), np.zeros(50)])

    def slope(weights) -> float:
        model = fast(kind).fit(X, y, sample_weight=weights)
        output = model.predict_proba(probe)[:, 1] if model.task == "classification" else model.predict(probe)
        return float(np.corrcoef(probe[:, 0], output)[0, 1])

    assert slope(first) > 0.5 and slope(first[::-1]) < -0.5


@pytest.mark.parametrize("kind", ["knn", "knn_classifier"])
def test_knn_refuses_sample_weights_by_name(data, kind):
    X, y = data
    with pytest.raises(ValueError, match=f"{kind} does not support sample weights"):
        fast(kind).fit(X, target(kind, y), sample_weight=np.ones(len(y)))


def test_bad_sample_weights_are_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="one value per row"):
        fast("linear").fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="finite, >= 0 and not all zero"):
        fast("linear").fit(X, y, sample_weight=-np.ones(len(y)))


# ---- warm start ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", BOOSTERS)
def test_warm_start_adds_rounds_to_the_previous_model(data, kind):
    X, y = data
    y = target(kind, y)
    previous = fast(kind, n_estimators=20).fit(X[:180], y[:180])
    warm = fast(kind, n_estimators=10).fit(X[180:], y[180:], init_model=previous)
    fresh = fast(kind, n_estimators=10).fit(X[180:], y[180:])
    assert (previous.n_iterations_, warm.n_iterations_, fresh.n_iterations_) == (20, 30, 10)
    assert not np.allclose(warm.predict_proba(X) if warm.task == "classification" else warm.predict(X),
                           fresh.predict_proba(X) if fresh.task == "classification" else fresh.predict(X))
    loaded = type(warm).from_bytes(warm.to_bytes())
    assert loaded.n_iterations_ == 30
    np.testing.assert_array_equal(loaded.predict(X), warm.predict(X))


def test_warm_started_xgboost_equals_xgboosts_own(data):
    X, y = data
    previous = fast("xgboost", n_estimators=20).fit(X[:180], y[:180])
    warm = fast("xgboost", n_estimators=10).fit(X[180:], y[180:], init_model=previous)
    theirs = xgboost.XGBRegressor(**warm._xgboost_kwargs(with_validation=False))
    theirs.fit(X[180:], y[180:], xgb_model=xgboost.Booster(model_file=bytearray(previous.to_bytes())))
    np.testing.assert_array_equal(warm.predict(X), theirs.predict(X))


def test_warm_started_lightgbm_equals_lightgbms_own(data):
    X, y = data
    previous = fast("lightgbm", n_estimators=20).fit(X[:180], y[:180])
    warm = fast("lightgbm", n_estimators=10).fit(X[180:], y[180:], init_model=previous)
    theirs = lightgbm.LGBMRegressor(**warm._lightgbm_kwargs(with_validation=False))
    theirs.fit(X[180:], y[180:], init_model=previous.booster_)
    np.testing.assert_array_equal(warm.predict(X), theirs.predict(X))


def test_warm_start_refuses_another_kind_or_other_classes(data):
    X, y = data
    with pytest.raises(ValueError, match="init_model must be a fitted xgboost model, got LightGBMModel"):
        fast("xgboost").fit(X, y, init_model=fast("lightgbm").fit(X, y))
    previous = fast("lightgbm_classifier").fit(X, labels(y, 3))
    with pytest.raises(ValueError, match=r"same classes as the previous model \(\[-1, 0, 1\]\)"):
        fast("lightgbm_classifier").fit(X, labels(y, 2), init_model=previous)


# ---- progress -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "lightgbm", "xgboost_classifier"])
def test_progress_reports_rise_to_one(data, kind):
    X, y = data
    calls = []
    fast(kind).fit(X, target(kind, y), progress=lambda fraction, message, extra: calls.append(fraction))
    assert calls[0] == 0.0 and calls[-1] == 1.0 and calls == sorted(calls)
    assert len(calls) > (2 if kind != "linear" else 1)


# ---- persistence --------------------------------------------------------------------------


def test_artifacts_open_with_the_stock_libraries(data):
    X, y = data
    xgb = fast("xgboost").fit(X, y)
    booster = xgboost.Booster(model_file=bytearray(xgb.to_bytes()))
    np.testing.assert_array_equal(booster.inplace_predict(X), xgb.predict(X))
    lgbm = fast("lightgbm_classifier").fit(X, labels(y, 3))
    text = lgbm.to_bytes().decode()
    assert text.splitlines()[1].startswith("huracan=")  # labels and params, ignored by LightGBM
    np.testing.assert_array_equal(lightgbm.Booster(model_str=text).predict(X), lgbm.predict_proba(X))


def test_default_lightgbm_artifact_is_plain_lightgbm_text(data):
    X, y = data
    text = fast("lightgbm").fit(X, y).to_bytes().decode()
    assert "huracan=" not in text  # as before the zoo: the text format says it all
    stopped = make_model("lightgbm", n_estimators=300, early_stopping_rounds=5, n_jobs=1)
    stopped.fit(X[:250], y[:250], X_val=X[250:], y_val=y[250:])
    assert type(stopped).from_bytes(stopped.to_bytes()).get_params() == stopped.get_params()


def test_modified_artifact_is_refused_before_loading(data):
    X, y = data
    artifact = fast("xgboost").fit(X, y).to_bytes()
    digest = hashlib.sha256(artifact).hexdigest()
    tampered = artifact[:-10] + bytes(10)
    with pytest.raises(ValueError, match="sha256 .* does not match the manifest's"):
        load_model("xgboost", tampered, sha256=digest)


@pytest.mark.parametrize("kind", ["xgboost", "lightgbm", "knn", "logistic"])
def test_garbage_and_other_kinds_artifacts_are_refused(data, kind):
    X, y = data
    with pytest.raises(ValueError, match=f"cannot read {kind} artifact|not a {kind} artifact"):
        TABULAR_MODEL_CLASSES[kind].from_bytes(b"not a model at all")
    other = {"xgboost": "xgboost_classifier", "lightgbm": "lightgbm_classifier", "knn": "knn_classifier",
             "logistic": "decision_tree_classifier"}[kind]  # fmt: skip
    artifact = fast(other).fit(X, labels(y, 2)).to_bytes()
    with pytest.raises(ValueError, match=f"not a {kind} artifact|refusing {kind} artifact"):
        TABULAR_MODEL_CLASSES[kind].from_bytes(artifact)


def test_lightgbm_classifier_refuses_a_regressor_artifact(data):
    X, y = data
    with pytest.raises(ValueError, match="not a lightgbm_classifier artifact"):
        LightGBMClassifierModel.from_bytes(fast("lightgbm").fit(X, y).to_bytes())


SKOPS_KINDS = [kind for kind in AVAILABLE if TABULAR_MODEL_CLASSES[kind].artifact_format == "skops"]


@pytest.mark.parametrize("kind", SKOPS_KINDS)
def test_skops_artifacts_trust_only_the_types_their_kind_lists(data, kind):
    X, y = data
    artifact = fast(kind).fit(X, target(kind, y)).to_bytes()
    untrusted = set(skops.io.get_untrusted_types(data=artifact))
    assert untrusted <= TABULAR_MODEL_CLASSES[kind].expected_untrusted_types


def shady(values):
    return values


def test_skops_artifact_asking_to_trust_an_unexpected_type_is_refused(data):
    X, y = data
    genuine = fast("knn").fit(X, y)
    assert {"sklearn.neighbors._kd_tree.KDTree"} <= set(skops.io.get_untrusted_types(data=genuine.to_bytes()))
    forged = skops.io.dumps({"kind": "knn", "params": genuine.get_params(),
                             "estimator": make_pipeline(FunctionTransformer(shady)).fit(X)})  # fmt: skip
    with pytest.raises(ValueError, match="refusing knn artifact: unexpected types .*shady"):
        KNNModel.from_bytes(forged)


def test_xgboost_artifact_keeps_params_and_labels_inside_the_booster(data):
    X, y = data
    model = fast("xgboost_classifier", class_weight="balanced").fit(X, labels(y, 3))
    booster = xgboost.Booster(model_file=bytearray(model.to_bytes()))
    stamp = json.loads(booster.attr("huracan"))
    assert stamp["kind"] == "xgboost_classifier" and stamp["classes"] == [-1, 0, 1]
    assert stamp["params"] == model.get_params()

"""Online learners: River pipelines (StandardScaler | linear model) that learn one bar at a time,
and the blend of a batch champion with an online learner.

Each row is learned in time order with River's own `learn_one`; `predict` never learns. The
honest online evaluation is `predict_then_learn(X, y)`: every row is predicted *before* its
outcome is learned, so prediction t depends only on rows 0..t-1 (and on X[t]). `learn_more(X, y)`
continues from where the model stopped (the "River continuing" cadence: no retrain from scratch).

Persistence ("river-json"): River documents pickle as the way to save a model, but unpickling
runs code chosen by whoever wrote the bytes, and a sha256 in the brain proves nothing against
someone who can write to the brain. So the artifact is data only: a JSON document of our
parameters and the pipeline's learned state (the StandardScaler's running counts, means and
variances; the linear model's weights, intercept and the optimizer's step count), rebuilt into
fresh River objects on load. A loaded learner predicts and keeps learning bit for bit as the
one that was saved. Artifacts from before (River pickles) are refused, never unpickled.

River is imported inside methods, never at module import: the zoo stays cheap to list.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import numpy as np

from engine.models.base import FitProgress, ModelCard, ModelTags
from engine.models.tabular import TabularClassifier, TabularModel, report

_ONLINE_REGIMES = ("slowly drifting relationships", "regime changes between retrains")
ARTIFACT_FORMAT = "river-json"
_ARTIFACT_VERSION = 1
# Every pickle since protocol 2 starts with this byte; a JSON document never does.
_PICKLE_START = b"\x80"
_CLASS_DTYPE_KINDS = "biuf"  # labels a classifier may have: bool, integers, floats


class _RiverModel:
    """What the River regressor and classifier share: the pipeline, row-by-row learning,
    continuing, JSON persistence. Mixed in front of TabularModel / TabularClassifier."""

    artifact_format: ClassVar[str] = ARTIFACT_FORMAT
    # Continuing is learn_more on newer rows: no restart, no epochs, no validation data.
    tags: ClassVar[ModelTags] = ModelTags(supports_warm_start=True, learns_online=True)
    _fitted_attribute: ClassVar[str] = "pipeline_"

    def __init__(self, learning_rate: float = 0.01, l2: float = 0.0, seed: int = 42):
        self.learning_rate = learning_rate
        self.l2 = l2
        # River's linear models are deterministic; the seed is kept so every kind takes it.
        self.seed = seed

    def check_params(self) -> None:
        super().check_params()
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, int | float):
            raise ValueError(f"{self.kind}: learning_rate must be a number > 0, got {self.learning_rate!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"{self.kind}: learning_rate must be a number > 0, got {self.learning_rate!r}")
        if isinstance(self.l2, bool) or not isinstance(self.l2, int | float) or self.l2 < 0:
            raise ValueError(f"{self.kind}: l2 must be a number >= 0, got {self.l2!r}")

    def _make_linear(self):
        raise NotImplementedError

    def _make_pipeline(self):
        from river import preprocessing

        return preprocessing.StandardScaler() | self._make_linear()

    # ---- learning ----------------------------------------------------------------------------

    def fit(self, X, y, *, X_val=None, y_val=None, sample_weight=None, progress: FitProgress | None = None):
        """Start afresh and learn every row of X in order (validation data is checked, unused:
        an online learner has no early stopping)."""
        X, y, _, _, sample_weight = self._checked_fit_data(X, y, X_val, y_val, sample_weight)
        self._start(y)
        self.pipeline_ = self._make_pipeline()
        self.n_features_in_ = int(X.shape[1])
        self.n_learned_ = 0
        report(progress, 0.0, f"learning {self.kind} row by row")
        self._learn_rows(X, y, sample_weight, predict_first=False)
        report(progress, 1.0, f"{self.kind} learned {X.shape[0]} rows")
        return self

    def learn_more(self, X, y, sample_weight=None):
        """Continue learning from the fitted state with newer rows (no restart)."""
        X = self._input(X)
        y = self._targets(y, X.shape[0], "y")
        self._learn_rows(X, y, self._row_weights(sample_weight, X.shape[0]), predict_first=False)
        return self

    def predict_then_learn(self, X, y, sample_weight=None) -> np.ndarray:
        """For each row in order: predict it, then learn its outcome. The honest online
        evaluation: prediction t never saw y[t] or any later row."""
        X = self._input(X)
        y = self._targets(y, X.shape[0], "y")
        return self._learn_rows(X, y, self._row_weights(sample_weight, X.shape[0]), predict_first=True)

    def _row_weights(self, sample_weight, n_rows: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        weights = np.asarray(sample_weight, dtype=float)
        if weights.shape != (n_rows,) or not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(f"{self.kind}: sample_weight must hold {n_rows} finite values >= 0")
        return weights

    def _learn_rows(self, X: np.ndarray, y: np.ndarray, weights, predict_first: bool):
        pipeline = self._fitted()
        outputs = []
        for index, row in enumerate(X):
            x = _features(row)
            if predict_first:
                outputs.append(self._predict_row(pipeline, x))
            w = 1.0 if weights is None else float(weights[index])
            pipeline.learn_one(x, self._river_target(y[index]), w=w)
            self.n_learned_ += 1
        return self._finish(outputs) if predict_first else None

    # ---- persistence ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The learner as a JSON document (sorted keys: the same learner, the same bytes)."""
        scaler, linear = self._fitted()[0], self._fitted()[-1]
        document = {
            "format": ARTIFACT_FORMAT,
            "version": _ARTIFACT_VERSION,
            "kind": self.kind,
            "params": self.get_params(),
            "n_features_in": self.n_features_in_,
            "n_learned": self.n_learned_,
            "classes": _classes_document(getattr(self, "classes_", None)),
            "scaler": {
                "counts": _pairs(scaler.counts),
                "means": _pairs(scaler.means),
                "vars": _pairs(scaler.vars),
            },
            "linear": {
                "weights": _pairs(linear._weights.to_dict()),
                "intercept": linear.intercept,
                # SGD's step count: the intercept's learning-rate schedule reads it.
                "optimizer_iterations": linear.optimizer.n_iterations,
            },
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes):
        """Rebuild a learner from `to_bytes` output: JSON parsed, fresh River objects filled with
        the stored state. Anything else (a River pickle above all) is refused with ValueError."""
        if data[:1] == _PICKLE_START:
            raise ValueError(
                f"refusing {cls.kind} artifact: it is a pickle (the format before {ARTIFACT_FORMAT}), "
                "which can run code, so it is never loaded; retrain this version"
            )
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read {cls.kind} artifact as {ARTIFACT_FORMAT}: {error}") from None
        if not isinstance(document, dict) or document.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"refusing {cls.kind} artifact: it is not a {ARTIFACT_FORMAT} document")
        if document.get("kind") != cls.kind or document.get("version") != _ARTIFACT_VERSION:
            raise ValueError(
                f"refusing {cls.kind} artifact: it holds a {document.get('kind')!r} model, "
                f"{ARTIFACT_FORMAT} version {document.get('version')!r}"
            )
        try:
            return cls._from_document(document)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            reason = f"missing {error}" if isinstance(error, KeyError) else str(error).splitlines()[0]
            raise ValueError(f"refusing {cls.kind} artifact: {reason}") from None

    @classmethod
    def _from_document(cls, document: dict[str, Any]):
        from river import utils

        model = cls(**document["params"])
        model.check_params()
        pipeline = model._make_pipeline()
        scaler, linear = pipeline[0], pipeline[-1]
        state = document["scaler"]
        scaler.counts.update({key: int(value) for key, value in _mapping(state["counts"])})
        scaler.means.update({key: float(value) for key, value in _mapping(state["means"])})
        scaler.vars.update({key: float(value) for key, value in _mapping(state["vars"])})
        learned = document["linear"]
        linear._weights = utils.VectorDict({key: float(value) for key, value in _mapping(learned["weights"])})
        linear.intercept = float(learned["intercept"])
        linear.optimizer.n_iterations = int(learned["optimizer_iterations"])
        model.pipeline_ = pipeline
        model.n_features_in_ = int(document["n_features_in"])
        model.n_learned_ = int(document["n_learned"])
        classes = _classes_from_document(document["classes"])
        if classes is not None:
            model.classes_ = classes
        return model

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import river

        return {"river": river.__version__, "numpy": np.__version__}


class RiverLinearModel(_RiverModel, TabularModel):
    """River StandardScaler | LinearRegression (SGD with `learning_rate`, L2 `l2`)."""

    kind = "river_linear"
    card = ModelCard(
        kind="river_linear",
        family="online",
        task="regression",
        library="river",
        purpose="online linear regression learning one bar at a time, blended with the batch champion",
        ideal_input="a stream of tabular feature rows in time order",
        feature_requirements="numeric, no NaN; scaled inside the model (running StandardScaler)",
        output_schema="float: forecast of the target in its units",
        regimes=_ONLINE_REGIMES,
    )

    def _make_linear(self):
        from river import linear_model, optim

        return linear_model.LinearRegression(optimizer=optim.SGD(self.learning_rate), l2=self.l2)

    def _start(self, y: np.ndarray) -> None:
        pass

    def _river_target(self, value):
        return float(value)

    def _predict_row(self, pipeline, x: dict) -> float:
        return float(pipeline.predict_one(x))

    def _finish(self, outputs: list) -> np.ndarray:
        return np.asarray(outputs, dtype=float)

    def predict(self, X) -> np.ndarray:
        """One forecast per row; nothing is learned."""
        pipeline = self._fitted()
        return np.asarray(
            [self._predict_row(pipeline, _features(row)) for row in self._input(X)], dtype=float
        )

    def feature_importances(self) -> np.ndarray:
        weights = self._fitted()[-1].weights
        values = np.abs([weights.get(j, 0.0) for j in range(self.n_features_in_)])
        total = values.sum()
        return values / total if total > 0 else values


class RiverLogisticModel(_RiverModel, TabularClassifier):
    """River StandardScaler | LogisticRegression for two classes (any two sortable labels,
    e.g. -1 / 1); classes_ holds them sorted and P(classes_[1]) is what River learns."""

    kind = "river_logistic"
    card = ModelCard(
        kind="river_logistic",
        family="online",
        task="classification",
        library="river",
        purpose="online logistic regression for direction, learning one bar at a time",
        ideal_input="a stream of tabular feature rows in time order, two classes",
        feature_requirements="numeric, no NaN; scaled inside the model (running StandardScaler)",
        output_schema="label per row; predict_proba: P(class) per class, columns in classes_ order",
        regimes=_ONLINE_REGIMES,
    )

    def _make_linear(self):
        from river import linear_model, optim

        return linear_model.LogisticRegression(optimizer=optim.SGD(self.learning_rate), l2=self.l2)

    def _start(self, y: np.ndarray) -> None:
        self._learn_classes(y)
        if self.classes_.size != 2:
            raise ValueError(f"{self.kind}: needs exactly two classes, got {self.classes_.tolist()}")

    def _river_target(self, value) -> bool:
        if value not in self.classes_:
            raise ValueError(
                f"{self.kind}: label {value!r} was not seen in training ({self.classes_.tolist()})"
            )
        return bool(value == self.classes_[1])

    def _predict_row(self, pipeline, x: dict) -> float:
        return float(pipeline.predict_proba_one(x).get(True, 0.0))

    def _finish(self, outputs: list) -> np.ndarray:
        positive = np.asarray(outputs, dtype=float)
        return self.classes_[(positive > 0.5).astype(int)]

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        pipeline = self._fitted()
        positive = np.asarray([self._predict_row(pipeline, _features(row)) for row in X], dtype=float)
        return np.column_stack([1.0 - positive, positive])


class OnlineBlend:
    """final = (1 - weight) · batch + weight · online (weight 0.2 by default, 0..1).

    Regression blends forecasts; classification blends P(class) (both models must share
    classes_) and predicts the most probable class. `predict_then_learn` / `learn_more` pass
    the realised outcomes on to the online learner; the batch model is left as it is.
    """

    def __init__(self, batch_model, online_model, weight: float = 0.2):
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1:
            raise ValueError(f"online blend weight must be a number between 0 and 1, got {weight!r}")
        self.batch_model = batch_model
        self.online_model = online_model
        self.weight = float(weight)

    @property
    def task(self) -> str:
        return getattr(self.online_model, "task", "regression")

    def _mix(self, batch: np.ndarray, online: np.ndarray) -> np.ndarray:
        return blend_forecasts(batch, online, self.weight)

    def predict(self, X) -> np.ndarray:
        if self.task == "classification":
            return self._labels(self.predict_proba(X))
        return self._mix(self.batch_model.predict(X), self.online_model.predict(X))

    def predict_proba(self, X) -> np.ndarray:
        self._check_classes()
        return self._mix(self.batch_model.predict_proba(X), self.online_model.predict_proba(X))

    def predict_then_learn(self, X, y) -> np.ndarray:
        """Blend of the batch forecast and the online forecast made before each row is learned."""
        if self.task == "classification":
            self._check_classes()
            batch = self.batch_model.predict_proba(X)
            online = []
            for index in range(len(y)):  # per row: the probability before learning the row
                online.append(self.online_model.predict_proba(X[index : index + 1])[0])
                self.online_model.learn_more(X[index : index + 1], y[index : index + 1])
            return self._labels(self._mix(batch, np.asarray(online)))
        return self._mix(self.batch_model.predict(X), self.online_model.predict_then_learn(X, y))

    def learn_more(self, X, y):
        self.online_model.learn_more(X, y)
        return self

    def _check_classes(self) -> None:
        batch = getattr(self.batch_model, "classes_", None)
        online = getattr(self.online_model, "classes_", None)
        if batch is None or online is None or not np.array_equal(batch, online):
            raise ValueError("online blend: the batch and online classifiers must share the same classes")

    def _labels(self, probabilities: np.ndarray) -> np.ndarray:
        return self.online_model.classes_[np.argmax(probabilities, axis=1)]


def blend_forecasts(batch, online, weight: float) -> np.ndarray:
    """(1 - weight) · batch + weight · online: the one mix of a batch and an online forecast (or of
    their class probabilities), used by OnlineBlend and by the live loop's stored forecasts."""
    return (1.0 - weight) * np.asarray(batch, dtype=float) + weight * np.asarray(online, dtype=float)


def _features(row: np.ndarray) -> dict[int, float]:
    return dict(enumerate(row.tolist()))


def _pairs(values) -> list[list]:
    """A River dict keyed by feature index as [index, value] pairs in index order (JSON keys
    would turn the integer indexes into strings)."""
    return [[int(key), value] for key, value in sorted(values.items())]


def _mapping(pairs) -> list[tuple[int, Any]]:
    if not isinstance(pairs, list):
        raise TypeError("learned state must be a list of [feature index, value] pairs")
    return [(int(key), value) for key, value in pairs]


def _classes_document(classes: np.ndarray | None) -> dict[str, Any] | None:
    return None if classes is None else {"dtype": classes.dtype.str, "labels": classes.tolist()}


def _classes_from_document(document: dict[str, Any] | None) -> np.ndarray | None:
    if document is None:
        return None
    dtype = np.dtype(str(document["dtype"]))
    if dtype.kind not in _CLASS_DTYPE_KINDS:
        raise ValueError(f"class labels of dtype {dtype} are not supported")
    return np.asarray(document["labels"], dtype=dtype)

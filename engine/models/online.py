"""Online learners: River pipelines (StandardScaler | linear model) that learn one bar at a time,
and the blend of a batch champion with an online learner.

Each row is learned in time order with River's own `learn_one`; `predict` never learns. The
honest online evaluation is `predict_then_learn(X, y)`: every row is predicted *before* its
outcome is learned, so prediction t depends only on rows 0..t-1 (and on X[t]). `learn_more(X, y)`
continues from where the model stopped (the "River continuing" cadence: no retrain from scratch).

Persistence: River documents pickle as the way to save a model, so the artifact is a pickle of
the River pipeline and our parameters. Unpickling runs code chosen by whoever wrote the bytes,
so `from_bytes` must only ever see verified bytes: load through
`engine.models.load_model(kind, data, sha256=manifest_sha256)` (or the brain's artifact store),
which checks the sha256 recorded in the manifest before these bytes are unpickled.

River is imported inside methods, never at module import: the zoo stays cheap to list.
"""

from __future__ import annotations

import pickle
from typing import ClassVar

import numpy as np

from engine.models.base import FitProgress, ModelCard, ModelTags
from engine.models.tabular import TabularClassifier, TabularModel, report

_ONLINE_REGIMES = ("slowly drifting relationships", "regime changes between retrains")
_ARTIFACT_VERSION = 1


class _RiverModel:
    """What the River regressor and classifier share: the pipeline, row-by-row learning,
    continuing, pickle persistence. Mixed in front of TabularModel / TabularClassifier."""

    artifact_format: ClassVar[str] = "pickle"
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
        """A pickle of the River pipeline (River's documented format) with our parameters.
        Store it with its sha256 and load it only through load_model(..., sha256=...)."""
        document = {
            "format": "huracan-river",
            "version": _ARTIFACT_VERSION,
            "kind": self.kind,
            "params": self.get_params(),
            "pipeline": self._fitted(),
            "n_features_in": self.n_features_in_,
            "n_learned": self.n_learned_,
            "classes": getattr(self, "classes_", None),
        }
        return pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, data: bytes):
        """Unpickle an artifact. Pickle runs code from the bytes: call this only on bytes whose
        sha256 was verified against the manifest (load_model(kind, data, sha256=...) does)."""
        try:
            document = pickle.loads(data)  # noqa: S301 - verified bytes only, see docstring
        except Exception as error:
            raise ValueError(f"cannot read {cls.kind} artifact: {error}") from None
        if not isinstance(document, dict) or document.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} artifact")
        model = cls(**document["params"])
        model.pipeline_ = document["pipeline"]
        model.n_features_in_ = document["n_features_in"]
        model.n_learned_ = document["n_learned"]
        if document["classes"] is not None:
            model.classes_ = document["classes"]
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

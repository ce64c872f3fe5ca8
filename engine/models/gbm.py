"""LightGBM regressor, stored in LightGBM's own text format."""

from __future__ import annotations

import numpy as np

# our parameter name -> the name LightGBM writes into its text model
_LIGHTGBM_NAMES = {
    "learning_rate": "learning_rate",
    "num_leaves": "num_leaves",
    "min_child_samples": "min_data_in_leaf",
    "subsample": "bagging_fraction",
    "colsample_bytree": "feature_fraction",
    "subsample_freq": "bagging_freq",
    "seed": "seed",
    "n_jobs": "num_threads",
}


class LightGBMModel:
    """lightgbm.LGBMRegressor with small, regularised defaults.

    Only the booster is kept after fitting (`booster_`), so a model loaded from bytes and a
    freshly fitted one predict through the same code path.
    """

    kind = "lightgbm"
    artifact_format = "lightgbm-text"

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        subsample_freq: int = 1,
        seed: int = 42,
        n_jobs: int = 2,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.subsample_freq = subsample_freq
        self.seed = seed
        self.n_jobs = n_jobs

    def get_params(self) -> dict:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "subsample_freq": self.subsample_freq,
            "seed": self.seed,
            "n_jobs": self.n_jobs,
        }

    def fit(self, X: np.ndarray, y: np.ndarray) -> LightGBMModel:
        import lightgbm

        params = self.get_params()
        regressor = lightgbm.LGBMRegressor(
            **{name: value for name, value in params.items() if name != "seed"},
            random_state=self.seed,
            verbose=-1,
            # Same data, seed and thread count -> the same trees on every run.
            deterministic=True,
            force_row_wise=True,
        )
        regressor.fit(np.asarray(X, dtype=float), np.asarray(y, dtype=float))
        self.booster_ = regressor.booster_
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(np.asarray(X, dtype=float)), dtype=float)

    def to_bytes(self) -> bytes:
        return self.booster_.model_to_string().encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LightGBMModel:
        import lightgbm

        booster = lightgbm.Booster(model_str=data.decode("utf-8"))
        # The text format records the training parameters under LightGBM's own names.
        loaded = booster.params or {}
        restored = {ours: loaded[theirs] for ours, theirs in _LIGHTGBM_NAMES.items() if theirs in loaded}
        model = cls(**restored)
        model.n_estimators = booster.num_trees()
        model.booster_ = booster
        return model

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import lightgbm

        return {"lightgbm": lightgbm.__version__, "numpy": np.__version__}

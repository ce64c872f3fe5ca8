"""Ridge regression on standardised features, stored with skops (never pickle)."""

from __future__ import annotations

import numpy as np


class LinearModel:
    """StandardScaler + Ridge pipeline. The scaler is fitted inside `fit`, on training rows only.

    `seed` becomes Ridge's random_state (only its sag/saga solvers use it) so that every model
    kind takes the same arguments and the seed travels inside the artifact.
    """

    kind = "linear"
    artifact_format = "skops"
    # skops refuses types outside its default trust list unless named here. A plain
    # StandardScaler + Ridge pipeline needs none; anything else in an artifact is refused.
    expected_untrusted_types: frozenset[str] = frozenset()

    def __init__(self, alpha: float = 1.0, seed: int = 42):
        self.alpha = alpha
        self.seed = seed

    def get_params(self) -> dict:
        return {"alpha": self.alpha, "seed": self.seed}

    def fit(self, X: np.ndarray, y: np.ndarray) -> LinearModel:
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.pipeline_ = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha, random_state=self.seed))
        self.pipeline_.fit(np.asarray(X, dtype=float), np.asarray(y, dtype=float))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.pipeline_.predict(np.asarray(X, dtype=float)), dtype=float)

    def to_bytes(self) -> bytes:
        import skops.io

        return skops.io.dumps(self.pipeline_)

    @classmethod
    def from_bytes(cls, data: bytes) -> LinearModel:
        """Load an artifact, refusing any type that a Ridge pipeline would not contain."""
        import skops.io

        untrusted = skops.io.get_untrusted_types(data=data)
        unexpected = sorted(set(untrusted) - cls.expected_untrusted_types)
        if unexpected:
            raise ValueError(f"refusing linear artifact: unexpected types {', '.join(unexpected)}")
        pipeline = skops.io.loads(data, trusted=list(untrusted))
        ridge = pipeline[-1]
        model = cls(alpha=ridge.alpha, seed=ridge.random_state)
        model.pipeline_ = pipeline
        return model

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import sklearn
        import skops

        return {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "skops": skops.__version__,
        }

"""The one model interface every learner in the zoo follows, and its info card.

scikit-learn's shape: parameters in __init__, learned state in attributes ending in `_`.
Heavy libraries (torch, xgboost, lightgbm) are imported inside methods, never at module import,
so listing the zoo or opening the console stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

# progress(fraction 0..1, message, extra) — extra carries e.g. {"epoch": 3, "loss": .., "val_loss": ..}
FitProgress = Callable[[float, str, dict[str, Any]], None]

TASKS = ("regression", "classification")


@dataclass(frozen=True)
class ModelCard:
    """What a model is for, shown by `huracan models` and the console's detail screen."""

    kind: str
    family: str  # "baseline", "tree", "neural", "online", "ensemble"
    task: str  # "regression" or "classification"
    library: str
    purpose: str
    ideal_input: str  # e.g. "tabular features, 1k–1M rows" or "sequences (lookback × features)"
    feature_requirements: str  # e.g. "scaled numeric, no NaN" / "NaN allowed"
    output_schema: str  # e.g. "float: forecast of the target in its units" / "P(class) per class"
    regimes: tuple[str, ...] = field(default_factory=tuple)  # market regimes it suits

    def to_dict(self) -> dict[str, Any]:
        card = asdict(self)
        card["regimes"] = list(self.regimes)
        return card


@dataclass(frozen=True)
class ModelTags:
    """What a kind can do, declared on its class (scikit-learn's tags) so that training reads
    them instead of probing signatures. The defaults are a plain batch learner's."""

    # A fitted model of the kind can be continued with newer rows: fit(..., init_model=previous)
    # (boosters add trees, torch models continue from the weights) or, for online learners,
    # learn_more (see learns_online).
    supports_warm_start: bool = False
    # Learns row by row; continuing is learn_more(X, y) on a copy of the previous model.
    learns_online: bool = False
    # fit uses X_val / y_val for early stopping.
    accepts_eval_set: bool = False
    # Trains in epochs and reports each one's loss / val_loss through fit's progress.
    reports_epochs: bool = False
    # Predicting row t reads the rows before it (a lookback window): instances say how many
    # in `context_rows`.
    reads_context: bool = False
    # fit(..., checkpoints=) saves its state after each epoch and resumes from the newest one
    # (engine.models.neural.checkpoints): a killed train job continues instead of starting over.
    resumes_from_checkpoint: bool = False


class Determinism(StrEnum):
    """Whether training again with the same data, parameters and seed on the same machine gives
    the same artifact bytes (engine.manifest records it for every version)."""

    BITWISE = "bitwise"  # the same bytes: tested for every kind on the CPU
    NOT_ON_GPU = "not on GPU"  # trained with GPU kernels, which do not promise the same bits
    UNRECORDED = "unrecorded"  # a manifest written before this was recorded


@runtime_checkable
class Model(Protocol):
    """The interface. `fit` takes optional validation data (early stopping), sample weights
    (e.g. realised reward/risk) and a progress callback; unknown params raise ValueError."""

    kind: ClassVar[str]
    task: ClassVar[str]
    artifact_format: ClassVar[str]
    card: ClassVar[ModelCard]
    tags: ClassVar[ModelTags]

    @classmethod
    def param_names(cls) -> list[str]: ...

    @property
    def context_rows(self) -> int:
        """Rows before the first one to predict that its prediction reads (0 for tabular kinds)."""
        ...

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        progress: FitProgress | None = None,
    ) -> Model: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...

    def get_params(self) -> dict[str, Any]: ...

    def to_bytes(self) -> bytes: ...

    def determinism(self) -> Determinism:
        """How far this fitted model's training promises the same artifact bytes again."""
        ...

    @classmethod
    def from_bytes(cls, data: bytes) -> Model: ...

    @classmethod
    def library_versions(cls) -> dict[str, str]: ...

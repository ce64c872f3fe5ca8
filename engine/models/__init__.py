"""Model wrappers with one shape: params in __init__, learned state in attributes ending in _,
fit / predict / get_params / to_bytes / from_bytes / library_versions. Heavy libraries are
imported inside methods, so importing this package stays cheap."""

from __future__ import annotations

from engine.models.gbm import LightGBMModel
from engine.models.linear import LinearModel

MODEL_KINDS: dict[str, type] = {"linear": LinearModel, "lightgbm": LightGBMModel}


def make_model(kind: str, **params):
    """A fresh, unfitted model of `kind`; unknown kinds or parameters raise ValueError."""
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(MODEL_KINDS)}")
    try:
        return MODEL_KINDS[kind](**params)
    except TypeError as error:
        raise ValueError(f"bad parameters for {kind!r} model: {error}") from None

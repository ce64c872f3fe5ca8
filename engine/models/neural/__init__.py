"""Neural sequence models in torch: LSTM, GRU, bidirectional LSTM with attention, Transformer,
temporal convolution network (CNN).

Each kind is a regressor ("lstm", ...) and a classifier ("lstm_classifier", ...) that takes the
same 2-D time-ordered feature matrix as the tabular models and cuts causal windows itself
(see estimator.py). Importing this package does not import torch; fitting or loading does.
"""

from __future__ import annotations

from engine.models.neural.device import resolve_device
from engine.models.neural.estimator import NeuralModel
from engine.models.neural.kinds import (
    NEURAL_MODEL_CLASSES,
    BiLSTMAttentionClassifier,
    BiLSTMAttentionModel,
    CNNClassifier,
    CNNModel,
    GRUClassifier,
    GRUModel,
    LSTMClassifier,
    LSTMModel,
    TransformerClassifier,
    TransformerModel,
)

__all__ = [
    "NEURAL_MODEL_CLASSES",
    "BiLSTMAttentionClassifier",
    "BiLSTMAttentionModel",
    "CNNClassifier",
    "CNNModel",
    "GRUClassifier",
    "GRUModel",
    "LSTMClassifier",
    "LSTMModel",
    "NeuralModel",
    "TransformerClassifier",
    "TransformerModel",
    "resolve_device",
]

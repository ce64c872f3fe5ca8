"""The neural kinds: five architectures, each as a regressor and a classifier."""

from __future__ import annotations

from typing import Any, ClassVar

from engine.models.base import ModelCard
from engine.models.neural.estimator import ClassifierMixin, NeuralModel

_SEQUENCE_INPUT = "sequences (lookback × features) cut from time-ordered rows; 2k–1M rows"
_FEATURES = "numeric, no NaN; standardised inside with training-row statistics"
_REGRESSION_OUTPUT = "float: forecast of the target in its units, one per input row"
_CLASSIFICATION_OUTPUT = "class label per input row; predict_proba: P(class) per class in classes_ order"


def _card(kind: str, task: str, purpose: str, regimes: tuple[str, ...]) -> ModelCard:
    return ModelCard(
        kind=kind,
        family="neural",
        task=task,
        library="torch",
        purpose=purpose,
        ideal_input=_SEQUENCE_INPUT,
        feature_requirements=_FEATURES,
        output_schema=_REGRESSION_OUTPUT if task == "regression" else _CLASSIFICATION_OUTPUT,
        regimes=regimes,
    )


_LSTM = (
    "stacked LSTM over the last `lookback` bars: short- to medium-range temporal patterns",
    ("trending", "volatility clustering"),
)
_GRU = (
    "stacked GRU over the last `lookback` bars: an LSTM with fewer weights, quicker to train",
    ("trending", "volatility clustering"),
)
_BILSTM = (
    "bidirectional stacked LSTM whose current-bar state attends over the window "
    "(multi-head attention): picks out the bars in the window that matter",
    ("regime shifts", "event-driven moves"),
)
_CNN = (
    "temporal convolution network (causal dilated 1-D convolutions in residual blocks, Bai et al. "
    "2018) over the window: local patterns at several time scales at once; trains in parallel over "
    "the window, quicker than the recurrent kinds",
    ("trending", "mean reversion", "volatility clustering"),
)
_TRANSFORMER = (
    "Transformer encoder with sinusoidal positions over the window: longer-range interactions between bars",
    ("regime shifts", "long-range dependencies"),
)


class LSTMModel(NeuralModel):
    kind = "lstm"
    task = "regression"
    architecture = "lstm"
    card = _card(kind, task, *_LSTM)


class GRUModel(NeuralModel):
    kind = "gru"
    task = "regression"
    architecture = "gru"
    card = _card(kind, task, *_GRU)


class BiLSTMAttentionModel(NeuralModel):
    """hidden_size is per direction; heads must divide 2 × hidden_size."""

    kind = "bilstm_attention"
    task = "regression"
    architecture = "bilstm_attention"
    card = _card(kind, task, *_BILSTM)
    extra_params: ClassVar[dict[str, Any]] = {"heads": 4}


class TransformerModel(NeuralModel):
    """d_model is the width of the encoder, hidden_size its feed-forward width; heads divide d_model."""

    kind = "transformer"
    task = "regression"
    architecture = "transformer"
    card = _card(kind, task, *_TRANSFORMER)
    extra_params: ClassVar[dict[str, Any]] = {"heads": 4, "d_model": 32}


def receptive_field(kernel_size: int, levels: int) -> int:
    """Bars the CNN's prediction reads: each level holds two convolutions of dilation 2^level."""
    return 1 + 2 * (kernel_size - 1) * (2**levels - 1)


class CNNModel(NeuralModel):
    """channels is the width of every level, levels the number of residual blocks (dilations
    1, 2, ..., 2^(levels - 1)); the prediction reads the last receptive_field(kernel_size, levels)
    bars of the window (61 with the defaults, so a lookback of 32 is read whole).
    hidden_size and num_layers, the recurrent kinds' width and depth, are not read."""

    kind = "cnn"
    task = "regression"
    architecture = "cnn"
    card = _card(kind, task, *_CNN)
    extra_params: ClassVar[dict[str, Any]] = {"channels": 32, "kernel_size": 3, "levels": 4}


class LSTMClassifier(ClassifierMixin, LSTMModel):
    kind = "lstm_classifier"
    task = "classification"
    card = _card(kind, task, *_LSTM)


class GRUClassifier(ClassifierMixin, GRUModel):
    kind = "gru_classifier"
    task = "classification"
    card = _card(kind, task, *_GRU)


class BiLSTMAttentionClassifier(ClassifierMixin, BiLSTMAttentionModel):
    kind = "bilstm_attention_classifier"
    task = "classification"
    card = _card(kind, task, *_BILSTM)


class TransformerClassifier(ClassifierMixin, TransformerModel):
    kind = "transformer_classifier"
    task = "classification"
    card = _card(kind, task, *_TRANSFORMER)


class CNNClassifier(ClassifierMixin, CNNModel):
    kind = "cnn_classifier"
    task = "classification"
    card = _card(kind, task, *_CNN)


NEURAL_MODEL_CLASSES: dict[str, type[NeuralModel]] = {
    model.kind: model
    for model in (
        LSTMModel,
        GRUModel,
        BiLSTMAttentionModel,
        TransformerModel,
        CNNModel,
        LSTMClassifier,
        GRUClassifier,
        BiLSTMAttentionClassifier,
        TransformerClassifier,
        CNNClassifier,
    )
}

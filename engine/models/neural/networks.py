"""The torch modules behind the neural kinds. Imported only inside fit / from_bytes, never at
package import: torch alone takes seconds to import and the console must start fast.

Every network maps a batch of windows (batch, lookback, n_features) to (batch, n_outputs), and
reads only the window it is given; the windows themselves hold rows up to the predicted bar.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class RecurrentNet(nn.Module):
    """Stacked LSTM or GRU; the last step's hidden state (the current bar) feeds a linear head."""

    def __init__(
        self, cell: str, n_features: int, hidden_size: int, num_layers: int, dropout: float, n_outputs: int
    ):
        super().__init__()
        recurrent = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        # torch applies this dropout between stacked layers only; one layer would just warn.
        self.rnn = recurrent(
            n_features, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_size, n_outputs))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.rnn(windows)
        return self.head(sequence[:, -1])


class BiLSTMAttentionNet(nn.Module):
    """Bidirectional stacked LSTM, then multi-head attention from the current bar over the window.

    Reading the window backwards is not a look into the future: the window ends at the bar being
    predicted. The query is the last step only, which is what self-attention would give at that
    position, without computing the other positions nobody reads.
    """

    def __init__(
        self, n_features: int, hidden_size: int, num_layers: int, dropout: float, heads: int, n_outputs: int
    ):
        super().__init__()
        width = 2 * hidden_size
        self.rnn = nn.LSTM(
            n_features,
            hidden_size,
            num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.attention = nn.MultiheadAttention(width, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, n_outputs))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.rnn(windows)
        current = sequence[:, -1:]
        attended, _ = self.attention(current, sequence, sequence, need_weights=False)
        return self.head(self.norm(current + attended)[:, 0])


class SinusoidalPositionalEncoding(nn.Module):
    """The fixed sine / cosine encoding of "Attention is all you need", added to the inputs.

    A non-persistent buffer: it is recomputed from (length, d_model), so it never enters the
    state_dict and an artifact stays weights only.
    """

    def __init__(self, d_model: int, length: int):
        super().__init__()
        position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
        frequency = torch.exp(
            torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
        )
        encoding = torch.zeros(length, d_model)
        encoding[:, 0::2] = torch.sin(position * frequency)
        encoding[:, 1::2] = torch.cos(position * frequency[: d_model // 2])
        self.register_buffer("encoding", encoding, persistent=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs + self.encoding[: inputs.shape[1]]


class TransformerNet(nn.Module):
    """Linear projection to d_model, sinusoidal positions, a TransformerEncoder, last position -> head.

    No attention mask is needed for causality: the window holds only bars up to the predicted one.
    """

    def __init__(
        self,
        n_features: int,
        d_model: int,
        heads: int,
        num_layers: int,
        feedforward: int,
        dropout: float,
        lookback: int,
        n_outputs: int,
    ):
        super().__init__()
        self.project = nn.Linear(n_features, d_model)
        self.positions = SinusoidalPositionalEncoding(d_model, lookback)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=feedforward, dropout=dropout, batch_first=True, norm_first=True
        )
        # enable_nested_tensor only helps padded batches (ours are never padded) and warns with
        # norm_first; off keeps the same code path in training and prediction.
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, n_outputs))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        encoded = self.encoder(self.positions(self.project(windows)))
        return self.head(self.norm(encoded[:, -1]))


class CausalConv1d(nn.Conv1d):
    """A dilated 1-D convolution padded on the left only, so that output step t reads input
    steps t - (kernel_size - 1) x dilation .. t and never a later one (same length out as in)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_padding = (kernel_size - 1) * dilation

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(inputs, (self.left_padding, 0)))


class TemporalBlock(nn.Module):
    """The residual block of Bai, Kolter & Koltun (2018): two causal dilated convolutions, each
    followed by ReLU and dropout, added to the input (through a 1x1 convolution where the width
    changes). The paper's weight normalisation is left out: AdamW with gradient clipping trains
    these small networks stably, and plain weights keep the artifact a plain state_dict."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.path = nn.Sequential(
            CausalConv1d(in_channels, channels, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
            CausalConv1d(channels, channels, kernel_size, dilation),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        self.shortcut = nn.Conv1d(in_channels, channels, 1) if in_channels != channels else nn.Identity()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.path(inputs) + self.shortcut(inputs))


class TemporalConvNet(nn.Module):
    """`levels` temporal blocks with dilations 1, 2, 4, ...; the last step's channels (the
    current bar) feed a linear head. It reads the last kinds.receptive_field(kernel_size, levels)
    bars of the window; a window shorter than that is zero-padded on the left (the training mean)."""

    def __init__(
        self, n_features: int, channels: int, kernel_size: int, levels: int, dropout: float, n_outputs: int
    ):
        super().__init__()
        widths = [n_features] + [channels] * levels
        self.blocks = nn.Sequential(
            *(
                TemporalBlock(widths[level], channels, kernel_size, 2**level, dropout)
                for level in range(levels)
            )
        )
        self.head = nn.Linear(channels, n_outputs)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        # (batch, lookback, features) -> (batch, features, lookback): Conv1d's channels-first layout.
        encoded = self.blocks(windows.transpose(1, 2))
        return self.head(encoded[:, :, -1])


def build_network(architecture: str, params: dict, n_features: int, n_outputs: int) -> nn.Module:
    """The module for `architecture` ("lstm", "gru", "bilstm_attention", "transformer", "cnn")."""
    if architecture in ("lstm", "gru"):
        return RecurrentNet(
            architecture,
            n_features,
            params["hidden_size"],
            params["num_layers"],
            params["dropout"],
            n_outputs,
        )
    if architecture == "bilstm_attention":
        return BiLSTMAttentionNet(
            n_features,
            params["hidden_size"],
            params["num_layers"],
            params["dropout"],
            params["heads"],
            n_outputs,
        )
    if architecture == "transformer":
        return TransformerNet(
            n_features,
            params["d_model"],
            params["heads"],
            params["num_layers"],
            params["hidden_size"],
            params["dropout"],
            params["lookback"],
            n_outputs,
        )
    if architecture == "cnn":
        return TemporalConvNet(
            n_features,
            params["channels"],
            params["kernel_size"],
            params["levels"],
            params["dropout"],
            n_outputs,
        )
    raise ValueError(f"unknown neural architecture {architecture!r}")

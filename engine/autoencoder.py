"""A small MLP autoencoder: fitted with torch, applied with numpy.

    inputs (standardised) -> hidden (tanh) -> latent (linear) -> hidden (tanh) -> inputs (linear)

`fit` imports torch (CPU unless told otherwise, seeded, one thread so reruns agree bit for bit)
and keeps the learned weights as plain float64 numpy arrays, so `encode`, `reconstruct` and
`row_errors` need no torch: the console and the preprocessing loader never import it, and a saved
autoencoder is numbers only (skops, with this class on the trust list; never pickle).

The inputs are standardised with the mean and standard deviation of the rows `fit` sees, so one
autoencoder serves features of any scale. Two jobs use it: learned factors (the `autoencoder`
preprocessing step, engine.preprocessing) and multivariate drift (engine.drift.multivariate).
"""

from __future__ import annotations

import numpy as np

DEFAULT_BATCH = 256
DEFAULT_LEARNING_RATE = 3e-3


class Autoencoder:
    """Parameters in `__init__`, learned state in attributes ending with `_` (weights_ and biases_:
    encoder layers then decoder layers; mean_ and scale_: the standardisation)."""

    def __init__(self, latent: int = 4, hidden: int = 16, epochs: int = 50, seed: int = 0, *,
                 batch_size: int = DEFAULT_BATCH, learning_rate: float = DEFAULT_LEARNING_RATE,
                 device: str = "cpu"):
        if latent < 1 or hidden < 1 or epochs < 1 or batch_size < 1:
            raise ValueError("autoencoder: latent, hidden, epochs and batch_size must be >= 1")
        self.latent = int(latent)
        self.hidden = int(hidden)
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.learning_rate = float(learning_rate)
        self.device = device

    def fit(self, X) -> Autoencoder:
        """Learn to reconstruct the rows of X (no missing values) through `latent` units."""
        import torch

        X = _rows(X)
        if X.shape[0] < 2:
            raise ValueError(f"autoencoder: needs at least 2 rows to fit, got {X.shape[0]}")
        self.mean_ = X.mean(axis=0)
        spread = X.std(axis=0)
        self.scale_ = np.where(spread > 0, spread, 1.0)  # a constant column stays a column of zeros
        Z = (X - self.mean_) / self.scale_
        width = X.shape[1]
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        sizes = [width, self.hidden, self.latent, self.hidden, width]
        layers = [torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes, sizes[1:], strict=False)]
        network = torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1], layers[2], torch.nn.Tanh(),
                                      layers[3]).to(self.device)
        optimiser = _Adam(torch, list(network.parameters()), self.learning_rate)
        rows = torch.as_tensor(Z, dtype=torch.float64, device=self.device)
        # One thread on CPU keeps every sum in one order, so a seed gives the same weights bit for
        # bit (torch.use_deterministic_algorithms would import torch._inductor, ~10 s, for nothing).
        with _threads(torch, 1):
            for _epoch in range(self.epochs):
                order = torch.randperm(rows.shape[0], generator=generator).to(self.device)
                for start in range(0, rows.shape[0], self.batch_size):
                    batch = rows[order[start : start + self.batch_size]]
                    network.zero_grad(set_to_none=False)
                    torch.nn.functional.mse_loss(network(batch), batch).backward()
                    optimiser.step()
        self.weights_ = [layer.weight.detach().cpu().numpy().T.copy() for layer in layers]
        self.biases_ = [layer.bias.detach().cpu().numpy().copy() for layer in layers]
        self.n_features_in_ = width
        return self

    def encode(self, X) -> np.ndarray:
        """The latent units of each row (numpy only)."""
        return self._encode(self._standardised(X))

    def reconstruct(self, X) -> np.ndarray:
        """Each row passed through the bottleneck, in the inputs' own units."""
        return self._decode(self.encode(X)) * self.scale_ + self.mean_

    def row_errors(self, X) -> np.ndarray:
        """Mean squared reconstruction error of each row, in standardised units."""
        Z = self._standardised(X)
        return np.mean((self._decode(self._encode(Z)) - Z) ** 2, axis=1)

    def _encode(self, Z: np.ndarray) -> np.ndarray:
        return np.tanh(Z @ self.weights_[0] + self.biases_[0]) @ self.weights_[1] + self.biases_[1]

    def _decode(self, latent: np.ndarray) -> np.ndarray:
        return np.tanh(latent @ self.weights_[2] + self.biases_[2]) @ self.weights_[3] + self.biases_[3]

    def _standardised(self, X) -> np.ndarray:
        if not hasattr(self, "weights_"):
            raise RuntimeError("autoencoder: fit it before using it")
        X = _rows(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"autoencoder: fitted on {self.n_features_in_} columns, got {X.shape[1]}")
        return (X - self.mean_) / self.scale_


def _rows(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"autoencoder: needs 2-D rows x columns, got {X.ndim}-D")
    if not np.isfinite(X).all():
        raise ValueError("autoencoder: the rows have missing or infinite values (impute them first)")
    return X


class _Adam:
    """Adam (Kingma & Ba, torch.optim.Adam's defaults) over the parameters' gradients. Written out
    because constructing torch.optim.Adam imports torch._dynamo, ~8 s on these machines, for a fit
    that takes well under a second."""

    def __init__(self, torch, parameters, learning_rate: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.torch, self.parameters, self.learning_rate = torch, parameters, learning_rate
        self.betas, self.eps, self.steps = betas, eps, 0
        self.first = [torch.zeros_like(p) for p in parameters]
        self.second = [torch.zeros_like(p) for p in parameters]

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        size = self.learning_rate / (1 - beta1**self.steps)
        correction = (1 - beta2**self.steps) ** 0.5
        with self.torch.no_grad():
            for parameter, first, second in zip(self.parameters, self.first, self.second, strict=True):
                first.mul_(beta1).add_(parameter.grad, alpha=1 - beta1)
                second.mul_(beta2).addcmul_(parameter.grad, parameter.grad, value=1 - beta2)
                parameter.addcdiv_(first, (second.sqrt() / correction).add_(self.eps), value=-size)


class _threads:
    """One torch thread for the fit: the layers are too small to gain from more, and the machines
    these run on share their cores."""

    def __init__(self, torch, count: int):
        self.torch, self.count = torch, count

    def __enter__(self):
        self.before = self.torch.get_num_threads()
        self.torch.set_num_threads(self.count)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.before)

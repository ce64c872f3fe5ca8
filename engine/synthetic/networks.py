"""The GAN's torch modules. Imported only inside engine.synthetic.gan's functions, never at
package import: the console and the CLI's other commands must not load torch.

The generator is an LSTM fed fresh noise at every bar, so one trained on windows of W bars can
run on for a path of any length, its state carrying the volatility it has built up (see
PathGenerator for its drift-and-volatility shape). The
discriminator reads a window through dilated 1-D convolutions over the bars and their squares
(the squares make volatility clustering easy for it to see; that alone did not teach the
generator clustering on most seeds, so engine.synthetic.gan also holds the generator to the
series' autocorrelation of |u| and u).
"""

from __future__ import annotations

import torch
from torch import nn


class PathGenerator(nn.Module):
    """x_t = mu_t + sigma_t * shock(z_t): the shape Quant GANs' stochastic-volatility generator
    has (Wiese et al. 2020), with an LSTM in place of its TCN. mu and sigma read only the noise of
    the bars before t (the LSTM's state after bar t-1), the shock only bar t's own noise, so a
    path's linear memory has to be learned rather than being the default, while its volatility
    can cluster through sigma."""

    def __init__(self, noise: int, hidden: int, columns: int):
        super().__init__()
        self.rnn = nn.LSTM(noise, hidden, batch_first=True)
        self.drift = nn.Linear(hidden, columns)
        self.volatility = nn.Linear(hidden, columns)
        self.shock = nn.Sequential(nn.Linear(noise, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, columns))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """(batch, bars, noise) -> (batch, bars, columns), standardised."""
        sequence, _ = self.rnn(noise)
        before = torch.cat([torch.zeros_like(sequence[:, :1]), sequence[:, :-1]], dim=1)
        sigma = nn.functional.softplus(self.volatility(before))
        return self.drift(before) + sigma * self.shock(noise)


class WindowCritic(nn.Module):
    def __init__(self, columns: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(2 * columns, hidden, kernel_size=5, padding=2), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, kernel_size=5, padding=4, dilation=2), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden, hidden, kernel_size=5, padding=8, dilation=4), nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """(batch, bars, columns) -> (batch,) logits: real vs made."""
        x = torch.cat([windows, windows * windows], dim=2).transpose(1, 2)
        features = self.body(x)
        pooled = torch.cat([features.mean(dim=2), features.std(dim=2)], dim=1)
        return self.head(pooled).squeeze(1)

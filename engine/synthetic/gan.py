"""Train the path GAN on a series' bars, keep it as bytes, and make paths with it.

`train_gan(bars, settings)` brings each bar's BAR_COLUMNS (engine.synthetic.bars) to a standard
scale and trains the generator against the critic on random windows of `settings.window` bars
for `settings.steps` steps. The heavy-tailed columns (`settings.heavy_tails`) are first made
Gaussian, as Quant GANs do (Wiese et al. 2020): an inverse Lambert W x Gaussian transform whose
tail parameter delta is fitted by Goerg's IGMM (2015), so the networks learn the dependence of a
series and the transform supplies its tails, which a GAN fed Gaussian noise does not learn on
its own (the kurtosis of its paths came out at a quarter to a half of the series'). Generated
values go back through x = u * exp(delta * u^2 / 2).

Beside the critic, the generator is held to the series' autocorrelation of u and |u| at lags
1-20 and to its quantiles of u (`settings.memory_weight`, `settings.marginal_weight`; see
_Matching): without them the clustering fell short on every seed tried (a mean autocorrelation
of |r| of 0.00 to 0.07 against the series' 0.14), with the Lambert W tails or without.

Everything random comes from `settings.seed`: the same bars and settings give the same weights,
and `Generator.paths(n, length, seed)` the same paths. The artifact is the generator's state_dict
(torch.save, loaded with weights_only=True, so the bytes cannot run code) beside a JSON spec: the
settings, the columns, their location, scale and tail parameter, and the fingerprint of the bars
it learned from.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from engine.synthetic.bars import BAR_COLUMNS, bar_rows
from engine.synthetic.stylised import LAGS

if TYPE_CHECKING:  # for annotations only: torch is imported inside the functions that run it
    import torch

SPEC_FORMAT = "huracan-gan/2"
# Generated values beyond this many standard deviations (in the networks' Gaussian scale) are
# clipped: an LSTM run far past the windows it was trained on can drift, and one runaway bar
# would wreck every figure of a path.
CLIP_SIGMAS = 10.0
# The IGMM stops when location and scale move less than this fraction of the scale.
IGMM_TOLERANCE = 1e-7
IGMM_ROUNDS = 100
# The largest tail parameter tried (IGMM's first rounds, on the raw standard deviation, can
# want more than the 0.2-0.4 it settles on): a column that is mostly one value (the opening gap of a
# market that never closes) keeps excess kurtosis whatever delta is; it is left without a tail.
MAX_TAIL = 8.0


@dataclass(frozen=True)
class GanSettings:
    window: int = 64
    noise: int = 8
    hidden: int = 32
    # 300 steps failed all four stylised facts on the bundled series; 2,000 (under a minute on
    # one CPU core) pass all four on seeds 0-2 with the tails and matching below (issue 16's
    # closing note and benchmarks/bench_gan_facts.py have the figures).
    steps: int = 2000
    batch: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    # the columns given Lambert W tails; the wicks are one-sided, which a symmetric tail
    # parameter does not describe, and volume is close to Gaussian already
    heavy_tails: tuple[str, ...] = ("ret", "gap")
    # the weights of the matching terms beside the critic's loss (_Matching): 1,000 and 10 pass
    # all four facts on seeds 0-2 and 7 of seeds 0-8 (seed 4 misses the distribution, KS 0.12;
    # seed 6 the tails, kurtosis 15.7 against at most 15.2); the memory term alone (marginal 0)
    # failed the distribution or the tails on each of 0-2
    memory_weight: float = 1000.0
    marginal_weight: float = 10.0

    def __post_init__(self) -> None:
        for name in ("window", "noise", "hidden", "steps", "batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"gan {name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"gan learning_rate must be positive, got {self.learning_rate}")
        if int(self.window) <= max(LAGS):
            raise ValueError(f"gan window must be more than {max(LAGS)} bars (the lags of the "
                             f"autocorrelation it is held to), got {self.window}")
        for name in ("memory_weight", "marginal_weight"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"gan {name} must be at least 0, got {getattr(self, name)}")
        object.__setattr__(self, "heavy_tails", tuple(self.heavy_tails))  # a JSON list comes back
        unknown = sorted(set(self.heavy_tails) - set(BAR_COLUMNS))
        if unknown:
            raise ValueError(f"gan heavy_tails names no bar column: {', '.join(unknown)} "
                             f"(the columns are {', '.join(BAR_COLUMNS)})")


@dataclass(frozen=True)
class GanSpec:
    """What a trained generator is: its settings, what its columns are and how they were scaled.

    A column's value is `mean + scale * u * exp(tail * u^2 / 2)` of the networks' standard value
    u (`tail` 0: plainly `mean + scale * u`), held within [lowest, highest] where it has a tail."""

    settings: GanSettings
    columns: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    data_fingerprint: str  # sha256 of the bar rows it learned from
    tail: tuple[float, ...]  # Lambert W delta per column, 0 where none
    lowest: tuple[float, ...]  # the series' extremes per column, own units
    highest: tuple[float, ...]
    losses: dict[str, float] = field(default_factory=dict)  # the last step's, for the record

    def to_json(self) -> dict[str, Any]:
        return {"format": SPEC_FORMAT, **asdict(self)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> GanSpec:
        if document.get("format") == "huracan-gan/1":
            raise ValueError("a GAN spec of format huracan-gan/1 is from before Lambert W tails "
                             f"(this reads {SPEC_FORMAT}); train the generator again")
        if document.get("format") != SPEC_FORMAT:
            raise ValueError(f"not a GAN spec of format {SPEC_FORMAT}: {document.get('format')!r}")
        return cls(
            settings=GanSettings(**document["settings"]), columns=tuple(document["columns"]),
            mean=tuple(document["mean"]), scale=tuple(document["scale"]),
            data_fingerprint=str(document["data_fingerprint"]), tail=tuple(document["tail"]),
            lowest=tuple(document["lowest"]), highest=tuple(document["highest"]),
            losses=dict(document.get("losses", {})),
        )

    def standardised(self, rows: np.ndarray) -> np.ndarray:
        """Rows of these columns in the networks' scale: each Gaussian where it has a tail."""
        z = (rows - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.column_stack([gaussianised(z[:, j], delta) for j, delta in enumerate(self.tail)])

    def in_units(self, standard: np.ndarray) -> np.ndarray:
        """The inverse of `standardised`, for generated values (..., columns)."""
        standard = np.clip(standard, -CLIP_SIGMAS, CLIP_SIGMAS)
        made = heavy_tailed(standard, np.asarray(self.tail)) * np.asarray(self.scale) + np.asarray(self.mean)
        # A Lambert W tail with delta 1/4 or more has no fourth moment (GOOG's returns fit 0.22):
        # one draw past the series' own extremes can set a path's kurtosis on its own, so none
        # goes past them.
        tailed = np.asarray(self.tail) > 0
        return np.where(tailed, np.clip(made, self.lowest, self.highest), made)


def gaussianised(z: np.ndarray, delta: float) -> np.ndarray:
    """The inverse Lambert W transform: the u with u * exp(delta * u^2 / 2) = z (delta >= 0)."""
    if delta == 0:
        return np.asarray(z, dtype=float)
    from scipy.special import lambertw

    return np.sign(z) * np.sqrt(np.real(lambertw(delta * np.square(z))) / delta)


def heavy_tailed(u: np.ndarray, delta: np.ndarray | float) -> np.ndarray:
    """Lambert W x Gaussian's forward transform: Gaussian u given the tail delta."""
    return u * np.exp(np.asarray(delta) * np.square(u) / 2)


def lambert_tail(values: np.ndarray) -> tuple[float, float, float]:
    """(location, scale, delta) of a Lambert W x Gaussian fitted by IGMM (Goerg 2015): delta
    makes the back-transformed values' excess kurtosis 0, location and scale are theirs, and
    the two are refitted in turn until they settle. A light-tailed column gets delta 0, and so
    does one that no delta up to MAX_TAIL makes Gaussian (its mean and standard deviation)."""
    values = np.asarray(values, dtype=float)
    location, scale = float(np.median(values)), float(values.std())
    if scale == 0:
        return float(values.mean()), 1.0, 0.0
    delta = 0.0
    for _ in range(IGMM_ROUNDS):
        z = (values - location) / scale
        delta = _gaussian_delta(z)
        if delta is None:
            return float(values.mean()), float(values.std()), 0.0
        back = location + scale * gaussianised(z, delta)
        moved = max(abs(back.mean() - location), abs(back.std() - scale))
        location, scale = float(back.mean()), float(back.std())
        if moved < IGMM_TOLERANCE * scale:
            break
    return location, scale, delta


def _gaussian_delta(z: np.ndarray) -> float | None:
    """The delta in [0, MAX_TAIL] that leaves gaussianised(z, delta) with no excess kurtosis
    (None where even MAX_TAIL leaves some)."""
    from scipy import optimize, stats

    if stats.kurtosis(z) <= 0:
        return 0.0
    # the kurtosis need not fall all the way: a large delta squeezes a column towards its centre
    # and the kurtosis can rise again, so the bracket grows from below until it holds a root
    high = 0.5
    while stats.kurtosis(gaussianised(z, high)) > 0:
        high *= 2
        if high > MAX_TAIL:
            return None
    return float(optimize.brentq(lambda delta: stats.kurtosis(gaussianised(z, delta)), 0.0, high,
                                 xtol=1e-12))


@dataclass(frozen=True)
class Generator:
    spec: GanSpec
    weights: bytes  # torch.save of the generator's state_dict

    def paths(self, count: int, length: int, seed: int) -> np.ndarray:
        """(count, length, len(columns)) rows of BAR_COLUMNS, in their own units."""
        import torch

        if count < 1 or length < 1:
            raise ValueError(f"need at least one path of at least one bar, got {count} x {length}")
        network = _generator_network(self.spec)
        network.load_state_dict(torch.load(io.BytesIO(self.weights), map_location="cpu", weights_only=True))
        network.eval()
        random = torch.Generator().manual_seed(int(seed))
        noise = torch.randn(count, length, self.spec.settings.noise, generator=random)
        with torch.no_grad():
            made = network(noise).numpy().astype(float)
        return self.spec.in_units(made)

    def spec_bytes(self) -> bytes:
        return json.dumps(self.spec.to_json(), sort_keys=True).encode()


def load_generator(spec: dict[str, Any], weights: bytes) -> Generator:
    """A stored generator: its JSON spec and its state_dict bytes (loaded with weights_only=True
    when paths are made; a mismatching state_dict fails there with torch's own message)."""
    return Generator(GanSpec.from_json(spec), bytes(weights))


def rows_fingerprint(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.float64).tobytes()).hexdigest()


def fitted_spec(rows: np.ndarray, settings: GanSettings) -> GanSpec:
    """The columns' scaling for `rows`: a Lambert W fit for the heavy-tailed ones, mean and
    standard deviation for the rest."""
    fits = []
    for j, name in enumerate(BAR_COLUMNS):
        column = rows[:, j]
        if name in settings.heavy_tails:
            fits.append(lambert_tail(column))
        else:
            scale = float(column.std())
            fits.append((float(column.mean()), scale if scale > 0 else 1.0, 0.0))
    mean, scale, tail = (tuple(float(fit[k]) for fit in fits) for k in range(3))
    return GanSpec(settings, BAR_COLUMNS, mean, scale, rows_fingerprint(rows), tail,
                   tuple(map(float, rows.min(axis=0))), tuple(map(float, rows.max(axis=0))))


def train_gan(bars: pl.DataFrame, settings: GanSettings) -> Generator:
    """A generator trained on `bars` (one series, canonical columns, ts order); see the module.
    ValueError when the series is shorter than one window of bar rows."""
    import torch

    rows = bar_rows(bars)
    if rows.shape[0] < settings.window + 1:
        raise ValueError(f"a GAN window of {settings.window} bars needs at least {settings.window + 1} "
                         f"bar rows; the series gives {rows.shape[0]}")
    spec = fitted_spec(rows, settings)
    standard = torch.as_tensor(spec.standardised(rows), dtype=torch.float32)
    torch.manual_seed(settings.seed)
    random = torch.Generator().manual_seed(settings.seed)
    generator = _generator_network(spec)
    from engine.synthetic.networks import WindowCritic

    critic = WindowCritic(len(BAR_COLUMNS), settings.hidden)
    betas = (0.5, 0.9)
    g_optimiser = torch.optim.Adam(generator.parameters(), lr=settings.learning_rate, betas=betas)
    c_optimiser = torch.optim.Adam(critic.parameters(), lr=settings.learning_rate, betas=betas)
    loss = torch.nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(settings.batch), torch.zeros(settings.batch)
    offsets = torch.arange(settings.window)
    matching = _Matching.of(standard, settings)
    last = {"critic": float("nan"), "generator": float("nan")}
    for _ in range(settings.steps):
        starts = torch.randint(0, standard.shape[0] - settings.window + 1, (settings.batch,),
                               generator=random)
        real = standard[starts[:, None] + offsets]
        noise = torch.randn(settings.batch, settings.window, settings.noise, generator=random)
        made = generator(noise)
        c_optimiser.zero_grad()
        c_loss = loss(critic(real), ones) + loss(critic(made.detach()), zeros)
        c_loss.backward()
        c_optimiser.step()
        g_optimiser.zero_grad()
        g_loss = loss(critic(made), ones)
        memory, marginal = matching.losses(made)
        (g_loss + settings.memory_weight * memory + settings.marginal_weight * marginal).backward()
        g_optimiser.step()
        last = {"critic": float(c_loss.detach()), "generator": float(g_loss.detach()),
                "memory": float(memory.detach()), "marginal": float(marginal.detach())}
    buffer = io.BytesIO()
    torch.save(generator.state_dict(), buffer)
    return Generator(replace(spec, losses=last), buffer.getvalue())


@dataclass(frozen=True)
class _Matching:
    """What the generator's windows are held to beside the critic (feature matching, Salimans
    et al. 2016, on stated features): the series' autocorrelation of u and |u| at lags 1-20, and
    its quantiles of u per column. The critic alone left volatility clustering short on every
    seed tried (a mean autocorrelation of |r| of 0.00 to 0.07 against the series' 0.14), and
    matching |u| alone lets a generator buy clustering with a drift that persists, which the
    autocorrelation of u itself rules out."""

    autocorrelation: torch.Tensor  # (2 * lags, columns): of |u|, then of u
    quantiles: torch.Tensor  # (batch * window, columns): at the midpoints of a batch's ranks

    @classmethod
    def of(cls, standard: torch.Tensor, settings: GanSettings) -> _Matching:
        import torch

        values = settings.batch * settings.window
        probabilities = (torch.arange(values, dtype=torch.float64) + 0.5) / values
        quantiles = torch.quantile(standard.double(), probabilities, dim=0).float()
        return cls(_memory(standard[None]), quantiles)

    def losses(self, made: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(memory, marginal): mean squared gaps of a (batch, window, columns) batch's features."""
        memory = _memory(made) - self.autocorrelation
        marginal = made.reshape(-1, made.shape[2]).sort(dim=0).values - self.quantiles
        return (memory * memory).mean(), (marginal * marginal).mean()


def _memory(windows: torch.Tensor) -> torch.Tensor:
    """(2 * lags, columns): the autocorrelation of |x| and of x at lags 1-20."""
    import torch

    return torch.cat([_autocorrelation(windows.abs()), _autocorrelation(windows)])


def _autocorrelation(windows: torch.Tensor) -> torch.Tensor:
    """(lags, columns): the autocorrelation of (batch, bars, columns) windows at lags 1-20, pooled
    as engine.synthetic.stylised pools paths: one mean and variance, pairs within a window. A
    constant column (a market without opening gaps) has autocorrelation 0, not 0 / 0."""
    import torch

    centred = windows - windows.mean(dim=(0, 1))
    variance = (centred * centred).mean(dim=(0, 1)).clamp_min(1e-12)
    return torch.stack([(centred[:, :-lag] * centred[:, lag:]).mean(dim=(0, 1)) for lag in LAGS]) / variance


def _generator_network(spec: GanSpec):
    from engine.synthetic.networks import PathGenerator

    return PathGenerator(spec.settings.noise, spec.settings.hidden, len(spec.columns))

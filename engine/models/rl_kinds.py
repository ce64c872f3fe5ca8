"""The reinforcement-learning kinds: `dqn`, a trading agent, and `ppo_sizing`, a position-sizing
agent (stable-baselines3's DQN and PPO over engine.rl's gymnasium environments).

They are regressors of the zoo like any other, so walk-forward, the trading metrics after costs,
storage, serving, the live loop, A/B, promotion and rollback treat them as every kind:

- fit(X, y): X is a version's (preprocessed) feature rows in time order, y the regression target
  `fwd_ret_1` in bps, which for these kinds is the reward's next-bar return (y / 1e4). The spec
  check (engine.pipeline.check_spec, through `target_kinds`) refuses any other target.
- predict(X): the agent's target position per row from a deterministic rollout over X in order,
  starting flat: -1 / 0 / +1 for dqn (0 / +1 with long_only), a size in [-cap, +cap] for
  ppo_sizing. engine.metrics.strategy_returns then scores it as holding that position: each
  kind's `position_rule` says how ("sign" for dqn, whose -1 / 0 / +1 is the same under both;
  "size" for ppo_sizing, whose prediction is the position size itself, costs on |delta size|).
- ppo_sizing reads a member version's forecast as the FIRST column of X (the signal); the other
  columns are its features. engine.training feeds it (engine.rl.signal: the member's stored
  out-of-sample forecasts) and engine.serving serves it (the member loaded beside it).

The agent's own state in an observation (position, unrealised return, drawdown, realised
volatility) moves with the return each bar realised. predict has only X, so fit finds the column
of X that is the last bar's return (ret_1 in the core and full recipes: X[t + 1, j] is an affine
function of y[t] on consecutive rows) and maps it back to a return (`return_column`: "auto", a
column index, or None for none, when the return-driven state stays 0); fit and predict both read
the returns through that map, so the agent learns on the state it will see.

Features are standardised with the training rows' mean and standard deviation, which travel in
the artifact: a zip of `spec.json` (parameters, layers, scaling, the return map, the training
history) and `actor.pt` (torch.save of the actor's state_dict, loaded with weights_only=True).
stable-baselines3 is needed to train, not to load or predict. Heavy libraries are imported
inside methods only.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from engine.models.archives import FIXED_DATE_TIME, canonical_zip
from engine.models.base import Determinism, FitProgress, ModelCard, ModelTags
from engine.models.neural.device import check_device_name

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = "huracan-rl/1"
SPEC_ENTRY, WEIGHTS_ENTRY = "spec.json", "actor.pt"
_SERIALIZATION_ID = ".data/serialization_id"  # the record torch.save fills with a random id
ACTION_NAMES = ("sell", "hold", "buy")
# A column of X is taken for the last bar's return when it correlates this well with y a bar later.
RETURN_COLUMN_CORRELATION = 0.99
N_REPORTS = 20  # progress records per fit

_COMMON_DEFAULTS: dict[str, Any] = {
    "window": 10,
    "cost_bps": 1.0,
    "total_timesteps": 5000,
    "learning_rate": 1e-3,
    "gamma": 0.9,
    "net_arch": [32, 32],
    "episode_length": None,
    "reward_scale": 100.0,
    "return_column": "auto",
    "seed": 42,
    "device": "auto",
}

_DATASET_SHAPE = (
    "(num_episodes, episode_length, state_dim): an episode walks the training rows in time order "
    "(all of them, or `episode_length` bars from a seeded start), one step per bar; state_dim = "
    "window x n_features of standardised feature rows plus the agent's own state"
)


@dataclass(frozen=True)
class ReturnMap:
    """The last bar's return read off X: return_t = intercept + slope * X[t, column]."""

    column: int
    intercept: float
    slope: float

    def returns(self, X: np.ndarray) -> np.ndarray:
        realised = self.intercept + self.slope * X[:, self.column]
        realised[0] = 0.0  # the first row's bar return is unknown to a rollout starting there
        return realised


class RLAgentModel:
    """Base of the agent kinds. Subclasses set kind, card, the extra defaults and the hooks
    `_make_env`, `_make_agent`, `_actor_spec`, `_actor_weights`, `_act`."""

    kind: ClassVar[str]
    task: ClassVar[str] = "regression"
    artifact_format: ClassVar[str] = ARTIFACT_FORMAT
    card: ClassVar[ModelCard]
    # Reports progress records as epochs (the Jobs view's loss chart); an observation reads the
    # window - 1 rows before its bar. No warm start, no validation data: an agent learns from
    # its rewards on the training rows alone.
    tags: ClassVar[ModelTags] = ModelTags(reports_epochs=True, reads_context=True)
    # The targets it learns from (engine.pipeline.check_spec refuses others): its reward needs
    # the next bar's return.
    target_kinds: ClassVar[tuple[str, ...]] = ("fwd_ret",)
    target_horizons: ClassVar[tuple[int, ...]] = (1,)
    # How a prediction becomes a position (engine.metrics.POSITION_RULES).
    position_rule: ClassVar[str] = "sign"
    extra_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any):
        defaults = self.default_params()
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) for {self.kind!r} model: {', '.join(unknown)}; "
                f"known: {', '.join(defaults)}"
            )
        for name, default in defaults.items():
            value = params.get(name, default)
            setattr(self, name, list(value) if isinstance(value, list | tuple) else value)
        self.check_params()

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {**_COMMON_DEFAULTS, **cls.extra_defaults}

    @classmethod
    def param_names(cls) -> list[str]:
        return list(cls.default_params())

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def check_params(self) -> None:
        """ValueError naming the first parameter that cannot work (also run by __init__)."""
        _check_common(self.kind, self.get_params())
        self._check_own_params()

    def _check_own_params(self) -> None:
        pass

    def check_training_rows(self, n_rows: int, where: str = "") -> None:
        """ValueError (one line) when `n_rows` training rows (the smallest fold's) cannot hold one
        observation window: run before any fit, so a walk-forward fails at once, not in fold k."""
        if int(self.window) > n_rows:
            place = f" {where}" if where else ""
            raise ValueError(
                f"{self.kind} parameter window {self.window} is longer than the {n_rows} training rows"
                f"{place}; use a window of at most {n_rows} bars"
            )

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when torch, stable-baselines3 and gymnasium are installed (looked up, not imported)."""
        for module, package in (("torch", "torch"), ("stable_baselines3", "stable-baselines3"),
                                ("gymnasium", "gymnasium")):
            if importlib.util.find_spec(module) is None:
                return f"{package} is not installed (pip install {package})"
        return None

    def feature_importances(self) -> np.ndarray | None:
        """None: a policy has no built-in importance (permutation importance works on any model)."""
        return None

    @property
    def context_rows(self) -> int:
        """The rows before a bar that its observation's window reads."""
        return int(self.window) - 1

    def determinism(self) -> Determinism:
        self._check_fitted()
        return Determinism.BITWISE if self.trained_on_ == "cpu" else Determinism.NOT_ON_GPU

    # ---- fitting -------------------------------------------------------------------------

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        progress: FitProgress | None = None,
    ) -> RLAgentModel:
        """Learn on time-ordered rows X (n, n_features) with rewards from y (the next bar's
        return in bps). X_val / y_val are not used (no early stopping: the tags say so)."""
        if sample_weight is not None:
            raise ValueError(f"{self.kind} takes no sample weights: its reward is the strategy return")
        X = _checked_matrix(X, "X", self._min_columns())
        y = np.asarray(y, dtype=float)
        if y.shape != (X.shape[0],) or not np.isfinite(y).all():
            raise ValueError(f"y must be finite, one value per row of X ({X.shape[0]}), got shape {y.shape}")
        from engine.rl.checks import checked_window

        checked_window(self.window, X.shape[0])
        next_returns = y / 1e4
        self.n_features_ = int(X.shape[1])
        self.feature_mean_ = X.mean(axis=0)
        self.feature_std_ = _safe_std(X)
        self.return_map_ = self._find_return_map(X, next_returns)
        self._check_timesteps()

        from engine.models.neural.device import resolve_device
        from engine.models.neural.loop import seeded
        from engine.rl.callbacks import progress_callback

        device = resolve_device(self.device)
        history: list[dict[str, Any]] = []
        with seeded(int(self.seed), device), _one_cpu_thread(device):
            env = self._make_env(self._standardise(X), next_returns, self._bar_returns(X))
            agent = self._make_agent(env, device)
            agent.learn(
                total_timesteps=int(self.total_timesteps),
                callback=progress_callback(progress, int(self.total_timesteps), N_REPORTS, history),
                log_interval=None,  # keeps the logger's latest loss readable by the callback
            )
            weights = self._actor_weights(agent.policy)
        self.actor_spec_ = self._actor_spec(env.observation_space.shape[0])
        self.actor_ = self._built_actor(self.actor_spec_, weights)
        self.trained_on_ = device.type
        self.history_ = history
        return self

    def _check_timesteps(self) -> None:
        pass

    def _min_columns(self) -> int:
        return 1

    def _find_return_map(self, X: np.ndarray, next_returns: np.ndarray) -> ReturnMap | None:
        """The column of X that is the last bar's return, mapped back to a return; None when the
        parameter says none or no column matches."""
        choice = self.return_column
        if choice is None:
            return None
        later, returns = X[1:], next_returns[:-1]
        if later.shape[0] < 3 or returns.std() == 0:
            return None
        if choice == "auto":
            candidates = range(X.shape[1])
        else:
            if choice >= X.shape[1]:
                raise ValueError(
                    f"{self.kind} parameter return_column {choice} is beyond X's {X.shape[1]} columns"
                )
            candidates = range(choice, choice + 1)
        best, best_correlation = None, -1.0
        for column in candidates:
            values = later[:, column]
            if values.std() == 0:
                continue
            correlation = float(np.corrcoef(values, returns)[0, 1])
            if correlation > best_correlation:
                best, best_correlation = column, correlation
        if best is None or (choice == "auto" and best_correlation < RETURN_COLUMN_CORRELATION):
            log.info("%s: no column of X is the last bar's return; its return state stays 0", self.kind)
            return None
        slope, intercept = np.polyfit(later[:, best], returns, 1)
        return ReturnMap(column=int(best), intercept=float(intercept), slope=float(slope))

    def _bar_returns(self, X: np.ndarray) -> np.ndarray:
        if self.return_map_ is None:
            return np.zeros(X.shape[0])
        return self.return_map_.returns(X)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.feature_mean_) / self.feature_std_

    # ---- prediction ----------------------------------------------------------------------

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The target position per row of X (time-ordered), from a deterministic rollout."""
        positions, _outputs = self._rollout(X)
        return positions

    def predict_details(self, X: np.ndarray, last: int = 1) -> list[dict[str, Any]]:
        """What the agent chose on the last `last` rows of a rollout over X, one dict per row:
        dqn {"action", "position", "q_values": {sell, hold, buy}}; ppo_sizing {"size", "action"}."""
        positions, outputs = self._rollout(X)
        start = max(0, positions.size - int(last))
        return [self._detail(positions[row], outputs[row]) for row in range(start, positions.size)]

    def _rollout(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, the actor's raw outputs) per row, stepping the environment with the
        actor's deterministic choice, so each observation holds the agent's own earlier moves."""
        self._check_fitted()
        X = _checked_matrix(X, "X", self._min_columns(), allow_empty=True)
        if X.shape[1] != self.n_features_:
            raise ValueError(f"X has {X.shape[1]} columns but the model was trained on {self.n_features_}")
        n_rows = X.shape[0]
        if n_rows == 0:
            return np.empty(0), np.empty((0, self.actor_spec_.n_outputs))
        import torch

        env = self._make_env(self._standardise(X), np.zeros(n_rows), self._bar_returns(X), rollout=True)
        obs, _info = env.reset(seed=0)
        positions = np.empty(n_rows)
        outputs = np.empty((n_rows, self.actor_spec_.n_outputs))
        with torch.no_grad(), _one_cpu_thread(torch.device("cpu")):
            for row in range(n_rows):
                output = self.actor_(torch.from_numpy(obs).unsqueeze(0))[0].numpy().astype(np.float64)
                action, positions[row] = self._act(env, output)
                outputs[row] = output
                obs, _reward, _done, _truncated, _info = env.step(action)
        return positions, outputs

    def _check_fitted(self) -> None:
        if not hasattr(self, "actor_"):
            raise ValueError(f"this {self.kind!r} model is not fitted yet; call fit first")

    # ---- artifact ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A zip of spec.json and actor.pt (the actor's state_dict), the same bytes every time."""
        self._check_fitted()
        import torch

        buffer = io.BytesIO()
        torch.save({name: value.detach().cpu() for name, value in self.actor_.state_dict().items()}, buffer)
        weights = canonical_zip(buffer.getvalue(), replace={_SERIALIZATION_ID: b"0" * 40})
        spec = {
            "format": ARTIFACT_FORMAT,
            "kind": self.kind,
            "params": self.get_params(),
            "n_features": self.n_features_,
            "actor": self.actor_spec_.to_dict(),
            "scaling": {
                "mean": [float(value) for value in self.feature_mean_],
                "std": [float(value) for value in self.feature_std_],
            },
            "return_map": None if self.return_map_ is None else {
                "column": self.return_map_.column,
                "intercept": self.return_map_.intercept,
                "slope": self.return_map_.slope,
            },
            "trained_on": self.trained_on_,
            "history": self.history_,
        }
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
            for name, contents in ((SPEC_ENTRY, json.dumps(spec, sort_keys=True, allow_nan=False).encode()),
                                   (WEIGHTS_ENTRY, weights)):
                info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                target.writestr(info, contents)
        return archive.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RLAgentModel:
        """Rebuild a model from `to_bytes` output: the JSON spec is read as JSON, the weights
        with torch.load(weights_only=True); it predicts on the CPU."""
        import pickle

        import torch

        from engine.rl.policies import ActorSpec

        def refuse(reason: str) -> ValueError:
            return ValueError(f"refusing {cls.kind!r} artifact: {reason}")

        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = sorted(archive.namelist())
            if names != sorted((SPEC_ENTRY, WEIGHTS_ENTRY)):
                raise refuse(f"it holds {names}, not {SPEC_ENTRY} and {WEIGHTS_ENTRY}")
            spec = json.loads(archive.read(SPEC_ENTRY))
            weights_bytes = archive.read(WEIGHTS_ENTRY)
        except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, EOFError):
            raise refuse(f"not a {ARTIFACT_FORMAT} archive") from None
        if not isinstance(spec, dict) or spec.get("format") != ARTIFACT_FORMAT:
            raise refuse(f"its format is not {ARTIFACT_FORMAT}")
        if spec.get("kind") != cls.kind:
            raise ValueError(f"the artifact holds a {spec.get('kind')!r} model, not {cls.kind!r}")
        try:
            weights = torch.load(io.BytesIO(weights_bytes), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError):
            raise refuse("its actor.pt is not a torch weights file holding tensors only") from None
        try:
            model = cls(**spec["params"])
            model.n_features_ = int(spec["n_features"])
            model.feature_mean_ = np.asarray(spec["scaling"]["mean"], dtype=float)
            model.feature_std_ = np.asarray(spec["scaling"]["std"], dtype=float)
            found = spec["return_map"]
            model.return_map_ = None if found is None else ReturnMap(
                column=int(found["column"]), intercept=float(found["intercept"]), slope=float(found["slope"])
            )
            model.actor_spec_ = ActorSpec.from_dict(spec["actor"])
            model.actor_ = cls._built_actor(model.actor_spec_, weights)
            model.trained_on_ = str(spec["trained_on"])
            model.history_ = list(spec["history"])
        except (KeyError, TypeError, RuntimeError) as error:
            reason = f"missing {error}" if isinstance(error, KeyError) else str(error).splitlines()[0]
            raise refuse(reason) from None
        return model

    @staticmethod
    def _built_actor(spec, weights: dict):
        from engine.rl.policies import build_actor

        actor = build_actor(spec)
        actor.load_state_dict(weights)  # strict: every weight, right shapes
        return actor.eval()

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        versions = {name: importlib.metadata.version(name)
                    for name in ("torch", "stable-baselines3", "gymnasium")}
        return {**versions, "numpy": np.__version__}

    def info(self) -> dict[str, Any]:
        """The card, the parameters and, once fitted, how training went."""
        info: dict[str, Any] = {"card": self.card.to_dict(), "params": self.get_params()}
        if hasattr(self, "actor_"):
            info.update(trained_on=self.trained_on_, n_features=self.n_features_,
                        return_column=None if self.return_map_ is None else self.return_map_.column,
                        history=[dict(record) for record in self.history_])
        return info

    # ---- hooks ---------------------------------------------------------------------------

    def _make_env(self, features, next_returns, bar_returns, *, rollout: bool = False):
        raise NotImplementedError

    def _make_agent(self, env, device):
        raise NotImplementedError

    def _actor_spec(self, obs_dim: int):
        raise NotImplementedError

    def _actor_weights(self, policy) -> dict:
        raise NotImplementedError

    def _act(self, env, output: np.ndarray) -> tuple[Any, float]:
        raise NotImplementedError

    def _detail(self, position: float, output: np.ndarray) -> dict[str, Any]:
        raise NotImplementedError


class DQNAgentModel(RLAgentModel):
    """Deep Q-learning (stable-baselines3 DQN: replay buffer, target network, epsilon-greedy
    exploration decaying over `exploration_fraction` of the steps) over engine.rl.TradingEnv."""

    kind = "dqn"
    card = ModelCard(
        kind="dqn",
        family="reinforcement",
        task="regression",
        library="stable-baselines3",
        purpose=(
            "trading agent: learns when to be long, flat or short from rewards after costs "
            "(Q-learning with experience replay and a target network)"
        ),
        ideal_input=_DATASET_SHAPE + " (position, unrealised return, bars in position)",
        feature_requirements=(
            "numeric, no NaN, time-ordered consecutive bars, standardised inside with training-row "
            "statistics; the last bar's return (ret_1) among them drives the agent's unrealised "
            "return; target fwd_ret with horizon 1 (the reward's next-bar return)"
        ),
        output_schema=(
            "target position per row in {-1, 0, 1} (sell / hold / buy; {0, 1} with long_only); "
            "predict_details: action and the Q-value of each action"
        ),
        regimes=("trending", "mean-reverting with persistent signals"),
    )
    extra_defaults: ClassVar[dict[str, Any]] = {
        "buffer_size": 10_000,
        "learning_starts": 500,
        "batch_size": 64,
        "train_freq": 4,
        "target_update_interval": 250,
        "exploration_fraction": 0.3,
        "exploration_final_eps": 0.05,
        "long_only": False,
        "risk_penalty": "none",
        "risk_weight": 0.0,
    }

    def _check_own_params(self) -> None:
        params = self.get_params()
        for name in ("buffer_size", "batch_size", "train_freq", "target_update_interval"):
            _whole(self.kind, name, params[name], 1)
        _whole(self.kind, "learning_starts", params["learning_starts"], 0)
        for name in ("exploration_fraction", "exploration_final_eps"):
            _number(self.kind, name, params[name], 0.0, 1.0, high_closed=True)
        _number(self.kind, "risk_weight", params["risk_weight"], 0.0, None)
        if not isinstance(self.long_only, bool):
            raise ValueError(f"{self.kind} parameter long_only must be true or false, got {self.long_only!r}")
        from engine.rl.checks import RISK_PENALTIES

        if self.risk_penalty not in RISK_PENALTIES:
            raise ValueError(
                f"{self.kind} parameter risk_penalty must be one of {', '.join(RISK_PENALTIES)}, "
                f"got {self.risk_penalty!r}"
            )

    def _check_timesteps(self) -> None:
        if self.learning_starts >= self.total_timesteps:
            raise ValueError(
                f"dqn parameter learning_starts ({self.learning_starts}) must be below total_timesteps "
                f"({self.total_timesteps}), or the agent never learns"
            )

    def _make_env(self, features, next_returns, bar_returns, *, rollout: bool = False):
        from engine.rl.trading_env import TradingEnv

        return TradingEnv(
            features, next_returns, window=int(self.window), cost_bps=float(self.cost_bps),
            long_only=self.long_only, risk_penalty=self.risk_penalty, risk_weight=float(self.risk_weight),
            bar_returns=bar_returns, episode_length=None if rollout else self.episode_length,
            reward_scale=float(self.reward_scale),
        )

    def _make_agent(self, env, device):
        from stable_baselines3 import DQN

        return DQN(
            "MlpPolicy", env, learning_rate=float(self.learning_rate), buffer_size=int(self.buffer_size),
            learning_starts=int(self.learning_starts), batch_size=int(self.batch_size),
            gamma=float(self.gamma),
            train_freq=int(self.train_freq), target_update_interval=int(self.target_update_interval),
            exploration_fraction=float(self.exploration_fraction),
            exploration_final_eps=float(self.exploration_final_eps),
            policy_kwargs={"net_arch": [int(width) for width in self.net_arch]},
            seed=int(self.seed), device=device, verbose=0,
        )

    def _actor_spec(self, obs_dim: int):
        from engine.rl.policies import ActorSpec

        return ActorSpec(obs_dim=obs_dim, hidden=tuple(int(w) for w in self.net_arch), n_outputs=3,
                         activation="relu")

    def _actor_weights(self, policy) -> dict:
        from engine.rl.policies import dqn_actor_weights

        return dqn_actor_weights(policy)

    def _act(self, env, output: np.ndarray) -> tuple[Any, float]:
        action = int(np.argmax(output))
        return action, env.positions[action]

    def _detail(self, position: float, output: np.ndarray) -> dict[str, Any]:
        return {
            "action": ACTION_NAMES[int(np.argmax(output))],
            "position": float(position),
            "q_values": {name: float(value) for name, value in zip(ACTION_NAMES, output, strict=True)},
        }


class PPOSizingModel(RLAgentModel):
    """Proximal policy optimisation (stable-baselines3 PPO) over engine.rl.SizingEnv: sizes a
    position on top of the champion's forecast, which is X's first column."""

    kind = "ppo_sizing"
    # X's first column is a member version's forecast: engine.training.train_model refuses the
    # kind without a signal (engine.rl.signal.SizingSignal) to put there.
    needs_signal: ClassVar[bool] = True
    position_rule: ClassVar[str] = "size"
    card = ModelCard(
        kind="ppo_sizing",
        family="reinforcement",
        task="regression",
        library="stable-baselines3",
        purpose=(
            "position sizing: scales a position within a leverage cap on top of the slot's champion "
            "forecast, from its recent volatility and the agent's drawdown"
        ),
        ideal_input=_DATASET_SHAPE + " (the champion's forecast, realised volatility, drawdown, size)",
        feature_requirements=(
            "first column: a member version's forecast per bar (the signal; the slot's champion "
            "unless params.signal_version names one), in training its stored walk-forward "
            "out-of-sample forecast, so only bars that have one are used and every fold learns on "
            "a signal that was itself out of sample; then numeric features, no NaN, time-ordered "
            "consecutive bars with the last bar's return (ret_1) among them; standardised inside; "
            "target fwd_ret with horizon 1"
        ),
        output_schema=(
            "position size per row in [-leverage_cap, +leverage_cap], scored as a size (position "
            "rule 'size'), beside a fixed-size and a volatility-targeting rule on the same bars; "
            "predict_details: the size"
        ),
        regimes=("volatility clustering", "regime shifts"),
    )
    extra_defaults: ClassVar[dict[str, Any]] = {
        "learning_rate": 3e-4,
        "n_steps": 256,
        "batch_size": 64,
        "n_epochs": 4,
        "ent_coef": 0.0,
        "leverage_cap": 1.0,
        "vol_window": 20,
    }

    def _check_own_params(self) -> None:
        params = self.get_params()
        for name in ("batch_size", "n_epochs"):
            _whole(self.kind, name, params[name], 1)
        _whole(self.kind, "n_steps", params["n_steps"], 2)
        _whole(self.kind, "vol_window", params["vol_window"], 2)
        _number(self.kind, "ent_coef", params["ent_coef"], 0.0, None)
        if self.batch_size > self.n_steps:
            raise ValueError(
                f"{self.kind} parameter batch_size ({self.batch_size}) must be at most "
                f"n_steps ({self.n_steps})"
            )
        from engine.rl.checks import check_leverage_cap

        try:
            check_leverage_cap(params["leverage_cap"])
        except ValueError as error:
            raise ValueError(f"{self.kind} parameter {error}") from None

    def _min_columns(self) -> int:
        return 1  # the signal; features may be none

    def _make_env(self, features, next_returns, bar_returns, *, rollout: bool = False):
        from engine.rl.sizing_env import SizingEnv

        return SizingEnv(
            features[:, 1:], features[:, 0], next_returns, window=int(self.window),
            leverage_cap=float(self.leverage_cap), cost_bps=float(self.cost_bps),
            vol_window=int(self.vol_window), bar_returns=bar_returns,
            episode_length=None if rollout else self.episode_length, reward_scale=float(self.reward_scale),
        )

    def _make_agent(self, env, device):
        from stable_baselines3 import PPO

        return PPO(
            "MlpPolicy", env, learning_rate=float(self.learning_rate), n_steps=int(self.n_steps),
            batch_size=int(self.batch_size), n_epochs=int(self.n_epochs), gamma=float(self.gamma),
            ent_coef=float(self.ent_coef),
            policy_kwargs={"net_arch": [int(width) for width in self.net_arch]},
            seed=int(self.seed), device=device, verbose=0,
        )

    def _actor_spec(self, obs_dim: int):
        from engine.rl.policies import ActorSpec

        return ActorSpec(obs_dim=obs_dim, hidden=tuple(int(w) for w in self.net_arch), n_outputs=1,
                         activation="tanh")

    def _actor_weights(self, policy) -> dict:
        from engine.rl.policies import ppo_actor_weights

        return ppo_actor_weights(policy, self.net_arch)

    def _act(self, env, output: np.ndarray) -> tuple[Any, float]:
        action = np.clip(output, -1.0, 1.0).astype(np.float32)
        return action, env.size_of(action)

    def _detail(self, position: float, output: np.ndarray) -> dict[str, Any]:
        return {"size": float(position), "action": float(np.clip(output[0], -1.0, 1.0))}


RL_MODEL_CLASSES: dict[str, type[RLAgentModel]] = {cls.kind: cls for cls in (DQNAgentModel, PPOSizingModel)}


@contextlib.contextmanager
def _one_cpu_thread(device) -> Iterator[None]:
    """torch on one CPU thread while an agent trains or acts: its networks are a few thousand
    weights, so intra-op threads only add synchronisation, and on a busy machine their
    spin-waiting made a DQN fit some 30 times slower (benchmarks/bench_rl.py)."""
    import torch

    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ---- checks -----------------------------------------------------------------------------


def _checked_matrix(X, name: str, min_columns: int, allow_empty: bool = False) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (rows in time order x features), got {X.ndim}-D")
    if X.shape[1] < min_columns:
        raise ValueError(f"{name} has {X.shape[1]} columns; need at least {min_columns}")
    if X.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} has no rows")
    if not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} has NaN or inf at row {row}, column {column}; agents need finite inputs")
    return X


def _safe_std(values: np.ndarray) -> np.ndarray:
    std = values.std(axis=0)
    return np.where(std > 1e-12, std, 1.0)


def _whole(kind: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{kind} parameter {name} must be a whole number >= {minimum}, got {value!r}")


def _number(kind: str, name: str, value: Any, low: float, high: float | None, *, low_open: bool = False,
            high_closed: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (high is None or (value <= high if high_closed else value < high))
    if not ok:
        bound = (f"> {low}" if low_open else f">= {low}") + (
            "" if high is None else f" and {'<=' if high_closed else '<'} {high}"
        )
        raise ValueError(f"{kind} parameter {name} must be a number {bound}, got {value!r}")


def _check_common(kind: str, params: dict[str, Any]) -> None:
    _whole(kind, "window", params["window"], 1)
    _whole(kind, "total_timesteps", params["total_timesteps"], 1)
    _whole(kind, "seed", params["seed"], 0)
    _number(kind, "cost_bps", params["cost_bps"], 0.0, None)
    _number(kind, "learning_rate", params["learning_rate"], 0.0, None, low_open=True)
    _number(kind, "gamma", params["gamma"], 0.0, 1.0, high_closed=True)
    _number(kind, "reward_scale", params["reward_scale"], 0.0, None, low_open=True)
    arch = params["net_arch"]
    if not isinstance(arch, list) or not arch or any(
        isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in arch
    ):
        raise ValueError(f"{kind} parameter net_arch must be a list of layer widths >= 1, got {arch!r}")
    if params["episode_length"] is not None:
        _whole(kind, "episode_length", params["episode_length"], 2)
    column = params["return_column"]
    if column not in (None, "auto"):
        _whole(kind, "return_column", column, 0)
    check_device_name(params["device"])

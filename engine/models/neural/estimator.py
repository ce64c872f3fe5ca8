"""NeuralModel: the shared fit / predict / artifact logic of the neural kinds (see kinds.py).

Inputs are the same 2-D, time-ordered feature matrix the tabular models take. The wrapper cuts
a window of `lookback` rows ending at each row, so the prediction for row t reads rows
t - lookback + 1 .. t and nothing later. The first lookback - 1 rows of any matrix get a
window left-padded with the training mean (zeros after standardising): predict returns one
value per input row, and a model was trained on such padded windows too. A caller that holds
earlier rows and wants full windows passes them in front and drops their predictions.

Standardisation (features, and the target for regression) uses the training rows only and
travels in the artifact. Without X_val / y_val, the last `validation_fraction` of the rows,
in time order, is held out for early stopping, and `horizon` rows before it are left out of
training so that no training target looks into the held-out period.

torch is imported inside methods only: importing this module costs nothing.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
from typing import Any, ClassVar

import numpy as np

from engine.models.archives import canonical_zip
from engine.models.base import Determinism, FitProgress, ModelCard, ModelTags
from engine.models.neural.checkpoints import StageCheckpoints
from engine.models.neural.device import amp_choice, check_device_name
from engine.models.neural.distributed import check_distributed

log = logging.getLogger(__name__)

ARTIFACT_FORMAT = "huracan-neural/1"
_SERIALIZATION_ID = ".data/serialization_id"  # the record torch.save fills with a random id
MIN_TRAINING_ROWS = 2
MAX_CNN_LEVELS = 12
# Parameters that shape the weights: a warm start needs them equal.
ARCHITECTURE_PARAMS = (
    "hidden_size", "num_layers", "heads", "d_model", "channels", "kernel_size", "levels"
)

_COMMON_DEFAULTS: dict[str, Any] = {
    "lookback": 32,
    "hidden_size": 32,
    "num_layers": 1,
    "dropout": 0.1,
    "lr": 1e-3,
    "batch_size": 128,
    "max_epochs": 50,
    "patience": 5,
    "validation_fraction": 0.2,
    "horizon": 1,
    "weight_decay": 0.0,
    "grad_clip": 1.0,
    "seed": 42,
    "device": "auto",
    "amp": False,
    # Data-parallel training (distributed.py): ranks one fit spans, and how gradients travel.
    "processes": 1,
    "backend": "gloo",
}


class NeuralModel:
    """Base of the torch sequence models. Subclasses set kind, task, architecture and card."""

    kind: ClassVar[str]
    task: ClassVar[str]  # "regression" or "classification"
    architecture: ClassVar[str]  # "lstm", "gru", "bilstm_attention", "transformer", "cnn"
    card: ClassVar[ModelCard]
    artifact_format: ClassVar[str] = "torch-state-dict"
    # fit(init_model=) continues from the weights, X_val / y_val drive early stopping, each epoch
    # is reported, and a prediction reads the lookback - 1 rows before it (context_rows).
    tags: ClassVar[ModelTags] = ModelTags(
        supports_warm_start=True, accepts_eval_set=True, reports_epochs=True, reads_context=True,
        resumes_from_checkpoint=True,
    )
    # parameter name -> default, beyond the common ones (attention heads, d_model)
    extra_params: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        *,
        lookback: int = 32,
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.1,
        lr: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 50,
        patience: int = 5,
        validation_fraction: float = 0.2,
        horizon: int = 1,
        weight_decay: float = 0.0,
        grad_clip: float | None = 1.0,
        seed: int = 42,
        device: str = "auto",
        amp: bool = False,
        processes: int = 1,
        backend: str = "gloo",
        **extra: Any,
    ):
        unknown = sorted(set(extra) - set(self.extra_params))
        if unknown:
            known = ", ".join([*_COMMON_DEFAULTS, *self.extra_params])
            raise ValueError(
                f"unknown parameter(s) for {self.kind!r} model: {', '.join(unknown)}; known: {known}"
            )
        self.lookback = lookback
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.horizon = horizon
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.seed = seed
        self.device = device
        self.amp = amp
        self.processes = processes
        self.backend = backend
        for name, default in self.extra_params.items():
            setattr(self, name, extra.get(name, default))
        self.check_params()

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {**_COMMON_DEFAULTS, **cls.extra_params}

    @classmethod
    def param_names(cls) -> list[str]:
        """The common parameters and the kind's extra ones (__init__ takes the extras as **extra,
        so its signature does not list them)."""
        return list(cls.default_params())

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def check_params(self) -> None:
        """ValueError naming the first parameter that cannot work (also run by __init__)."""
        _check_params(self.kind, self.get_params())

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when torch is installed (looked up without importing it), else what to do."""
        if importlib.util.find_spec("torch") is None:
            return "torch is not installed (pip install torch)"
        return None

    def feature_importances(self) -> np.ndarray | None:
        """None: a network has no built-in importance (permutation importance works on any model)."""
        return None

    @property
    def context_rows(self) -> int:
        """Rows before the first one to predict that give it a full window: a caller holding
        them predicts X[start - context_rows : end] and keeps the last end - start values."""
        return self.lookback - 1

    def determinism(self) -> Determinism:
        """Bitwise on the CPU (seeded, deterministic algorithms); on a GPU torch runs its
        deterministic mode warn-only, and CUDA kernels do not promise the same bits."""
        if not hasattr(self, "network_"):
            raise ValueError(f"this {self.kind!r} model is not fitted yet; call fit first")
        return Determinism.BITWISE if self.device_.type == "cpu" else Determinism.NOT_ON_GPU

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
        init_model: NeuralModel | None = None,
        checkpoints: StageCheckpoints | None = None,
    ) -> NeuralModel:
        """Train on time-ordered rows X (n, n_features) and targets y (n,).

        `init_model`: a fitted model of the same kind and architecture to continue from (warm
        start): its weights, standardisation and classes are the starting point.
        `progress(fraction, message, {"epoch", "loss", "val_loss", ...})` runs after each epoch.
        `checkpoints`: the training state is saved there after each epoch, and a checkpoint of
        the same inputs found there is resumed from (loop.train_network; `resumed_` says where).
        """
        X = _checked_matrix(X, "X")
        n_rows = X.shape[0]
        y = self._checked_target(y, n_rows, "y")
        weight = _checked_weight(sample_weight, n_rows)
        if (X_val is None) != (y_val is None):
            raise ValueError("pass X_val and y_val together, or neither")
        if init_model is not None:
            self._check_warm_start(init_model, X.shape[1])

        if X_val is not None:
            X_val = _checked_matrix(X_val, "X_val")
            if X_val.shape[1] != X.shape[1]:
                raise ValueError(f"X_val has {X_val.shape[1]} columns but X has {X.shape[1]}")
            y_val = self._checked_target(y_val, X_val.shape[0], "y_val")
            train_end, holdout_start = n_rows, None
        else:
            train_end, holdout_start = self._holdout_split(n_rows)

        self._set_scaling(
            init_model, X[:train_end], y[:train_end], y if y_val is None else np.concatenate([y, y_val])
        )
        from engine.models.neural.device import resolve_device
        from engine.models.neural.loop import seeded, train_network
        from engine.models.neural.networks import build_network

        # Ranks of a distributed fit train on the CPU (gloo) or one GPU each (nccl); their data
        # is cut on the CPU and the fitted weights come back to `device`.
        spread = self.processes > 1
        if spread:
            from engine.models.neural.distributed import check_backend_here

            check_backend_here(self.processes, self.backend)
        device = resolve_device(self.device if not spread else "cuda" if self.backend == "nccl" else "cpu")
        amp = amp_choice(bool(self.amp), device.type)
        use_amp = amp.enabled
        if amp.note:
            log.info(amp.note)
        params = self.get_params()
        with seeded(self.seed, device):
            network = build_network(self.architecture, params, X.shape[1], self._n_outputs())
            if init_model is not None:
                network.load_state_dict(init_model.network_.state_dict())
            train, validation = self._window_sets(
                X, y, weight, X_val, y_val, train_end, holdout_start, device if not spread else "cpu"
            )
            # The parameters include processes and backend: a 2-rank fit draws other dropout
            # masks than a 1-rank one, so neither resumes the other's checkpoint.
            fingerprint = "" if checkpoints is None else _fit_fingerprint(
                params, X, y, weight, X_val, y_val, init_model
            )
            if spread:
                outcome = self._train_across(
                    network, train, validation, params, use_amp, progress, checkpoints, fingerprint
                )
            network.to(device)
            if not spread:
                outcome = train_network(
                    network,
                    train,
                    validation,
                    params=params,
                    task=self.task,
                    device=device,
                    use_amp=use_amp,
                    progress=progress,
                    checkpoints=checkpoints,
                    fingerprint=fingerprint,
                )
        self.network_ = network
        self.device_ = device
        self.amp_used_ = use_amp
        self.n_features_ = int(X.shape[1])
        self.history_ = outcome.history
        self.best_epoch_ = outcome.best_epoch
        self.best_val_loss_ = outcome.best_val_loss
        self.stopped_early_ = outcome.stopped_early
        self.warm_started_ = init_model is not None
        self.amp_note_ = amp.note
        self.resumed_ = outcome.resumed
        return self

    def _train_across(self, network, train, validation, params, use_amp, progress, checkpoints, fingerprint):
        from engine.models.neural.distributed import DistributedSettings, train_across

        return train_across(
            network, train, validation, architecture=self.architecture, params=params, task=self.task,
            n_outputs=self._n_outputs(), use_amp=use_amp, progress=progress,
            settings=DistributedSettings(processes=self.processes, backend=self.backend),
            checkpoints=checkpoints, fingerprint=fingerprint,
        )

    def _window_sets(self, X, y, weight, X_val, y_val, train_end, holdout_start, device):
        """(training rows, validation rows or None) as WindowSets on `device`."""
        import torch

        from engine.models.neural.loop import WindowSet, padded_tensor

        padded = padded_tensor(self._standardise(X), self.lookback, device)
        target = torch.as_tensor(self._encode_target(y), device=device)
        weights = None if weight is None else torch.as_tensor(weight, dtype=torch.float32, device=device)
        train = WindowSet(padded, torch.arange(train_end, device=device), target, weights)
        if X_val is not None:
            validation = WindowSet(
                padded_tensor(self._standardise(X_val), self.lookback, device),
                torch.arange(X_val.shape[0], device=device),
                torch.as_tensor(self._encode_target(y_val), device=device),
            )
        elif holdout_start is not None:
            # Held-out windows reach back into the training rows' features: that is the past.
            validation = WindowSet(padded, torch.arange(holdout_start, X.shape[0], device=device), target)
        else:
            validation = None
        return train, validation

    def _holdout_split(self, n_rows: int) -> tuple[int, int | None]:
        """(end of the training rows, start of the held-out rows or None) for an internal split."""
        n_holdout = int(round(n_rows * self.validation_fraction))
        if n_holdout == 0:
            train_end, holdout_start = n_rows, None
        else:
            holdout_start = n_rows - n_holdout
            train_end = holdout_start - self.horizon
        if train_end < MIN_TRAINING_ROWS:
            raise ValueError(
                f"too few rows for {self.kind!r}: {n_rows} rows leave {max(train_end, 0)} to train on "
                f"after holding out the last {n_holdout} (validation_fraction {self.validation_fraction}) "
                f"and purging {self.horizon} (horizon); need at least {MIN_TRAINING_ROWS}"
            )
        return train_end, holdout_start

    def _set_scaling(self, init_model, X_train, y_train, y_all) -> None:
        """Standardisation statistics from the training rows, or the warm start's own."""
        if init_model is not None:
            self.feature_mean_ = init_model.feature_mean_
            self.feature_std_ = init_model.feature_std_
            self._copy_target_scaling(init_model, y_all)
            return
        self.feature_mean_ = X_train.mean(axis=0)
        self.feature_std_ = _safe_std(X_train)
        self._fit_target_scaling(y_train, y_all)

    def _check_warm_start(self, previous: NeuralModel, n_features: int) -> None:
        if type(previous) is not type(self):
            raise ValueError(
                f"cannot warm start a {self.kind!r} model from a {getattr(previous, 'kind', previous)!r}"
            )
        if not hasattr(previous, "network_"):
            raise ValueError("cannot warm start from a model that has not been fitted")
        if previous.n_features_ != n_features:
            raise ValueError(
                f"cannot warm start: the previous model has {previous.n_features_} features, "
                f"X has {n_features}"
            )
        mine, theirs = self.get_params(), previous.get_params()
        differing = [name for name in ARCHITECTURE_PARAMS if name in mine and mine[name] != theirs[name]]
        if differing:
            changes = ", ".join(f"{name} {theirs[name]!r} -> {mine[name]!r}" for name in differing)
            raise ValueError(f"cannot warm start: the architecture differs ({changes})")

    # ---- prediction ----------------------------------------------------------------------

    def predict(self, X: np.ndarray) -> np.ndarray:
        """One prediction per row of X (time-ordered); regression: in the target's units."""
        return self._decode(self._raw_outputs(X))

    def _raw_outputs(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "network_"):
            raise ValueError(f"this {self.kind!r} model is not fitted yet; call fit first")
        X = _checked_matrix(X, "X", allow_empty=True)
        if X.shape[1] != self.n_features_:
            raise ValueError(f"X has {X.shape[1]} columns but the model was trained on {self.n_features_}")
        if X.shape[0] == 0:
            return np.empty((0, self._n_outputs()))
        import torch

        from engine.models.neural.loop import WindowSet, network_outputs, padded_tensor

        padded = padded_tensor(self._standardise(X), self.lookback, self.device_)
        rows = WindowSet(padded, torch.arange(X.shape[0], device=self.device_))
        outputs = network_outputs(self.network_, rows, self.device_, self.amp_used_, self.lookback)
        return outputs.cpu().numpy().astype(np.float64)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return (X - self.feature_mean_) / self.feature_std_

    # ---- task hooks (regression here; ClassifierMixin overrides) --------------------------

    def _checked_target(self, y, n_rows: int, name: str) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        _check_target_shape(y, n_rows, name)
        if not np.isfinite(y).all():
            raise ValueError(f"{name} has NaN or inf at row {int(np.flatnonzero(~np.isfinite(y))[0])}")
        return y

    def _n_outputs(self) -> int:
        return 1

    def _fit_target_scaling(self, y_train: np.ndarray, y_all: np.ndarray) -> None:
        self.target_mean_ = float(y_train.mean())
        self.target_std_ = float(_safe_std(y_train[:, None])[0])

    def _copy_target_scaling(self, previous: NeuralModel, y_all: np.ndarray) -> None:
        self.target_mean_, self.target_std_ = previous.target_mean_, previous.target_std_

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.target_mean_) / self.target_std_).astype(np.float32)

    def _decode(self, outputs: np.ndarray) -> np.ndarray:
        return outputs[:, 0] * self.target_std_ + self.target_mean_

    def _target_state(self) -> dict[str, Any]:
        return {"target_mean": self.target_mean_, "target_std": self.target_std_}

    def _restore_target_state(self, state: dict[str, Any]) -> None:
        self.target_mean_, self.target_std_ = float(state["target_mean"]), float(state["target_std"])

    # ---- artifact ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """torch.save of plain containers and tensors only: loadable with weights_only=True."""
        if not hasattr(self, "network_"):
            raise ValueError(f"this {self.kind!r} model is not fitted yet; nothing to save")
        import torch

        payload = {
            "format": ARTIFACT_FORMAT,
            "kind": self.kind,
            "params": self.get_params(),
            "n_features": self.n_features_,
            "feature_mean": [float(value) for value in self.feature_mean_],
            "feature_std": [float(value) for value in self.feature_std_],
            "target": self._target_state(),
            "state_dict": {name: value.detach().cpu() for name, value in self.network_.state_dict().items()},
            # Each epoch's wall-clock "seconds" stays out: it differs between identical trainings.
            "history": [_without_timing(record) for record in self.history_],
            "best_epoch": self.best_epoch_,
            "best_val_loss": self.best_val_loss_,
            "stopped_early": self.stopped_early_,
            "warm_started": self.warm_started_,
        }
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        # torch.save writes a random serialization id into the archive: a fixed one keeps the
        # same training's artifact the same bytes (torch.load reads the id only to log it).
        return canonical_zip(buffer.getvalue(), replace={_SERIALIZATION_ID: b"0" * 40})

    @classmethod
    def from_bytes(cls, data: bytes, *, device: str = "cpu") -> NeuralModel:
        """Rebuild a model from `to_bytes` output; it predicts on `device` (default the CPU,
        which every machine has: an artifact trained on a GPU loads anywhere)."""
        import pickle

        import torch

        from engine.models.neural.device import resolve_device
        from engine.models.neural.networks import build_network

        try:
            payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
            raise ValueError(f"refusing {cls.kind!r} artifact: {_load_failure(error)}") from None
        if not isinstance(payload, dict) or payload.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"refusing {cls.kind!r} artifact: its format is not {ARTIFACT_FORMAT}")
        if payload.get("kind") != cls.kind:
            raise ValueError(f"the artifact holds a {payload.get('kind')!r} model, not {cls.kind!r}")
        try:
            model = cls(**payload["params"])
            model.n_features_ = int(payload["n_features"])
            model.feature_mean_ = np.asarray(payload["feature_mean"], dtype=float)
            model.feature_std_ = np.asarray(payload["feature_std"], dtype=float)
            model._restore_target_state(payload["target"])
            network = build_network(
                cls.architecture, model.get_params(), model.n_features_, model._n_outputs()
            )
            network.load_state_dict(payload["state_dict"])  # strict: every weight, right shapes
            model.history_ = list(payload["history"])
            model.best_epoch_ = payload["best_epoch"]
            model.best_val_loss_ = payload["best_val_loss"]
            model.stopped_early_ = payload["stopped_early"]
            model.warm_started_ = payload["warm_started"]
        except (KeyError, TypeError, RuntimeError) as error:
            reason = f"missing {error}" if isinstance(error, KeyError) else str(error).splitlines()[0]
            raise ValueError(f"refusing {cls.kind!r} artifact: {reason}") from None
        model.device_ = resolve_device(device)
        model.network_ = network.to(model.device_).eval()
        model.amp_used_ = bool(model.amp) and model.device_.type == "cuda"
        return model

    @classmethod
    def library_versions(cls) -> dict[str, str]:
        import torch

        return {"torch": torch.__version__, "numpy": np.__version__}

    def info(self) -> dict[str, Any]:
        """The card, the parameters and, once fitted, how training went (history included)."""
        info: dict[str, Any] = {"card": self.card.to_dict(), "params": self.get_params()}
        if hasattr(self, "network_"):
            info.update(
                device=str(self.device_),
                amp=self.amp_used_,
                n_features=self.n_features_,
                epochs_run=len(self.history_),
                best_epoch=self.best_epoch_,
                best_val_loss=self.best_val_loss_,
                stopped_early=self.stopped_early_,
                warm_started=self.warm_started_,
                amp_note=getattr(self, "amp_note_", None),  # None too for a model loaded from bytes
                resumed=None if getattr(self, "resumed_", None) is None else self.resumed_.describe(),
                history=[dict(record) for record in self.history_],
            )
        return info


class ClassifierMixin:
    """Classification variant: cross-entropy over the labels seen in y (and y_val); labels are
    any sortable numbers or strings (e.g. -1 / 0 / 1 for sell / hold / buy).

    predict returns labels (from classes_); predict_proba the probability of each, columns in
    classes_ order.
    """

    task: ClassVar[str] = "classification"

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        outputs = self._raw_outputs(X)
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def _checked_target(self, y, n_rows: int, name: str) -> np.ndarray:
        y = np.asarray(y)
        _check_target_shape(y, n_rows, name)
        if y.dtype.kind not in "biufU":
            raise ValueError(f"{name} must hold numbers or strings as class labels, got dtype {y.dtype}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError(f"{name} has NaN or inf at row {int(np.flatnonzero(~np.isfinite(y))[0])}")
        return y

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _fit_target_scaling(self, y_train: np.ndarray, y_all: np.ndarray) -> None:
        labels = np.unique(y_all)
        if labels.size < 2:
            raise ValueError(f"{self.kind!r} needs at least two classes in y, got {labels.tolist()}")
        self.classes_ = labels

    def _copy_target_scaling(self, previous, y_all: np.ndarray) -> None:
        unseen = np.setdiff1d(np.unique(y_all), previous.classes_)
        if unseen.size:
            raise ValueError(
                f"cannot warm start: classes {unseen.tolist()} are not among the previous model's"
            )
        self.classes_ = previous.classes_

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _decode(self, outputs: np.ndarray) -> np.ndarray:
        return self.classes_[outputs.argmax(axis=1)]

    def _target_state(self) -> dict[str, Any]:
        return {"classes": self.classes_.tolist()}

    def _restore_target_state(self, state: dict[str, Any]) -> None:
        self.classes_ = np.asarray(state["classes"])


def _fit_fingerprint(params: dict, *arrays_and_init) -> str:
    """sha256 of everything a fit's result depends on (parameters, rows, the warm start's
    weights): a checkpoint resumes only a fit with the same one."""
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for value in arrays_and_init:
        if value is None:
            digest.update(b"none")
        elif isinstance(value, np.ndarray):
            digest.update(f"{value.dtype.str}{value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:  # the warm start's model
            digest.update(value.to_bytes())
    return digest.hexdigest()


def _without_timing(record: dict) -> dict:
    return {name: value for name, value in record.items() if name != "seconds"}


def _load_failure(error: Exception) -> str:
    """One line out of torch.load's multi-paragraph error."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
    if found:
        return f"it holds {found.group(1)}, not only tensors and plain containers (weights_only load)"
    if "zip archive" in str(error) or isinstance(error, EOFError):
        return "not a torch file, or a truncated one"
    return "not a torch weights file"


# ---- checks -----------------------------------------------------------------------------


def _checked_matrix(X, name: str, allow_empty: bool = False) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (rows in time order x features), got {X.ndim}-D")
    if X.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} has no rows")
    if not np.isfinite(X).all():
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(
            f"{name} has NaN or inf at row {row}, column {column}; neural models need finite inputs"
        )
    return X


def _check_target_shape(y: np.ndarray, n_rows: int, name: str) -> None:
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(f"{name} must be 1-D with one value per row ({n_rows}), got shape {y.shape}")


def _checked_weight(sample_weight, n_rows: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=float)
    _check_target_shape(weight, n_rows, "sample_weight")
    if not np.isfinite(weight).all() or (weight < 0).any() or weight.sum() <= 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return weight


def _safe_std(values: np.ndarray) -> np.ndarray:
    # A constant column carries no information; dividing by 1 keeps it at 0 instead of NaN.
    std = values.std(axis=0)
    return np.where(std > 1e-12, std, 1.0)


def _check_params(kind: str, params: dict[str, Any]) -> None:
    """ValueError naming the first parameter out of range."""

    def whole(name: str, minimum: int) -> None:
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{kind} parameter {name} must be a whole number >= {minimum}, got {value!r}")

    def number(name: str, low: float, high: float | None, *, low_open: bool = False) -> None:
        value = params[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
        ok = ok and (value > low if low_open else value >= low) and (high is None or value < high)
        if not ok:
            bound = (f"> {low}" if low_open else f">= {low}") + (f" and < {high}" if high else "")
            raise ValueError(f"{kind} parameter {name} must be a number {bound}, got {value!r}")

    for name in ("lookback", "hidden_size", "num_layers", "batch_size", "max_epochs", "patience"):
        whole(name, 1)
    whole("horizon", 0)
    whole("seed", 0)
    number("dropout", 0.0, 1.0)
    number("lr", 0.0, None, low_open=True)
    number("weight_decay", 0.0, None)
    number("validation_fraction", 0.0, 1.0)
    if params["grad_clip"] is not None:
        number("grad_clip", 0.0, None, low_open=True)
    check_device_name(params["device"])
    try:
        check_distributed(params["processes"], params["backend"])
    except ValueError as error:
        raise ValueError(f"{kind} parameter {error}") from None
    if not isinstance(params["amp"], bool):
        raise ValueError(f"{kind} parameter amp must be true or false, got {params['amp']!r}")
    if "heads" in params:
        whole("heads", 1)
        width = params["d_model"] if "d_model" in params else 2 * params["hidden_size"]
        if "d_model" in params:
            whole("d_model", 1)
        if width % params["heads"]:
            what = "d_model" if "d_model" in params else "2 x hidden_size (both directions)"
            raise ValueError(f"{kind} parameter heads ({params['heads']}) must divide {what} ({width})")
    if "channels" in params:
        whole("channels", 1)
        whole("kernel_size", 2)  # a kernel of 1 would never look at an earlier bar
        whole("levels", 1)
        # Dilation doubles per level: past 12 levels the receptive field passes 8,000 bars and
        # the left padding, not the data, is what the network convolves.
        if params["levels"] > MAX_CNN_LEVELS:
            raise ValueError(
                f"{kind} parameter levels must be at most {MAX_CNN_LEVELS}, got {params['levels']}"
            )

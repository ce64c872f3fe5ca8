"""The YAML configuration, validated into typed objects.

Errors name the file and the key (``huracan.yaml: training.horizon: Input should be a valid
integer``) so an operator can fix the file without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.cadence import Cadence

# The feedback policies' settings and durations are the engine's, so ml_framework.yaml's
# `feedback:` and this file's `policies:` are validated by the same models.
from engine.policies_config import PoliciesConfig, parse_duration
from engine.spec import AltSpec, PreprocessingStep
from engine.symbols import check_symbol

MODEL_CHOICES = ("linear", "lightgbm")


class ConfigError(ValueError):
    """A configuration problem, worded as one line that names the file and the key."""


class _Strict(BaseModel):
    # No setting here means anything as inf or nan (a cost, a threshold, a weight, a duration):
    # `cost_bps: .inf` would train to a NaN Sharpe.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SelectionPolicy(_Strict):
    """Keep the `top_k` recipe columns that ranked highest by `method` in the slot's champion
    (else newest version) for the next retrain; the choice is recorded in the new version's spec."""

    method: Literal["native", "permutation", "shap"] = "native"
    top_k: int = Field(ge=1)


class TrainingConfig(_Strict):
    # Any kind of the zoo that can run here (engine.models.zoo()); `huracan models` lists them.
    models: list[str] = Field(default_factory=lambda: list(MODEL_CHOICES))
    horizon: int = Field(default=1, ge=1)
    cost_bps: float = Field(default=1.0, ge=0)
    n_folds: int = Field(default=5, ge=2)
    seed: int = 42
    # Hyperparameters per model kind, passed to the model's constructor (plus the run option
    # `early_stopping: true` for boosted and neural kinds).
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # full: walk-forward + refit; quick: at most 2 folds + refit; incremental: warm start from
    # the slot's latest version of the kind on the bars after its data_end.
    cadence: Cadence = Cadence.FULL
    # Classifier kinds learn direction_{horizon}: up / down at 0, buy / hold / sell above it.
    threshold_bps: float = Field(default=0.0, ge=0)
    # The version's spec (engine.spec): the feature recipe (core, full or a YAML file), the
    # target (None: each kind's own, fwd_ret for regressors and direction for classifiers), the
    # preprocessing steps in order and the alternative-data kinds joined as of each bar.
    recipe: str = "core"
    target: Literal["fwd_ret", "net_edge", "direction"] | None = None
    preprocessing: tuple[PreprocessingStep, ...] = ()
    alt: tuple[AltSpec, ...] = ()
    # Importance methods stored per version: native (the learner's own), permutation (on the
    # out-of-sample folds), shap (tree kinds: the boosters' own TreeSHAP, the shap package's for
    # the scikit-learn trees).
    importance: tuple[Literal["native", "permutation", "shap"], ...] = ("native",)
    # Automatic feature selection for the next retrain from the previous version's ranks.
    selection: SelectionPolicy | None = None
    # The meta-layer (seeds 000 / 003): after the kinds are trained, a version of kind
    # "ensemble" that combines the fresh versions of each slot by this method (average,
    # performance_weighted, optimised, stacking), its weights learned out of fold only. A slot
    # whose champion is an ensemble retrains with its method.
    ensemble: Literal["average", "performance_weighted", "optimised", "stacking"] | None = None

    @field_validator("models")
    @classmethod
    def _known_available_models(cls, models: list[str]) -> list[str]:
        for kind in models:
            _check_model_kind(kind)
        return models

    @field_validator("params")
    @classmethod
    def _params_of_known_models(cls, params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for kind in params:
            _check_model_kind(kind, available=False)
        return params


def _check_model_kind(kind: str, *, available: bool = True) -> None:
    """ValueError (pydantic names the key) for a kind the zoo doesn't know or can't run here."""
    from engine.models import zoo

    entries = {entry["kind"]: entry for entry in zoo()}
    if kind not in entries:
        raise ValueError(f"unknown model kind {kind!r}; known kinds: {', '.join(entries)}")
    if available and not entries[kind]["available"]:
        raise ValueError(f"model kind {kind!r} is not available here: {entries[kind]['reason']}")


class RetrainCadenceConfig(_Strict):
    """One retrain rhythm, e.g. nightly incremental, weekly quick, monthly full."""

    cadence: Cadence
    every: float

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class ScheduleConfig(_Strict):
    retrain_every: float = Field(default=24 * 3600.0, description="seconds between retrains")
    retrain_on_start: bool = False
    # Several rhythms at once (each queues every slot with its cadence); when given, they replace
    # retrain_every, which retrains with training.cadence.
    retrains: list[RetrainCadenceConfig] = Field(default_factory=list)
    dispatch_every: float = 2.0
    drift_every: float = 15 * 60.0  # drift checks of every slot's latest version
    live_every: float = 5.0  # new bars from the live feeds -> forecasts, outcomes, policies
    # Operator requests (consoles, the CLI) carried out by the leader. `commands_every` is its
    # old name, still read (deprecated).
    requests_every: float = Field(
        default=1.0, validation_alias=AliasChoices("requests_every", "commands_every"))
    record_every: float = 60.0  # frames of what the console shows, for replay
    misfire_grace: float = 300.0

    @field_validator("retrain_every", "dispatch_every", "drift_every", "live_every", "requests_every",
                     "record_every", "misfire_grace", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class ConsoleConfig(_Strict):
    refresh_seconds: float = Field(default=2.0, gt=0)
    # With no headless leader alive, the console starts one beside itself (its own process).
    embedded_leader: bool = True
    theme: str = "huracan-dark"
    # action id -> keys, e.g. {"quit": "ctrl+q", "help": "h,f1"}; ids are listed by the help screen
    keymap: dict[str, str] = Field(default_factory=dict)
    # Where table exports (CSV / JSON) and screenshots (SVG) are written. Unset: the user's data
    # folder, $XDG_DATA_HOME/huracan/exports (~/.local/share/huracan/exports; the console resolves
    # it). A relative folder is taken from the working directory when the config is read.
    export_dir: str | None = None
    # Live numbers resting on fewer matured forecasts than this are shown dimmed beside their count.
    min_live_samples: int = Field(default=30, ge=1)
    # A slot whose newest forecast is older than this many of its bars is marked stale.
    stale_after_bars: int = Field(default=3, ge=1)

    @field_validator("export_dir")
    @classmethod
    def _absolute_folder(cls, folder: str | None) -> str | None:
        # Made absolute now, at the start: the toast names the file wherever the console runs.
        return str(Path(folder).expanduser().absolute()) if folder else None


class RolesConfig(_Strict):
    """A config's say on who may act, which can only LOWER the role the brain grants (its owner
    grants them: `huracan roles grant`): a user the brain makes an operator and this names a
    viewer is a viewer; nothing here makes a viewer an operator. `--read-only` lowers anyone to
    viewer. See scheduler.services.roles.effective_role."""

    default: Literal["operator", "viewer"] = "operator"
    users: dict[str, Literal["operator", "viewer"]] = Field(default_factory=dict)

    def role_of(self, user: str) -> str:
        return self.users.get(user, self.default)


class TLSConfig(_Strict):
    """Client side of a TLS-secured Dask cluster: the CA that signed the scheduler's certificate,
    and this client's own certificate and key."""

    ca_file: str
    cert: str
    key: str

    @field_validator("ca_file", "cert", "key")
    @classmethod
    def _readable_file(cls, path: str) -> str:
        if not Path(path).expanduser().is_file():
            raise ValueError(f"file not found: {path}")
        return path


class ExecutorConfig(_Strict):
    """Where jobs run: `local` worker processes on this machine, or a Dask cluster at `address`
    (`tls://host:8786` with `tls`). `max_workers`: jobs at once; for Dask, unset means one per
    worker thread of the cluster."""

    kind: Literal["local", "dask"] = "local"
    address: str | None = None
    tls: TLSConfig | None = None
    max_workers: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _dask_needs_an_address(self) -> ExecutorConfig:
        if self.kind == "dask" and not self.address:
            raise ValueError("address: a Dask executor needs the scheduler's address (e.g. tls://host:8786)")
        if self.kind == "local" and (self.address or self.tls):
            raise ValueError("address and tls belong to kind: dask; kind: local takes only max_workers")
        if self.tls is not None and not str(self.address).startswith("tls://"):
            raise ValueError(f"address: {self.address!r} must start with tls:// when tls is set")
        return self


class FeedConfig(_Strict):
    """One live bar feed: `replay` plays a historical file into the brain `speed` bars a tick
    (resuming after the brain's last stored bar); `poll` stores what a file (`path`) or a SQL
    source (`source`: {sql_url, table | query}) holds beyond it."""

    kind: Literal["replay", "poll"]
    symbol: str
    timeframe: str
    path: str | None = None
    source: dict[str, Any] | None = None
    speed: int = Field(default=1, ge=1)

    @field_validator("symbol")
    @classmethod
    def _usable_symbol(cls, symbol: str) -> str:
        return check_symbol(symbol)

    @model_validator(mode="after")
    def _one_origin(self) -> FeedConfig:
        if self.kind == "replay" and (not self.path or self.source is not None):
            raise ValueError("path: a replay feed plays one file; give `path` (and no `source`)")
        if self.kind == "poll" and (self.path is None) == (self.source is None):
            raise ValueError("source: a poll feed reads exactly one of `path` and `source`")
        return self


class LiveConfig(_Strict):
    feeds: list[FeedConfig] = Field(default_factory=list)
    # blended = (1 - blend_weight) * champion + blend_weight * the slot's online learner
    blend_weight: float = Field(default=0.2, ge=0, le=1)
    # Bars already stored beyond a champion's training window that its first live tick forecasts.
    max_backfill: int = Field(default=200, ge=0)


class HuracanConfig(_Strict):
    brain: str | None = None
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    roles: RolesConfig = Field(default_factory=RolesConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    # Per-slot training overrides keyed by slot id (GOOG:1d:net_edge_5): any `training:` key.
    slots: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _slot_overrides_are_training_keys(self):
        for key in self.slots:
            try:
                self.training_for(key)
            except ValidationError as error:
                problem = error.errors()[0]
                where = ".".join(str(part) for part in problem["loc"])
                raise ValueError(f"slots.{key}.{where}: {problem['msg']}") from None
        return self

    def training_for(self, slot_key: str | None) -> TrainingConfig:
        """`training:` with the slot's overrides applied (validated as a whole)."""
        overrides = self.slots.get(slot_key or "", {})
        if not overrides:
            return self.training
        return TrainingConfig.model_validate({**self.training.model_dump(), **overrides})


def load_config(path: str | Path | None) -> HuracanConfig:
    """Read and validate a YAML config; None gives the defaults."""
    if path is None:
        return HuracanConfig()
    import yaml  # here, not at the top: a console started without a config file never needs it

    from engine.safe_yaml import YamlAliasError, load_yaml

    path = Path(path)
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except YamlAliasError as error:
        raise ConfigError(f"{path}: {error}") from None
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, not {type(raw).__name__}")
    if isinstance(raw.get("models"), dict):  # huracan.yaml has no top-level `models:`; the seeds' file has
        return _from_ml_framework(path, raw)
    try:
        return HuracanConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        message = message.removeprefix("Value error, ")
        more = len(error.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{path}: {key}: {message}{suffix}") from None


def _from_ml_framework(path: Path, raw: dict) -> HuracanConfig:
    from engine.ml_config import MLConfigError, parse_ml_config

    try:
        return config_from_ml(parse_ml_config(raw))
    except (MLConfigError, ValueError) as error:
        raise ConfigError(f"{path}: {str(error).splitlines()[0]}") from None


def config_from_ml(ml) -> HuracanConfig:
    """The seeds' ml_framework.yaml (engine.ml_config.MLConfig) as the product's configuration, so
    the console, the CLI and `huracan-tui --headless --config ml_framework.yaml` run it: its
    enabled models and their params, seed, preprocessing steps, ensemble method (a version
    blending each retrain's fresh versions; the product's stacking is its ridge meta-learner),
    online blend weight and feedback policies. Everything else is at its default."""
    kinds = ml.enabled_kinds()
    training = TrainingConfig(
        models=kinds,
        params={kind: dict(ml.models[kind].params) for kind in kinds},
        seed=ml.seed,
        preprocessing=ml.preprocessing_steps(),
        target="direction" if ml.task == "classification" else None,
        ensemble=None if ml.ensemble.method == "none" or len(kinds) < 2 else ml.ensemble.method,
    )
    live = LiveConfig(blend_weight=ml.online.weight if ml.online.enabled else 0.0)
    return HuracanConfig(training=training, live=live, policies=ml.feedback)

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
from engine.regimes import RegimeConfig
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


class DistributedConfig(_Strict):
    """Data-parallel training of each neural kind (engine/models/neural/distributed.py): one model
    fitted across `processes` ranks, gloo on CPUs or nccl with one GPU per rank. Whether this
    machine has CUDA for nccl is checked where the job trains (the worker), never here: the
    console reading this file must not import torch, and a Dask worker may have GPUs it lacks."""

    processes: int = Field(default=1, ge=1)
    backend: Literal["gloo", "nccl"] = "gloo"


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
    # One fit across several processes for the neural kinds (the others ignore it).
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    # How the versions' out-of-sample metrics by regime (scope oos_regime) are labelled: the
    # top-level `regimes:` section, copied in wherever a training is built from the config
    # (scheduler.services.training.slot_training, the demo job, `huracan train`), so it travels
    # with a job to its worker. None: the defaults (what a job queued before this field gets).
    regimes: RegimeConfig | None = None

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
    alerts_every: float = 10.0  # detect changes of state, deliver pending alerts (with alerts.sinks)
    misfire_grace: float = 300.0

    @field_validator("retrain_every", "dispatch_every", "drift_every", "live_every", "requests_every",
                     "record_every", "alerts_every", "misfire_grace", mode="before")
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


ALERT_KINDS = ("drift", "rollback", "job_failed", "feed_stale", "leader_change")
AlertKind = Literal["drift", "rollback", "job_failed", "feed_stale", "leader_change"]


class AlertSinkConfig(_Strict):
    """Where alerts go: a `webhook` (an HTTP POST of the alert's JSON document, with `headers`) or
    a `command` (an argv list, run without a shell, the document on its stdin; a non-zero exit is
    a failed attempt). `events`: the kinds it wants (default all). `name`: how deliveries and
    errors name it (default `webhook HOST` / `command PROGRAM`)."""

    webhook: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)  # may hold a token
    command: list[str] | None = None
    events: tuple[AlertKind, ...] = ALERT_KINDS
    name: str | None = None

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        # Only the scheme is named: the rest of a webhook's address often carries its secret.
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"must be an http:// or https:// URL, not {parts.scheme or '(no scheme)'}://…")
        if not parts.hostname:
            raise ValueError("must name a host (https://host/path)")
        try:
            parts.port  # noqa: B018 (urlsplit checks the port when it is read)
        except ValueError:
            raise ValueError("its port must be a number from 0 to 65535") from None
        return url

    @field_validator("command")
    @classmethod
    def _argv(cls, argv: list[str] | None) -> list[str] | None:
        if argv is not None and (not argv or not all(argv)):
            raise ValueError("an argv list: the program, then its arguments, none empty")
        return argv

    @model_validator(mode="after")
    def _one_target(self) -> AlertSinkConfig:
        if (self.webhook is None) == (self.command is None):
            raise ValueError("webhook: a sink is exactly one of `webhook` and `command`")
        if self.headers and self.webhook is None:
            raise ValueError("headers: only a webhook sink takes headers")
        return self

    @property
    def label(self) -> str:
        """The sink's name: given, or made from its host / program (never its path or query)."""
        if self.name:
            return self.name
        if self.webhook is not None:
            from urllib.parse import urlsplit

            return f"webhook {urlsplit(self.webhook).hostname}"
        return f"command {Path((self.command or ['?'])[0]).name}"


class AlertBackoffConfig(_Strict):
    """Wait `base` after a failed attempt, `factor` times longer after each next one, `max` at most."""

    base: float = 2.0
    factor: float = Field(default=2.0, ge=1)
    max: float = 300.0

    @field_validator("base", "max", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    def delay(self, attempts: int) -> float:
        """Seconds before the next attempt, after `attempts` failed ones (1, 2, ...)."""
        return min(self.base * self.factor ** max(attempts - 1, 0), self.max)


class AlertsConfig(_Strict):
    """Alerts to webhooks and commands, sent by the headless leader (scheduler/services/alerts.py),
    one per change of state. `retries`: attempts after the first before an alert is undeliverable;
    `timeout`: the most one attempt may take; `lookback`: how far back failed jobs and rollbacks
    are told (a brain's older history is never sent); `feed_silence`: a poll feed with no new bar
    for this long is stale (unset: only its feed state, ended or failing, makes it stale)."""

    sinks: list[AlertSinkConfig] = Field(default_factory=list)
    retries: int = Field(default=5, ge=0)
    backoff: AlertBackoffConfig = Field(default_factory=AlertBackoffConfig)
    timeout: float = 10.0
    lookback: float = 24 * 3600.0
    feed_silence: float | None = None

    @field_validator("timeout", "lookback", "feed_silence", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("sinks")
    @classmethod
    def _distinct_names(cls, sinks: list[AlertSinkConfig]) -> list[AlertSinkConfig]:
        seen: set[str] = set()
        for sink in sinks:
            if sink.label in seen:
                raise ValueError(f"two sinks are named {sink.label!r}; give each its own `name`")
            seen.add(sink.label)
        return sinks

    def wanted(self) -> set[str]:
        """The kinds some sink wants (only those are detected)."""
        return {kind for sink in self.sinks for kind in sink.events}


class MetricsConfig(_Strict):
    """Monitoring: the Prometheus endpoint each `huracan-tui --headless` serves (leader and standby
    alike, off unless `enabled`; a leader a console embeds serves none) and the limit `huracan health`
    judges feeds by. `port: 0` takes any free port (tests; the port is logged). `cache_seconds`:
    how long one read of the brain answers scrapes, so a scrape storm costs one read.
    `max_feed_lag`: how old a running feed's newest bar may be before health says unhealthy
    (unset: bars' age is reported, not judged, as a market's closures are not known here)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    cache_seconds: float = Field(default=1.0, ge=0)
    max_feed_lag: float | None = Field(default=None, gt=0)

    @field_validator("max_feed_lag", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)


class RegimeMapConfig(_Strict):
    """How the regime map (scheduler/services/regime_map.py, `huracan regimes`, the Regimes view)
    ranks a slot's versions in each regime: by `metric` over the bars labelled with it, a version
    with fewer than `min_samples` such bars listed as too few, each one tested against the
    champion on the bars they share (significant at `alpha`, Holm-corrected across versions)."""

    metric: Literal["sharpe", "win_rate", "mean_bps"] = "sharpe"
    min_samples: int = Field(default=30, ge=3)
    alpha: float = Field(default=0.05, gt=0, lt=1)


class MlflowConfig(_Strict):
    """Mirroring to an MLflow tracking server (scheduler/services/mlflow_export.py): the headless
    leader exports what is new every `mirror_every` (a schedule entry `mlflow`); `huracan export
    mlflow` takes `tracking_uri` from here when not given. Credentials never go in the URI: MLflow
    reads MLFLOW_TRACKING_TOKEN (or _USERNAME / _PASSWORD) from the environment. `timeout` and
    `retries` bound each request (MLflow's own defaults wait minutes on a dead server)."""

    tracking_uri: str
    mirror_every: float = 300.0
    slots: list[str] = Field(default_factory=list)  # empty: every slot
    timeout: float = Field(default=10.0, gt=0)
    retries: int = Field(default=1, ge=0)

    @field_validator("tracking_uri")
    @classmethod
    def _no_password(cls, uri: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(uri.strip())
        if not uri.strip():
            raise ValueError("empty; the tracking server's URI (http://host:5000)")
        if parts.password is not None or (parts.username and parts.scheme in ("http", "https")):
            raise ValueError("the URI carries credentials; give them in the environment instead (MLFLOW_"
                             "TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)")
        return uri.strip()

    @field_validator("mirror_every", "timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class HuracanConfig(_Strict):
    brain: str | None = None
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    roles: RolesConfig = Field(default_factory=RolesConfig)
    live: LiveConfig = Field(default_factory=LiveConfig)
    policies: PoliciesConfig = Field(default_factory=PoliciesConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    mlflow: MlflowConfig | None = None  # off unless configured
    # How market regimes are labelled (engine.regimes): vol and trend always, hmm when hmm_states is set.
    regimes: RegimeConfig = Field(default_factory=RegimeConfig)
    regime_map: RegimeMapConfig = Field(default_factory=RegimeMapConfig)
    # Per-slot training overrides keyed by slot id (GOOG:1d:net_edge_5): any `training:` key.
    slots: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _slot_overrides_are_training_keys(self):
        # One labelling config for the whole house: the top-level `regimes:` (the map, the
        # console, the live loop read it), carried into the training by the code that queues it.
        if self.training.regimes is not None:
            raise ValueError("training.regimes: set the labelling config in the top-level `regimes:` section")
        for key, overrides in self.slots.items():
            if "regimes" in overrides:
                raise ValueError(f"slots.{key}.regimes: set the labelling config in the top-level "
                                 "`regimes:` section")
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
        key = config_key(first["loc"])
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        message = message.removeprefix("Value error, ")
        more = len(error.errors()) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(f"{path}: {key}: {message}{suffix}") from None


def config_key(loc: tuple) -> str:
    """A validation error's location as the YAML's key path: `alerts.sinks[0].webhook`."""
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return key or "(top level)"


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

"""The ML framework configuration (the seeds' `ml_framework.yaml`), validated into typed objects.

Shape (see ml_framework.example.yaml at the repository root for a documented example):

    task: regression | classification
    seed: 42
    models:            {<kind>: {enabled: bool, params: {<name>: value}}}   kinds from the zoo
    preprocessing:     the seeds' flat mapping (engine.preprocessing.PreprocessingConfig: imputation,
                       outliers, scaling, pca), or the product's ordered step list
                       (`- {step: scale, method: robust}`, engine.spec), validated by the same models
                       as `huracan train` and the config's `training.preprocessing`
    ensemble:          {method: none | average | performance_weighted | stacking | optimised, ...}
    online:            {enabled: bool, kind: river_linear | river_logistic, params: {}, weight: 0.2}
    feedback:          {retrain: {...}, prune: {...}, rollback: {...}}: the live loop's policies,
                       the same models as huracan.yaml's `policies:` (engine.policies_config)

Every error names its key: an unknown kind is `models.<kind>`, an unknown or unusable parameter
`models.<kind>.params.<name>` (parameters are checked by building the model with make_model).
`load_ml_config(path)` raises MLConfigError whose message is one line: `FILE: key.path: message`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.policies_config import PoliciesConfig
from engine.preprocessing import PreprocessingConfig
from engine.spec import PreprocessingStep, describe_validation


class MLConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class EnsembleConfig(BaseModel):
    """How the enabled models are combined. Weights and meta-learners are fitted on out-of-fold
    predictions of the training rows (`n_splits` purged folds, `horizon` + `embargo` gap)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["none", "average", "performance_weighted", "stacking", "optimised"] = "average"
    metric: Literal["sharpe", "inverse_rmse", "accuracy"] = "sharpe"  # performance_weighted
    window: int = Field(default=50, ge=2)  # performance_weighted: rolling window of outcomes
    meta_learner: str = "linear"  # stacking: a zoo kind
    meta_params: dict[str, Any] = Field(default_factory=dict)
    objective: Literal["mse", "sharpe"] = "mse"  # optimised
    n_splits: int = Field(default=5, ge=2)
    horizon: int = Field(default=1, ge=1)
    embargo: int = Field(default=0, ge=0)
    cost_bps: float = Field(default=0.0, ge=0)
    periods_per_year: float = Field(default=252.0, gt=0)


class OnlineConfig(BaseModel):
    """An online learner blended with the batch prediction: (1 - weight) · batch + weight · online."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    kind: str = "river_linear"
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(default=0.2, ge=0, le=1)


class MLConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Literal["regression", "classification"] = "regression"
    seed: int = 42
    models: dict[str, ModelEntry]
    preprocessing: PreprocessingConfig | tuple[PreprocessingStep, ...] = Field(
        default_factory=PreprocessingConfig
    )
    ensemble: EnsembleConfig = Field(default_factory=EnsembleConfig)
    online: OnlineConfig = Field(default_factory=OnlineConfig)
    # The seeds' feedback loop (live performance -> retrain / prune queues, auto-rollback): the
    # same models as huracan.yaml's `policies:` (engine.policies_config), applied by the
    # scheduler when it runs this file (scheduler.config.load_config reads either file).
    feedback: PoliciesConfig = Field(default_factory=PoliciesConfig)

    @model_validator(mode="before")
    @classmethod
    def _steps_name_their_key(cls, data):
        # A step list is checked here, so its problem reads `preprocessing[1].variance: ...` as
        # the product's config words it, not as pydantic words a failed union.
        if isinstance(data, dict) and isinstance(data.get("preprocessing"), list):
            from pydantic import TypeAdapter

            try:
                steps = TypeAdapter(tuple[PreprocessingStep, ...]).validate_python(data["preprocessing"])
            except ValidationError as error:
                raise ValueError(f"preprocessing{describe_validation(error)}") from None
            data = {**data, "preprocessing": steps}
        return data

    def preprocessing_steps(self) -> tuple:
        """The preprocessing as the ordered steps training fits (engine.preprocessing.fit_steps)."""
        from engine.preprocessing import steps_from_config

        if isinstance(self.preprocessing, PreprocessingConfig):
            return steps_from_config(self.preprocessing)
        return tuple(self.preprocessing)

    @model_validator(mode="after")
    def _models_exist_and_build(self):
        for kind, entry in self.models.items():
            _check_model(f"models.{kind}", kind, entry.params, self.task, build=entry.enabled)
        if not self.enabled_kinds():
            raise ValueError("models: enable at least one model")
        if self.ensemble.method == "stacking":
            _check_model(
                "ensemble.meta_learner", self.ensemble.meta_learner, self.ensemble.meta_params, self.task
            )
        if self.ensemble.method == "optimised" and self.task != "regression":
            raise ValueError("ensemble.method: 'optimised' combines regressors; use average or stacking")
        if self.ensemble.metric == "accuracy" and self.task != "classification":
            raise ValueError("ensemble.metric: 'accuracy' is for classification; use sharpe or inverse_rmse")
        if self.online.enabled:
            _check_model("online.kind", self.online.kind, self.online.params, self.task, family="online")
        return self

    def enabled_kinds(self) -> list[str]:
        return [kind for kind, entry in self.models.items() if entry.enabled]

    def model_params(self, kind: str) -> dict[str, Any]:
        """The configured params, with the config's seed where the kind takes one and none is set."""
        params = dict(self.models[kind].params)
        return _with_seed(kind, params, self.seed)


def load_ml_config(path: str | Path) -> MLConfig:
    """Read and validate a YAML config; MLConfigError with one line `FILE: key: message`."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MLConfigError(f"{path}: file not found") from None
    except OSError as error:
        raise MLConfigError(f"{path}: cannot read: {error.strerror or error}") from None
    from engine.safe_yaml import YamlAliasError, load_yaml

    try:
        data = load_yaml(text)
    except YamlAliasError as error:
        raise MLConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise MLConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise MLConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return parse_ml_config(data)
    except MLConfigError as error:
        raise MLConfigError(f"{path}: {error}") from None


def parse_ml_config(data: dict[str, Any]) -> MLConfig:
    """Validate a mapping; MLConfigError with one line `key.path: message`."""
    try:
        return MLConfig.model_validate(data)
    except ValidationError as error:
        raise MLConfigError(_one_line(error)) from None


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    # A union's branch names (`function-after[..., PreprocessingConfig]`) are not keys of the file.
    key = ".".join(str(part) for part in first["loc"] if not (isinstance(part, str) and "[" in part))
    # Errors raised by our validators already start with their key (models.<kind>...).
    return f"{key}: {message}" if key else message


def _check_model(
    key: str, kind: str, params: dict[str, Any], task: str, *, build: bool = True, family: str | None = None
) -> None:
    from engine.models import MODEL_CLASSES, make_model

    if kind not in MODEL_CLASSES:
        raise ValueError(f"{key}: unknown model kind {kind!r}; known kinds: {', '.join(MODEL_CLASSES)}")
    cls = MODEL_CLASSES[kind]
    known = cls.param_names()
    params_key = f"models.{kind}.params" if key.startswith("models.") else f"{key.rsplit('.', 1)[0]}.params"
    if key == "ensemble.meta_learner":
        params_key = "ensemble.meta_params"
    for name in params:
        if name not in known:
            raise ValueError(f"{params_key}.{name}: unknown parameter for {kind}; known: {', '.join(known)}")
    card = getattr(cls, "card", None)
    if family is not None and getattr(card, "family", None) != family:
        raise ValueError(f"{key}: {kind!r} is not an {family} model")
    if not build:
        return
    model_task = getattr(cls, "task", None)
    if model_task != task:
        raise ValueError(f"{key}: {kind!r} is a {model_task} model but task is {task}")
    try:
        make_model(kind, **params)
    except ValueError as error:
        named = [name for name in params if name in str(error)]
        where = f"{params_key}.{named[0]}" if named else key
        raise ValueError(f"{where}: {error}") from None


def _with_seed(kind: str, params: dict[str, Any], seed: int) -> dict[str, Any]:
    from engine.models import MODEL_CLASSES

    if "seed" in MODEL_CLASSES[kind].param_names() and "seed" not in params:
        params["seed"] = seed
    return params


def online_params(config: MLConfig) -> dict[str, Any]:
    return _with_seed(config.online.kind, dict(config.online.params), config.seed)

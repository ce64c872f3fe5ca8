"""A version's spec: what a trader chose about a version, typed, stored whole in its manifest,
hashed, and read back by everything that serves or watches the version.

    features:       a recipe (bundled `core` or `full`, or a user's YAML file), stored as the
                    recipe document itself, and the columns a selection policy kept (or all)
    preprocessing:  ordered steps (impute, outliers, scale, pca, select, autoencoder);
                    engine.preprocessing fits them inside each walk-forward fold on that fold's
                    training rows only
    target:         fwd_ret (bps) | net_edge (bps after a round trip of costs) | direction
                    (two classes at threshold 0, three above), over `horizon` bars
    alt:            alternative-data kinds from the brain, joined as of each bar, each with a
                    maximum staleness
    model:          kind, params, seed
    ensemble:       for kind "ensemble": the member versions and how they are combined
    router:         for kind "regime_router": the member versions, the regime axis and labelling
                    config it switches on (engine.regimes.router)

This module is pydantic only (no polars, no scikit-learn): the console reads specs to show them.
Every problem is a SpecError whose message names the key (`preprocessing[1].variance: ...`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

BUNDLED_RECIPES = ("core", "full")
TARGET_KINDS = ("fwd_ret", "net_edge", "direction")
ALT_KINDS = ("funding_rate", "open_interest", "liquidations", "sentiment")
# An alternative-data kind's value columns in the brain, and the feature names they take in a
# version (prefixed where the brain's own name says too little on its own).
ALT_FEATURES: dict[str, dict[str, str]] = {
    "funding_rate": {"rate": "funding_rate"},
    "open_interest": {"open_interest": "open_interest"},
    "liquidations": {"long_usd": "liquidations_long_usd", "short_usd": "liquidations_short_usd"},
    "sentiment": {"score": "sentiment"},
}
ENSEMBLE_METHODS = ("average", "performance_weighted", "optimised", "stacking")
ROUTER_KIND = "regime_router"
ROUTER_METHODS = ("select", "weighted")
ROUTER_AXES = ("vol", "trend", "hmm")  # engine.regimes.labels.REGIME_AXES


class SpecError(ValueError):
    """A spec that cannot be trained; one line naming the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- features ------------------------------------------------------------------------------


class FeatureChoice(_Strict):
    """The recipe by name (core, full or the file it came from) and its document, stored whole so a
    version can be rebuilt after the file changed; `columns` is the subset a selection policy kept
    (recipe order), None for every column of the recipe."""

    recipe: str = "core"
    document: dict[str, Any] = Field(default_factory=dict)
    columns: tuple[str, ...] | None = None


# ---- preprocessing steps -------------------------------------------------------------------


class ImputeStep(_Strict):
    step: Literal["impute"]
    strategy: Literal["mean", "median", "most_frequent", "constant"] = "mean"
    fill_value: float = 0.0  # strategy constant


class OutlierStep(_Strict):
    """clip: at the `lower` / `upper` quantiles of each training column; winsorize: the lowest
    `lower` and highest `upper` shares set to the nearest kept value; remove: training rows beyond
    `z_threshold` standard deviations (rule zscore) or `iqr_multiplier` IQRs (rule iqr) are dropped
    (test rows never are: a model must predict every bar it is asked about)."""

    step: Literal["outliers"]
    method: Literal["clip", "winsorize", "remove"] = "clip"
    lower: float | None = None  # clip: 0.01 quantile; winsorize: 0.01 share
    upper: float | None = None  # clip: 0.99 quantile; winsorize: 0.01 share
    rule: Literal["zscore", "iqr"] = "zscore"
    z_threshold: float = Field(default=3.0, gt=0)
    iqr_multiplier: float = Field(default=1.5, gt=0)

    @model_validator(mode="after")
    def _bounds(self):
        if self.method == "clip":
            low, high = (
                self.lower if self.lower is not None else 0.01,
                self.upper if self.upper is not None else 0.99,
            )
            if not 0 <= low < high <= 1:
                raise ValueError("clip needs 0 <= lower < upper <= 1 (quantiles)")
        elif self.method == "winsorize":
            low, high = (
                self.lower if self.lower is not None else 0.01,
                self.upper if self.upper is not None else 0.01,
            )
            if not (0 <= low < 1 and 0 <= high < 1 and low + high < 1):
                raise ValueError("winsorize needs lower and upper shares in [0, 1) with lower + upper < 1")
        return self


class ScaleStep(_Strict):
    step: Literal["scale"]
    method: Literal["standard", "minmax", "robust"] = "standard"


class PcaStep(_Strict):
    """Principal components keeping `variance` of the training rows' variance (1 keeps all)."""

    step: Literal["pca"]
    variance: float = 0.95

    @field_validator("variance")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError(f"a PCA variance threshold must be in (0, 1], got {value}")
        return value


class SelectStep(_Strict):
    """Keep the `top_k` columns, or those whose share of the total score is at least `threshold`,
    ranked on the fold's training rows by `by`: importance (an extra-trees model's impurity
    importance, seeded) or mutual_info (scikit-learn's estimate of mutual information)."""

    step: Literal["select"]
    by: Literal["importance", "mutual_info"] = "importance"
    top_k: int | None = Field(default=None, ge=1)
    threshold: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _one_rule(self):
        if (self.top_k is None) == (self.threshold is None):
            raise ValueError("select needs exactly one of top_k or threshold")
        return self


class AutoencoderStep(_Strict):
    """Learned factors: a small MLP autoencoder (engine.autoencoder) fitted on the fold's training
    rows; its `latent` units (ae_0, ae_1, ...) become the model's inputs. `seed` None: the model's."""

    step: Literal["autoencoder"]
    latent: int = Field(default=4, ge=1)
    hidden: int = Field(default=16, ge=1)
    epochs: int = Field(default=50, ge=1)
    seed: int | None = None


PreprocessingStep = Annotated[
    Union[ImputeStep, OutlierStep, ScaleStep, PcaStep, SelectStep, AutoencoderStep],  # noqa: UP007
    Field(discriminator="step"),
]
STEP_NAMES = ("impute", "outliers", "scale", "pca", "select", "autoencoder")


# ---- target, alt data, model ---------------------------------------------------------------


class TargetSpec(_Strict):
    kind: Literal["fwd_ret", "net_edge", "direction"] = "fwd_ret"
    horizon: int = Field(default=1, ge=1)
    threshold_bps: float = Field(default=0.0, ge=0, allow_inf_nan=False)  # direction only

    @property
    def column(self) -> str:
        """The column training learns: fwd_ret_5, net_edge_bps_5, direction_5."""
        return {"fwd_ret": "fwd_ret_", "net_edge": "net_edge_bps_", "direction": "direction_"}[
            self.kind
        ] + str(self.horizon)

    @property
    def slot_target(self) -> str:
        """The target part of the slot id. A direction classifier trades the forward return, so it
        lives in the forward return's slot (and an A/B compares it with the regressors there)."""
        return f"net_edge_{self.horizon}" if self.kind == "net_edge" else f"fwd_ret_{self.horizon}"

    @property
    def task(self) -> str:
        return "classification" if self.kind == "direction" else "regression"

    def describe(self) -> str:
        if self.kind == "direction":
            classes = (
                "two classes" if self.threshold_bps == 0 else f"three classes at {self.threshold_bps:g} bps"
            )
            return f"direction over {self.horizon} bar(s), {classes}"
        what = "forward return (bps)" if self.kind == "fwd_ret" else "net edge after costs (bps)"
        return f"{what} over {self.horizon} bar(s)"


_DURATION = r"^\d+(s|m|h|d|w)$"  # whole units: polars reads these as join tolerances
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class AltSpec(_Strict):
    """One alternative-data kind, joined as of each bar; a value older than `max_staleness` is
    missing (a named state at serve time, never a silent 0)."""

    kind: Literal["funding_rate", "open_interest", "liquidations", "sentiment"]
    max_staleness: str = Field(default="1d", pattern=_DURATION)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(ALT_FEATURES[self.kind].values())

    @property
    def staleness(self) -> timedelta:
        number, unit = float(self.max_staleness[:-1]), self.max_staleness[-1]
        return timedelta(seconds=number * _SECONDS[unit])


class ModelSpec(_Strict):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = 42


class EnsembleSpec(_Strict):
    """Member versions of the same slot (numbers) and how their forecasts are combined. Weights and
    meta-learners are fitted on the members' out-of-fold predictions only."""

    members: tuple[int, ...] = Field(min_length=2)
    method: Literal["average", "performance_weighted", "optimised", "stacking"] = "average"

    @field_validator("members")
    @classmethod
    def _distinct(cls, members: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(members)) != len(members):
            raise ValueError("members repeat a version")
        return members


class RouterSpec(_Strict):
    """Member versions of the same slot (numbers) switched by the causal regime label of `axis`:
    per regime the best member out of fold (method select) or performance weights over them
    (weighted), learned on out-of-fold predictions only; a regime with fewer than `min_rows`
    out-of-fold rows, an unseen or a null label takes the fallback (the same rule over every row).
    `regimes` is the labelling config (engine.regimes.labels.RegimeConfig as JSON), kept whole so
    the labels served are the labels learned on."""

    members: tuple[int, ...] = Field(min_length=2)
    axis: Literal["vol", "trend", "hmm"] = "trend"
    method: Literal["select", "weighted"] = "select"
    min_rows: int = Field(default=30, ge=1)
    regimes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("members")
    @classmethod
    def _distinct(cls, members: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(members)) != len(members):
            raise ValueError("members repeat a version")
        return members


# ---- the spec ------------------------------------------------------------------------------


class VersionSpec(_Strict):
    features: FeatureChoice = Field(default_factory=FeatureChoice)
    preprocessing: tuple[PreprocessingStep, ...] = ()
    target: TargetSpec = Field(default_factory=TargetSpec)
    alt: tuple[AltSpec, ...] = ()
    model: ModelSpec
    ensemble: EnsembleSpec | None = None
    router: RouterSpec | None = None

    @model_validator(mode="after")
    def _consistent(self):
        names = [step.step for step in self.preprocessing]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"preprocessing: step {repeated[0]!r} appears more than once")
        kinds = [alt.kind for alt in self.alt]
        if len(set(kinds)) != len(kinds):
            raise ValueError("alt: a kind appears more than once")
        if (self.model.kind == "ensemble") != (self.ensemble is not None):
            raise ValueError("ensemble: needed with model kind 'ensemble', and only with it")
        if (self.model.kind == ROUTER_KIND) != (self.router is not None):
            raise ValueError(f"router: needed with model kind {ROUTER_KIND!r}, and only with it")
        return self

    @property
    def alt_columns(self) -> tuple[str, ...]:
        return tuple(name for alt in self.alt for name in alt.columns)

    def to_json(self) -> dict[str, Any]:
        document = self.model_dump(mode="json")
        if document.get("router") is None:
            del document["router"]  # a spec without a router hashes as it did before routers existed
        return document

    def digest(self) -> str:
        """sha256 of the canonical JSON: two versions with the same digest were asked for the same."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> VersionSpec:
        return parse_spec(document)

    def describe_preprocessing(self) -> str:
        return " → ".join(describe_step(step) for step in self.preprocessing) or "none"


def describe_step(step: Any) -> str:
    """One step in a few words, as the console and the CLI show it."""
    if isinstance(step, ImputeStep):
        return f"impute {step.strategy}"
    if isinstance(step, OutlierStep):
        return f"outliers {step.method}"
    if isinstance(step, ScaleStep):
        return f"scale {step.method}"
    if isinstance(step, PcaStep):
        return f"pca {step.variance:.0%}"
    if isinstance(step, SelectStep):
        rule = f"top {step.top_k}" if step.top_k is not None else f"≥ {step.threshold:g}"
        return f"select {rule} by {step.by}"
    if isinstance(step, AutoencoderStep):
        return f"autoencoder {step.latent} latent"
    raise TypeError(step)


def parse_spec(document: Any, source: str = "spec") -> VersionSpec:
    """A spec from its JSON document; SpecError names the key."""
    try:
        return VersionSpec.model_validate(document)
    except ValidationError as error:
        raise SpecError(f"{source}: {describe_validation(error)}") from None


def describe_validation(error: ValidationError) -> str:
    """pydantic's first problem as `key.path: message` (an unknown key first)."""
    first = min(error.errors(), key=lambda problem: problem["type"] != "extra_forbidden")
    location = [
        part
        for part in first["loc"]
        if not (isinstance(part, str) and part in STEP_NAMES + ("function-after",))
    ]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location).lstrip(".")
    message = (
        "unknown key" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    )
    return f"{key}: {message}" if key else message


def recipe_label(choice: FeatureChoice) -> str:
    """core / full / the file's name."""
    return choice.recipe if choice.recipe in BUNDLED_RECIPES else Path(choice.recipe).name


# ---- what the console and the CLI show of a stored version's spec ------------------------------


class SpecSummary(BaseModel):
    """A stored version's spec in the words the slot detail and `huracan show` use."""

    model_config = ConfigDict(frozen=True)

    recipe: str  # core / full / the file's name
    target_kind: str
    threshold_bps: float
    inputs: int  # raw input columns (recipe columns kept, then alt data)
    selected: tuple[str, ...] | None  # the recipe columns a selection policy kept; None: all
    preprocessing: str  # "scale standard → pca 95%", or "none"
    model_inputs: int  # columns the model itself sees (after PCA / selection)
    target: str  # TargetSpec.describe()
    alt: str  # "funding_rate (max 8h), sentiment (max 1d)" or "none"
    sha256: str | None
    ensemble: str | None = None  # "stacking of v1 0.620, v2 0.380 (+1.2 bps)" for an ensemble

    def lines(self) -> list[tuple[str, str]]:
        kept = (
            "all"
            if self.selected is None
            else f"{len(self.selected)} kept by selection: {', '.join(self.selected[:6])}"
        )
        if self.selected is not None and len(self.selected) > 6:
            kept += ", …"
        blend = [] if self.ensemble is None else [("ensemble", self.ensemble)]
        return blend + [
            ("recipe", f"{self.recipe} ({self.inputs} inputs; recipe columns: {kept})"),
            (
                "preprocessing",
                "each member's own"
                if self.ensemble is not None
                else self.preprocessing
                + (f" ({self.model_inputs} model inputs)" if self.preprocessing != "none" else ""),
            ),
            ("target", self.target),
            ("alt data", self.alt),
            ("spec sha256", (self.sha256 or "-")[:12]),
        ]


def spec_summary(manifest: dict[str, Any]) -> SpecSummary:
    """The summary of a stored manifest's spec; a manifest from before specs existed was the core
    recipe, no preprocessing, its own target."""
    features = list(manifest.get("features") or [])
    stored = manifest.get("spec")
    outputs = (manifest.get("preprocessor") or {}).get("outputs")
    if stored is None:
        target_name = str(manifest.get("target", "fwd_ret_1"))
        kind = "direction" if target_name.startswith("direction_") else "fwd_ret"
        target = TargetSpec(
            kind=kind,
            horizon=int(manifest.get("horizon", 1)),
            threshold_bps=float(manifest.get("threshold_bps") or 0.0),
        )
        return SpecSummary(
            recipe="core",
            target_kind=kind,
            threshold_bps=target.threshold_bps,
            inputs=len(features),
            selected=None,
            preprocessing="none",
            model_inputs=len(features),
            target=target.describe(),
            alt="none",
            sha256=None,
        )
    spec = parse_spec(stored, source="manifest spec")
    alt = ", ".join(f"{item.kind} (max {item.max_staleness})" for item in spec.alt) or "none"
    return SpecSummary(
        recipe=recipe_label(spec.features),
        target_kind=spec.target.kind,
        threshold_bps=spec.target.threshold_bps,
        inputs=len(features),
        selected=spec.features.columns,
        preprocessing=spec.describe_preprocessing(),
        model_inputs=len(outputs) if outputs is not None else len(features),
        target=spec.target.describe(),
        alt=alt,
        sha256=manifest.get("spec_sha256"),
        ensemble=(_blend_text(spec.ensemble.method, manifest) if spec.ensemble is not None
                  else None if spec.router is None else _route_text(spec.router, manifest)),
    )


def _blend_text(method: str, manifest: dict[str, Any]) -> str:
    params = manifest.get("params") or {}
    members = [member.get("number") for member in params.get("members") or []]
    weights = params.get("weights") or []
    parts = ", ".join(f"v{n} {float(w):.3f}" for n, w in zip(members, weights, strict=False))
    intercept = float(params.get("intercept") or 0.0)
    return f"{method} of {parts}" + (f" ({intercept:+.2f} intercept)" if intercept else "")


def _route_text(router: RouterSpec, manifest: dict[str, Any]) -> str:
    """"regime_router on trend: ranging → v2, trending_up → v1, otherwise v1" (weights where a
    route blends)."""
    params = manifest.get("params") or {}
    numbers = list(router.members)

    def one(weights: list) -> str:
        shares = [(n, float(w)) for n, w in zip(numbers, weights, strict=False) if float(w) > 0]
        if len(shares) == 1:
            return f"v{shares[0][0]}"
        return " ".join(f"v{n} {w:.2f}" for n, w in shares) or "-"

    routes = [f"{label} → {one(weights)}" for label, weights in sorted((params.get("routes") or {}).items())]
    routes.append(f"otherwise {one(params.get('fallback') or [])}")
    return f"{ROUTER_KIND} on {router.axis}: {', '.join(routes)}"

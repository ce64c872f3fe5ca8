"""One pipeline: a version's spec (engine.spec) to its input columns and its target.

Training, `huracan features`, `huracan predict`, the live loop, drift checks and the console all
compute a version's inputs through `version_features(bars, spec, alt)`: the spec's recipe
(engine.features, TA-Lib-exact indicators) over the bars, then each alternative-data kind joined
as of each bar (backward only, at most `max_staleness` old). The model's inputs are
`input_columns(spec)`, in that order; preprocessing (engine.preprocessing) comes after, fitted per
fold.

`make_spec` builds a spec from a trader's choices and `check_spec` refuses a bad one before any
work, with one line naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from engine.spec import (
    ALT_FEATURES,
    AltSpec,
    FeatureChoice,
    ModelSpec,
    SelectStep,
    SpecError,
    TargetSpec,
    VersionSpec,
)

# Where a spec's alt-data join keeps the stamp of the value it used (the live loop words a gap
# with it); dropped before anything else sees the frame.
_ALT_TS = "__alt_ts_{kind}"


def make_spec(
    kind: str,
    *,
    recipe: str = "core",
    target: str | None = None,
    horizon: int = 1,
    threshold_bps: float = 0.0,
    preprocessing: Sequence[Any] = (),
    alt: Sequence[AltSpec | Mapping[str, Any]] = (),
    params: Mapping[str, Any] | None = None,
    seed: int = 42,
    columns: Sequence[str] | None = None,
    ensemble: Mapping[str, Any] | None = None,
) -> VersionSpec:
    """The spec of one version from a trader's choices; `target` None is the kind's own (fwd_ret
    for regressors, direction for classifiers). SpecError names the key of the first problem."""
    from engine.features.recipe import RecipeError, resolve_recipe

    try:
        label, resolved = resolve_recipe(recipe)
    except RecipeError as error:
        raise SpecError(f"features.recipe: {error}") from None
    if target is None:
        target = "direction" if kind != "ensemble" and _task(kind) == "classification" else "fwd_ret"
    document = {
        "features": {
            "recipe": label,
            "document": resolved.model_dump(mode="json", by_alias=True, exclude_none=True),
            "columns": None if columns is None else list(columns),
        },
        "preprocessing": [
            step if isinstance(step, Mapping) else step.model_dump(mode="json") for step in preprocessing
        ],
        "target": {"kind": target, "horizon": horizon, "threshold_bps": threshold_bps},
        "alt": [item if isinstance(item, Mapping) else item.model_dump(mode="json") for item in alt],
        "model": {"kind": kind, "params": dict(params or {}), "seed": seed},
        "ensemble": None if ensemble is None else dict(ensemble),
    }
    from engine.spec import parse_spec

    spec = parse_spec(document, source="spec")
    check_spec(spec)
    return spec


def check_spec(spec: VersionSpec, *, alt_rows: Mapping[str, int] | None = None, symbol: str = "") -> None:
    """Refuse what pydantic cannot see alone: columns the recipe does not make, a selection of
    more columns than exist, a kind on the wrong kind of target, and (given `alt_rows`, the rows
    the brain holds per kind for the symbol) an alternative-data kind with no rows."""
    recipe_columns = spec_recipe(spec).columns()
    if spec.features.columns is not None:
        unknown = [name for name in spec.features.columns if name not in recipe_columns]
        if unknown:
            raise SpecError(
                f"features.columns: unknown column {unknown[0]!r} (recipe {spec.features.recipe} makes "
                f"{len(recipe_columns)} columns)"
            )
        if not spec.features.columns:
            raise SpecError("features.columns: no column kept")
    width = len(input_columns(spec))
    for index, step in enumerate(spec.preprocessing):
        if isinstance(step, SelectStep) and step.top_k is not None and step.top_k > width:
            raise SpecError(
                f"preprocessing[{index}].top_k: selects {step.top_k} features but only {width} exist"
            )
    kind = spec.model.kind
    if kind != "ensemble":
        task = _task(kind)
        if task != spec.target.task:
            wanted = "direction" if task == "classification" else "fwd_ret or net_edge"
            raise SpecError(
                f"target.kind: {kind} is a {task} kind and {spec.target.kind} a {spec.target.task} target "
                f"(use {wanted})"
            )
        _check_kind_target(kind, spec)
    if alt_rows is not None:
        for index, item in enumerate(spec.alt):
            if not alt_rows.get(item.kind):
                where = f" for {symbol}" if symbol else ""
                raise SpecError(
                    f"alt[{index}].kind: the brain holds no {item.kind} rows{where}; import some first"
                )


def _check_kind_target(kind: str, spec: VersionSpec) -> None:
    """A kind that learns from one target only (the agents' reward is the next bar's return)
    declares it as `target_kinds` / `target_horizons` on its class. (A kind that reads a member's
    forecast, ppo_sizing's `needs_signal`, is fed by engine.training from engine.rl.signal.)"""
    from engine.models import model_class

    cls = model_class(kind)
    kinds, horizons = getattr(cls, "target_kinds", None), getattr(cls, "target_horizons", None)
    if (kinds and spec.target.kind not in kinds) or (horizons and spec.target.horizon not in horizons):
        raise SpecError(
            f"target: {kind} learns from the next bar's return; use target {' or '.join(kinds or ())} "
            f"with horizon {' or '.join(map(str, horizons or ()))} (got {spec.target.kind} over "
            f"{spec.target.horizon} bar(s))"
        )


def _task(kind: str) -> str:
    from engine.models import model_class

    try:
        return model_class(kind).task
    except ValueError as error:
        raise SpecError(f"model.kind: {error}") from None


def spec_recipe(spec: VersionSpec):
    """The spec's stored recipe document as a FeatureRecipe."""
    from engine.features.recipe import RecipeError, parse_recipe

    try:
        return parse_recipe(spec.features.document, source=f"recipe {spec.features.recipe}")
    except RecipeError as error:
        raise SpecError(f"features.document: {error}") from None


def input_columns(spec: VersionSpec) -> list[str]:
    """The model's raw inputs, in order: the recipe's columns (or the kept ones), then alt data."""
    kept = spec.features.columns
    return [*(kept if kept is not None else spec_recipe(spec).columns()), *spec.alt_columns]


def default_spec(
    kind: str,
    *,
    horizon: int = 1,
    threshold_bps: float = 0.0,
    params: Mapping[str, Any] | None = None,
    seed: int = 42,
) -> VersionSpec:
    """What a version trained before specs existed was: the core recipe, no preprocessing, the
    kind's own target."""
    return make_spec(kind, horizon=horizon, threshold_bps=threshold_bps, params=params, seed=seed)


def version_features(
    bars: pl.DataFrame,
    spec: VersionSpec,
    alt: Mapping[str, pl.DataFrame] | None = None,
    *,
    keep_alt_ts: bool = False,
) -> pl.DataFrame:
    """`bars` (canonical OHLCV, ts order per symbol) with the spec's recipe columns and its
    alternative-data columns added. A bar whose alt value is missing or older than the kind's
    max_staleness has a null there, never a 0. `alt` maps kind -> the brain's frame of that kind
    (ts, symbol, value columns); a kind the spec names and `alt` lacks is an error.
    `keep_alt_ts` keeps, per kind, the stamp of the newest value at or before each bar (even a
    stale one) as `__alt_ts_<kind>`, for wording a gap."""
    from engine.features import compute_features

    return join_alt_features(compute_features(bars, spec_recipe(spec)), spec, alt, keep_alt_ts=keep_alt_ts)


def join_alt_features(
    frame: pl.DataFrame,
    spec: VersionSpec,
    alt: Mapping[str, pl.DataFrame] | None,
    *,
    keep_alt_ts: bool = False,
) -> pl.DataFrame:
    """A frame of bars with their recipe columns, with the spec's alternative data joined (the
    second half of version_features, for a caller that computed the recipe over a tail window)."""
    for item in spec.alt:
        if alt is None or item.kind not in alt:
            raise SpecError(f"alt: no {item.kind} data given for this version's features")
        frame = _join_alt(frame, item, alt[item.kind], keep_alt_ts)
    return frame


def features_key(spec: VersionSpec) -> str:
    """Versions whose specs share this key compute the same version_features frame."""
    import json

    document = {"recipe": spec.features.document, "alt": [item.model_dump(mode="json") for item in spec.alt]}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _join_alt(frame: pl.DataFrame, item: AltSpec, data: pl.DataFrame, keep_ts: bool) -> pl.DataFrame:
    from engine.altdata import join_asof

    renames = ALT_FEATURES[item.kind]
    stamp = _ALT_TS.format(kind=item.kind)
    values = data.select("ts", "symbol", *(pl.col(source).alias(name) for source, name in renames.items()))
    if not keep_ts:
        return join_asof(frame, values, tolerance=item.max_staleness)
    # One join for the values and their stamp: the newest row at or before each bar, its values
    # kept only within the staleness (what a join with that tolerance gives), its stamp always
    # (it words the gap of a stale value).
    joined = join_asof(frame, values.with_columns(pl.col("ts").alias(stamp)))
    fresh = (pl.col("ts") - pl.col(stamp)) <= item.staleness
    return joined.with_columns(
        pl.when(fresh).then(pl.col(name)).otherwise(None).alias(name) for name in renames.values()
    )


def alt_stamp_column(kind: str) -> str:
    return _ALT_TS.format(kind=kind)


def usable_feature_rows(
    frame: pl.DataFrame, names: Sequence[str], *, allow_missing: Sequence[str] = ()
) -> pl.Expr:
    """Rows whose inputs are warmed up and finite; `allow_missing` columns may be null (an impute
    step fills them) but never infinite."""
    strict = [name for name in names if name not in allow_missing]
    loose = [name for name in names if name in allow_missing]
    expression = (
        pl.all_horizontal(pl.col(strict).is_not_null() & pl.col(strict).is_finite())
        if strict
        else pl.lit(True)
    )
    if loose:
        expression = expression & pl.all_horizontal(pl.col(loose).is_null() | pl.col(loose).is_finite())
    return expression


def spec_of_manifest(document: Mapping[str, Any]) -> VersionSpec:
    """A stored manifest's spec; a manifest written before specs existed gets the spec it was
    trained under (core recipe, no preprocessing, its target and threshold)."""
    stored = document.get("spec")
    if stored is not None:
        from engine.spec import parse_spec

        return parse_spec(stored, source="manifest spec")
    target = str(document.get("target", "fwd_ret_1"))
    threshold = document.get("threshold_bps")
    return VersionSpec(
        features=FeatureChoice(recipe="core", document=_core_document()),
        target=TargetSpec(
            kind="direction" if target.startswith("direction_") else "fwd_ret",
            horizon=int(document.get("horizon", 1)),
            threshold_bps=float(threshold or 0.0),
        ),
        model=ModelSpec(
            kind=str(document.get("model_kind", "linear")), params={}, seed=int(document.get("seed", 42))
        ),
    )


def _core_document() -> dict[str, Any]:
    from engine.features.recipe import resolve_recipe

    return resolve_recipe("core")[1].model_dump(mode="json", by_alias=True, exclude_none=True)

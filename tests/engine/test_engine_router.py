"""The regime router (engine.regimes.router): routings learned on out-of-fold rows only (fold k's
on folds before k), the fallback for thin, unseen and null regimes, and the honesty tests of
issue 17 on synthetic member forecasts: where one member wins in one regime and the other in the
other, the router beats both out of sample; where returns do not depend on the regime, it is not
better than the best member beyond noise (a block-bootstrap interval of the Sharpe difference
that contains 0). Then a router version of two GOOG member versions: JSON artifact, served as
its members' forecasts routed by each bar's label."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from engine.abtest import FoldReplay, sharpe_bootstrap
from engine.ensembles.version import MemberVersion
from engine.metrics import sharpe_ratio, strategy_returns
from engine.regimes.router import (
    ARTIFACT_FORMAT,
    DOCUMENT_FORMAT,
    RouterError,
    Routing,
    fit_routing,
    train_router_version,
    walk_forward,
)
from engine.serving import RouterServable, load_servable
from engine.training import train_model

COST_BPS = 1.0
FOLDS, FOLD_BARS = 5, 300
START = datetime(2020, 1, 1, tzinfo=UTC)


def synthetic(regime_matters: bool, seed: int):
    """Two members' out-of-fold forecasts over FOLDS folds and each bar's label. Labels come in
    runs of 25 bars (calm / wild). Member A follows the last return (momentum), member B bets
    against it (reversal). With regime_matters the next return continues the last one in calm
    runs and reverses it in wild runs, so A wins in calm and B in wild; without it the next return
    is noise plus a small edge that both members see through their own noise, whatever the label."""
    rng = np.random.default_rng(seed)
    n = FOLDS * FOLD_BARS
    labels = np.where((np.arange(n) // 25 + rng.integers(0, 2, n // 25 + 1).repeat(25)[:n]) % 2 == 0,
                      "calm", "wild")
    last = rng.normal(0, 0.01, n)
    if regime_matters:
        direction = np.where(labels == "calm", 1.0, -1.0)
        next_ret = 0.3 * direction * last + rng.normal(0, 0.01, n)
        a, b = last * 1e4, -last * 1e4
    else:
        edge = rng.normal(0, 0.01, n)
        next_ret = 0.1 * edge + rng.normal(0, 0.01, n)
        a, b = (edge + rng.normal(0, 0.02, n)) * 1e4, (edge + rng.normal(0, 0.02, n)) * 1e4
    stamps = [START + timedelta(days=i) for i in range(n)]
    replays = []
    for forecast in (a, b):
        member = []
        for k in range(FOLDS):
            rows = slice(k * FOLD_BARS, (k + 1) * FOLD_BARS)
            member.append(FoldReplay(stamps[rows], forecast[rows], next_ret[rows] * 1e4, next_ret[rows],
                                     next_ret[rows] * 1e4))
        replays.append(member)
    return replays, dict(zip(stamps, labels.tolist(), strict=True)), np.column_stack([a, b]), next_ret


def route(replays, labels, method="select", min_rows=30):
    return walk_forward(method, replays, labels, task="regression", threshold_bps=0.0, cost_bps=COST_BPS,
                        bars_per_year=252.0, min_rows=min_rows)


def oos_returns(folds) -> np.ndarray:
    """The router's out-of-sample returns after costs, each fold traded from flat."""
    return np.concatenate([strategy_returns(f.prediction, f.next_ret, COST_BPS) for f in folds])


def member_returns(folds, member: int) -> np.ndarray:
    return np.concatenate([strategy_returns(f.forecasts[:, member], f.next_ret, COST_BPS) for f in folds])


@pytest.mark.parametrize("method", ["select", "weighted"])
def test_where_each_member_wins_in_its_own_regime_the_router_beats_both_out_of_sample(method):
    replays, labels, _, _ = synthetic(regime_matters=True, seed=1)
    folds, final = route(replays, labels, method)
    router = oos_returns(folds)
    a, b = member_returns(folds, 0), member_returns(folds, 1)
    sharpe = {name: sharpe_ratio(r, 252.0) for name, r in (("router", router), ("a", a), ("b", b))}
    assert sharpe["router"] > max(sharpe["a"], sharpe["b"]) + 1.0, sharpe
    # Beyond noise: the bootstrap interval of router minus the better member lies above 0.
    best = a if sharpe["a"] >= sharpe["b"] else b
    interval = sharpe_bootstrap(best, router, periods_per_year=252.0, n_boot=400, seed=0)
    assert interval["low"] > 0, interval
    # What it learned: momentum in calm runs, reversal in wild ones.
    assert final.routes["calm"][0] > final.routes["calm"][1]
    assert final.routes["wild"][1] > final.routes["wild"][0]


def test_where_returns_ignore_the_regime_the_router_is_no_better_than_the_best_member():
    replays, labels, _, _ = synthetic(regime_matters=False, seed=2)
    folds, _ = route(replays, labels)
    router = oos_returns(folds)
    a, b = member_returns(folds, 0), member_returns(folds, 1)
    best = a if sharpe_ratio(a, 252.0) >= sharpe_ratio(b, 252.0) else b  # chosen in hindsight
    interval = sharpe_bootstrap(best, router, periods_per_year=252.0, n_boot=400, seed=0)
    assert interval["low"] < 0 < interval["high"], interval
    assert sharpe_ratio(a, 252.0) > 0 and sharpe_ratio(b, 252.0) > 0  # both members do carry the edge


def test_each_folds_routing_is_learned_on_the_folds_before_it_only():
    replays, labels, forecasts, next_ret = synthetic(regime_matters=True, seed=3)
    folds, final = route(replays, labels)
    assert folds[0].routing.routes == {} and folds[0].routing.fallback == (0.5, 0.5)  # nothing seen yet
    ordered = [labels[ts] for ts in sorted(labels)]
    for k in range(1, FOLDS):
        seen = slice(0, k * FOLD_BARS)
        expected = fit_routing("select", forecasts[seen], ordered[seen], next_ret[seen], min_rows=30,
                               cost_bps=COST_BPS, bars_per_year=252.0)
        assert folds[k].routing == expected
    assert final == fit_routing("select", forecasts, ordered, next_ret, min_rows=30, cost_bps=COST_BPS,
                                bars_per_year=252.0)

    # Scrambling the last fold's outcomes moves no earlier fold's routing (and not its predictions).
    tampered = [[*member[:-1], FoldReplay(member[-1].timestamps, member[-1].prediction, member[-1].target,
                                          -member[-1].next_ret, member[-1].fwd)] for member in replays]
    scrambled, _ = route(tampered, labels)
    assert [f.routing for f in folds] == [f.routing for f in scrambled]
    np.testing.assert_array_equal(oos_returns(folds[:-1]), oos_returns(scrambled[:-1]))


def test_a_thin_an_unseen_and_a_null_regime_take_the_fallback():
    rng = np.random.default_rng(4)
    forecasts = rng.normal(0, 1, (200, 2))
    next_ret = forecasts[:, 1] * 0.01 + rng.normal(0, 0.001, 200)  # member 2 wins overall
    labels = ["busy"] * 190 + ["thin"] * 10
    routing = fit_routing("select", forecasts, labels, next_ret, min_rows=30, cost_bps=0.0,
                          bars_per_year=252.0)
    assert routing.fallback == (0.0, 1.0) and set(routing.routes) == {"busy"}
    assert routing.rows == {"busy": 190, "thin": 10}
    for label in ("thin", "never_seen", None):
        assert routing.weights_for(label) == routing.fallback and routing.route_of(label) == "fallback"
    row = np.array([[3.0, -2.0]])
    assert routing.apply(row, [None])[0] == -2.0
    assert Routing.from_json(json.loads(json.dumps(routing.to_json()))) == routing


# ---- a router version of two GOOG member versions --------------------------------------------

BARS = 400


@pytest.fixture(scope="module")
def frame(goog):
    return goog.head(BARS)


@pytest.fixture(scope="module")
def trained(frame):
    results = [train_model(frame, kind, timeframe="1d", n_folds=3) for kind in ("linear", "knn")]
    members = []
    for number, result in enumerate(results, start=1):
        sha = hashlib.sha256(result.artifact).hexdigest()
        members.append(MemberVersion(number, 100 + number, sha, {**result.manifest.to_json(),
                                                                 "artifact_sha256": sha}))
    return members, {m.artifact_sha256: r.artifact for m, r in zip(members, results, strict=True)}


def weekday_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """A causal stand-in for regime labels (each bar's own weekday), null on the first 30 bars."""
    labels = ["early" if ts.weekday() < 2 else "late" for ts in frame["ts"].to_list()]
    return pl.DataFrame({"ts": frame["ts"], "trend": [None] * 30 + labels[30:]})


def test_a_router_version_stores_json_and_serves_its_members_routed_by_label(frame, trained):
    members, artifacts = trained
    labels = weekday_labels(frame)
    result = train_router_version(frame, members, axis="trend", min_rows=20, labels=labels)
    manifest = result.manifest
    assert manifest.model_kind == "regime_router" and manifest.artifact_format == ARTIFACT_FORMAT
    assert manifest.spec["router"]["members"] == [1, 2] and manifest.spec["router"]["axis"] == "trend"
    assert len(manifest.params["fold_routings"]) == len(manifest.folds) == 3
    assert manifest.metrics["n"] == len(result.out_of_sample.timestamps)
    document = json.loads(result.artifact)
    assert document["format"] == DOCUMENT_FORMAT and set(document["routes"]) == {"early", "late"}

    sha = hashlib.sha256(result.artifact).hexdigest()
    load_artifact = artifacts.__getitem__
    serving = load_servable(manifest.to_json(), result.artifact, sha256=sha, load_artifact=load_artifact)
    assert isinstance(serving, RouterServable) and serving.inputs == ["v1", "v2"]
    own = [load_servable(m.manifest, artifacts[m.artifact_sha256], sha256=m.artifact_sha256,
                         load_artifact=artifacts.__getitem__) for m in members]

    from engine.pipeline import version_features

    def features_of(spec):
        return version_features(frame, spec)

    wanted = serving.candidates(features_of)[-40:]
    by_bar = dict(zip(labels["ts"].to_list(), labels["trend"].to_list(), strict=True))
    forecast = serving.forecast(features_of, wanted, labels=by_bar)
    assert forecast.ts == wanted and forecast.X.shape == (40, 2)
    routing = Routing.from_json(document)
    for i, ts in enumerate(wanted):
        weights = np.asarray(routing.weights_for(by_bar[ts]))
        expected = [o.forecast(features_of, [ts]).batch[0] for o in own] @ weights
        assert forecast.batch[i] == pytest.approx(expected, rel=1e-12, abs=1e-9)
    with pytest.raises(ValueError, match="regime label"):
        serving.forecast(features_of, wanted)

    with pytest.raises(ValueError, match="sha256"):
        load_servable(manifest.to_json(), result.artifact + b" ", sha256=sha, load_artifact=load_artifact)
    swapped = {**manifest.to_json()}
    swapped["params"] = {**swapped["params"], "members": list(reversed(swapped["params"]["members"]))}
    with pytest.raises(RouterError, match="members are not the ones"):
        load_servable(swapped, result.artifact, sha256=sha, load_artifact=artifacts.__getitem__)


def test_members_a_router_cannot_switch_between_are_refused_in_one_line(frame, trained):
    members, _ = trained
    labels = weekday_labels(frame)
    with pytest.raises(RouterError, match="at least 2"):
        train_router_version(frame, members[:1], labels=labels)
    router = train_router_version(frame, members, labels=labels)
    nested = MemberVersion(3, 103, "0" * 64, router.manifest.to_json())
    with pytest.raises(RouterError, match="v3 is a router itself"):
        train_router_version(frame, [*members, nested], labels=labels)
    with pytest.raises(RouterError, match="axis 'vol'") as refused:
        train_router_version(frame, members, axis="vol", labels=labels)
    assert "\n" not in str(refused.value)


def test_a_router_labelled_from_its_bars_replays_its_numbers_and_predicts_a_file(frame, trained):
    from engine.abtest import replay_returns
    from engine.regimes.router import regime_labels

    members, artifacts = trained
    regimes = {"min_history": 30, "adx_threshold": 20.0}
    result = train_router_version(frame, members, axis="trend", min_rows=10, regimes=regimes)
    manifest = result.manifest.to_json()
    # An A/B replay relabels the bars under the router's own config: the numbers training reported.
    stamps, returns = replay_returns(frame, manifest, manifest["folds"])
    assert len(stamps) == result.manifest.metrics["n"]
    assert sharpe_ratio(returns, 252.0) == pytest.approx(result.manifest.metrics["sharpe"], rel=1e-12)

    # `huracan predict` on a file: each bar routed by its causal label computed from the file's bars.
    sha = hashlib.sha256(result.artifact).hexdigest()
    serving = load_servable(manifest, result.artifact, sha256=sha, load_artifact=artifacts.__getitem__)
    served = serving.predict_frame(frame)
    own = [load_servable(m.manifest, artifacts[m.artifact_sha256], sha256=m.artifact_sha256,
                         load_artifact=artifacts.__getitem__).predict_frame(frame) for m in members]
    labels = regime_labels(frame, regimes, "trend")
    routing = Routing.from_json(json.loads(result.artifact))
    X = np.column_stack([o["prediction"].to_numpy() for o in own])
    expected = routing.apply(X, [labels[ts] for ts in own[0]["ts"].to_list()])
    np.testing.assert_allclose(served["prediction"].to_numpy(), expected, rtol=1e-12, atol=1e-9)
    assert len({routing.route_of(labels[ts]) for ts in served["ts"].to_list()}) >= 2

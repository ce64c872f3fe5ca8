"""The agent kinds dqn and ppo_sizing: seeded and reproducible, their artifact (JSON spec + torch
weights) round-trips and is refused when tampered with, the served actor is the library's, they
are honest (no edge on noise, an edge on a planted signal, out of sample, after costs) and they go
through the product's walk-forward like every kind."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile

import numpy as np
import pytest

from engine.abtest import block_indices
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.metrics import sharpe_ratio, strategy_returns
from engine.models import load_model, make_model, model_tags
from engine.pipeline import make_spec
from engine.serving import servable_from_result
from engine.spec import SpecError
from engine.training import train_model

TINY_DQN = {"total_timesteps": 300, "learning_starts": 50, "window": 4, "net_arch": [16], "device": "cpu"}
TINY_PPO = {"total_timesteps": 128, "n_steps": 64, "batch_size": 32, "n_epochs": 2, "window": 4,
            "net_arch": [16], "device": "cpu"}


def bars(n: int, seed: int, accuracy: float | None = None):
    """(X, next returns): X's columns are the last bar's return (as ret_1 in the recipes), a hint
    of the next move right `accuracy` of the time (noise when None) and two noise columns."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0003, 0.01, n + 1)
    next_returns = returns[1:]
    if accuracy is None:
        hint = rng.normal(size=n)
    else:
        right = rng.random(n) < accuracy
        hint = np.where(right, np.sign(next_returns), -np.sign(next_returns)) + rng.normal(0, 0.2, n)
    return np.column_stack([returns[:-1], hint, rng.normal(size=(n, 2))]), next_returns


@pytest.fixture(scope="module")
def small():
    X, next_returns = bars(120, seed=3)
    return X, next_returns * 1e4  # y: fwd_ret_1 in bps, as train_model hands it


@pytest.fixture(scope="module")
def fitted(small):
    X, y = small
    return {
        "dqn": make_model("dqn", **TINY_DQN).fit(X, y),
        "ppo_sizing": make_model("ppo_sizing", **TINY_PPO).fit(X, y),
    }


def test_the_kinds_are_zoo_regressors_that_report_progress_and_read_a_window():
    for kind in ("dqn", "ppo_sizing"):
        model = make_model(kind, window=7)
        assert model.task == "regression" and model.card.family == "reinforcement"
        assert model_tags(kind).reports_epochs and model_tags(kind).reads_context
        assert not model_tags(kind).supports_warm_start and not model_tags(kind).accepts_eval_set
        assert model.context_rows == 6
        assert model.card.ideal_input.startswith("(num_episodes, episode_length, state_dim)")


def test_predictions_are_positions(fitted, small):
    X, _ = small
    positions = fitted["dqn"].predict(X)
    assert positions.shape == (X.shape[0],) and set(np.unique(positions)) <= {-1.0, 0.0, 1.0}
    sizes = fitted["ppo_sizing"].predict(X)
    assert sizes.shape == (X.shape[0],) and np.all(np.abs(sizes) <= 1.0)
    (last,) = fitted["dqn"].predict_details(X)
    assert last["position"] == positions[-1] and set(last["q_values"]) == {"sell", "hold", "buy"}
    assert last["action"] == max(last["q_values"], key=last["q_values"].get)
    details = fitted["ppo_sizing"].predict_details(X, last=3)
    assert [detail["size"] for detail in details] == pytest.approx(sizes[-3:])


def test_long_only_never_shorts_and_the_cap_bounds_the_size(small):
    X, y = small
    assert set(np.unique(make_model("dqn", **TINY_DQN, long_only=True).fit(X, y).predict(X))) <= {0.0, 1.0}
    sizes = make_model("ppo_sizing", **TINY_PPO, leverage_cap=0.25).fit(X, y).predict(X)
    assert np.all(np.abs(sizes) <= 0.25) and np.any(sizes != 0)


@pytest.mark.parametrize("kind", ["dqn", "ppo_sizing"])
def test_same_seed_same_agent(fitted, small, kind):
    X, y = small
    params = TINY_DQN if kind == "dqn" else TINY_PPO
    again = make_model(kind, **params).fit(X, y)
    assert again.to_bytes() == fitted[kind].to_bytes()
    np.testing.assert_array_equal(again.predict(X), fitted[kind].predict(X))
    other = make_model(kind, **params, seed=7).fit(X, y)
    assert other.to_bytes() != fitted[kind].to_bytes()


@pytest.mark.parametrize("kind", ["dqn", "ppo_sizing"])
def test_artifact_round_trip_predicts_the_same(fitted, small, kind):
    X, _ = small
    artifact = fitted[kind].to_bytes()
    archive = zipfile.ZipFile(io.BytesIO(artifact))
    assert sorted(archive.namelist()) == ["actor.pt", "spec.json"]
    spec = json.loads(archive.read("spec.json"))
    assert spec["format"] == "huracan-rl/1" and spec["kind"] == kind
    assert spec["return_map"]["column"] == 0  # found the last bar's return among the inputs
    loaded = load_model(kind, artifact, sha256=hashlib.sha256(artifact).hexdigest(),
                        artifact_format=fitted[kind].artifact_format)
    np.testing.assert_array_equal(loaded.predict(X), fitted[kind].predict(X))
    assert loaded.predict_details(X, last=5) == fitted[kind].predict_details(X, last=5)
    assert loaded.to_bytes() == artifact


def test_a_tampered_or_foreign_artifact_is_refused(fitted):
    artifact = fitted["dqn"].to_bytes()
    sha256 = hashlib.sha256(artifact).hexdigest()
    tampered = artifact[:-40] + bytes(40)
    with pytest.raises(ValueError, match=r"refusing dqn artifact: sha256 .* does not match"):
        load_model("dqn", tampered, sha256=sha256)
    with pytest.raises(ValueError, match="refusing dqn artifact"):
        load_model("dqn", artifact, artifact_format="pickle")
    # An actor.pt that unpickles an object: torch's weights-only loader refuses it.
    import torch

    pickled = io.BytesIO()
    torch.save({"0.weight": torch.zeros(1), "evil": zipfile.ZipInfo("x")}, pickled)
    source = zipfile.ZipFile(io.BytesIO(artifact))
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as target:
        target.writestr("spec.json", source.read("spec.json"))
        target.writestr("actor.pt", pickled.getvalue())
    with pytest.raises(ValueError, match="refusing 'dqn' artifact: its actor.pt is not a torch weights file"):
        load_model("dqn", forged.getvalue())
    with pytest.raises(ValueError, match="refusing 'dqn' artifact: not a huracan-rl/1 archive"):
        load_model("dqn", b"not a zip at all")
    with pytest.raises(ValueError, match="holds a 'dqn' model, not 'ppo_sizing'"):
        load_model("ppo_sizing", artifact)


def test_the_served_actor_is_the_librarys_policy(small):
    """The plain torch actor the artifact rebuilds gives the library's own deterministic actions."""
    import torch

    from engine.rl.policies import build_actor, dqn_actor_weights, ppo_actor_weights

    X, y = small
    obs = np.random.default_rng(0).normal(size=(50, 4 * 4 + 3)).astype(np.float32)
    dqn = make_model("dqn", **TINY_DQN)
    dqn.fit(X, y)
    env = dqn._make_env(dqn._standardise(X), y / 1e4, dqn._bar_returns(X))
    agent = dqn._make_agent(env, torch.device("cpu"))
    actor = dqn._built_actor(dqn._actor_spec(obs.shape[1]), dqn_actor_weights(agent.policy))
    with torch.no_grad():
        q_values = actor(torch.from_numpy(obs)).numpy()
        library = agent.policy.q_net(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(q_values, library, rtol=1e-6)
    np.testing.assert_array_equal(q_values.argmax(axis=1), agent.predict(obs, deterministic=True)[0])

    ppo = make_model("ppo_sizing", **TINY_PPO)
    ppo.fit(X, y)
    env = ppo._make_env(ppo._standardise(X), y / 1e4, ppo._bar_returns(X))
    agent = ppo._make_agent(env, torch.device("cpu"))
    obs = np.random.default_rng(1).normal(size=(50, env.observation_space.shape[0])).astype(np.float32)
    actor = build_actor(ppo._actor_spec(obs.shape[1]))
    actor.load_state_dict(ppo_actor_weights(agent.policy, ppo.net_arch))
    with torch.no_grad():
        mean = np.clip(actor(torch.from_numpy(obs)).numpy(), -1, 1)
    np.testing.assert_allclose(mean, agent.predict(obs, deterministic=True)[0], rtol=1e-5, atol=1e-6)


def test_fit_reports_progress_records_the_loss_chart_draws(small):
    X, y = small
    records = []
    make_model("dqn", **TINY_DQN).fit(X, y, progress=lambda fraction, message, values: records.append(
        (fraction, message, values)))
    fractions = [fraction for fraction, _, _ in records]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    values = [record for _, _, record in records]
    assert [record["epoch"] for record in values] == list(range(1, len(values) + 1))
    assert all(record["max_epochs"] == len(values) for record in values)
    learned = [record for record in values if record["loss"] is not None]
    assert learned and all(math.isfinite(record["loss"]) for record in learned)
    assert any(record["episode_reward"] is not None for record in values)  # 300 steps > one 120-bar episode
    assert values[-1]["exploration_rate"] == pytest.approx(0.05)


def test_bad_input_gets_one_clear_line(small):
    X, y = small
    with pytest.raises(ValueError, match=r"^window 50 is longer than the 30 training rows"):
        make_model("dqn", **{**TINY_DQN, "window": 50}).fit(X[:30], y[:30])
    for cap in (0, -2.0):
        with pytest.raises(ValueError, match=r"^ppo_sizing parameter leverage_cap must be a number > 0"):
            make_model("ppo_sizing", leverage_cap=cap)
    with pytest.raises(ValueError, match="unknown parameter.*'dqn' model: epsilon"):
        make_model("dqn", epsilon=0.1)
    with pytest.raises(ValueError, match=r"learning_starts \(500\) must be below total_timesteps \(300\)"):
        make_model("dqn", total_timesteps=300).fit(X, y)
    with pytest.raises(ValueError, match="takes no sample weights"):
        make_model("dqn", **TINY_DQN).fit(X, y, sample_weight=np.ones(len(y)))
    for target in ({"target": "net_edge"}, {"horizon": 5}):
        refusal = "^target: dqn learns from the next bar's return; use target fwd_ret with horizon 1"
        with pytest.raises(SpecError, match=refusal):
            make_spec("dqn", **target)
    # The sizing agent reads a member's forecast: training refuses it without one (the slot service
    # feeds it, tests/scheduler/test_sched_ppo_sizing.py).
    make_spec("ppo_sizing")
    with pytest.raises(ValueError, match="^ppo_sizing needs a member version's out-of-sample forecast"):
        train_model(load_ohlcv(bundled_path("GOOG"), symbol="GOOG").head(300), "ppo_sizing", timeframe="1d")


# ---- honesty -------------------------------------------------------------------------------

HONEST_DQN = {"window": 1, "total_timesteps": 1500, "learning_starts": 200, "target_update_interval": 100,
              "exploration_fraction": 0.5, "device": "cpu"}


def sharpe_interval(returns: np.ndarray, *, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% circular block bootstrap interval of the annualised Sharpe (engine.abtest's blocks)."""
    block = max(1, math.ceil(returns.size ** (1 / 3)))
    samples = returns[block_indices(returns.size, n_boot, block, np.random.default_rng(seed))]
    sharpe = samples.mean(axis=1) / samples.std(axis=1, ddof=1) * math.sqrt(252)
    low, high = np.quantile(sharpe, [0.025, 0.975])
    return float(low), float(high)


def test_on_noise_the_agents_out_of_sample_sharpe_is_indistinguishable_from_zero():
    X, next_returns = bars(900, seed=11)
    X = X[:, 1:]  # pure noise features; shuffled returns
    next_returns = np.random.default_rng(2).permutation(next_returns)
    agent = make_model("dqn", **HONEST_DQN, seed=1).fit(X[:300], next_returns[:300] * 1e4)
    positions = agent.predict(X[300:])
    returns = strategy_returns(positions, next_returns[300:], 1.0)
    low, high = sharpe_interval(returns)
    assert low < 0 < high, (low, high, sharpe_ratio(returns, 252))


def test_on_noise_the_sizing_agents_out_of_sample_sharpe_is_indistinguishable_from_zero():
    """The sizing agent's signal (X's first column) is noise too: sizes scored as sizes."""
    X, next_returns = bars(900, seed=12)
    X = X[:, 1:]  # noise: the first column is its signal
    next_returns = np.random.default_rng(3).permutation(next_returns)
    agent = make_model("ppo_sizing", window=1, total_timesteps=1536, n_steps=256, device="cpu",
                       seed=1).fit(X[:300], next_returns[:300] * 1e4)
    returns = strategy_returns(agent.predict(X[300:]), next_returns[300:], 1.0, rule="size")
    low, high = sharpe_interval(returns)
    assert low < 0 < high, (low, high, sharpe_ratio(returns, 252))


def test_on_a_planted_signal_the_agent_beats_buy_and_hold_out_of_sample():
    X, next_returns = bars(500, seed=0, accuracy=0.75)
    agent = make_model("dqn", **HONEST_DQN, seed=0).fit(X[:300], next_returns[:300] * 1e4)
    agent_returns = strategy_returns(agent.predict(X[300:]), next_returns[300:], 1.0)
    hold_returns = strategy_returns(np.ones(200), next_returns[300:], 1.0)
    assert agent_returns.sum() > hold_returns.sum() + 0.1
    assert sharpe_ratio(agent_returns, 252) > sharpe_ratio(hold_returns, 252) + 1.0


# ---- through the product's walk-forward ----------------------------------------------------


def test_dqn_trains_walk_forward_through_train_model(goog):
    result = train_model(goog.tail(300), "dqn", timeframe="1d", n_folds=2,
                         params={**TINY_DQN, "total_timesteps": 200})
    manifest = result.manifest
    assert manifest.model_kind == "dqn" and manifest.artifact_format == "huracan-rl/1"
    assert manifest.target == "fwd_ret_1" and len(manifest.folds) == 2
    assert {"sharpe", "hit_rate", "n"} <= set(manifest.metrics) and manifest.metrics["n"] > 0
    assert set(np.unique(result.out_of_sample.prediction)) <= {-1.0, 0.0, 1.0}
    model = load_model("dqn", result.artifact, sha256=hashlib.sha256(result.artifact).hexdigest())
    assert model.return_map_ is not None and model.return_map_.column == 0  # ret_1, the core recipe's first
    # Served as a stored version is: its positions over the bars, from the same loading checks.
    served = servable_from_result(result).predict_frame(goog.tail(300))
    assert served.height > 200 and set(np.unique(served["prediction"].to_numpy())) <= {-1.0, 0.0, 1.0}

"""`stress`: the champion run on GAN paths, scored as training scores a version, the report
stored for the console, the generator reused, and bad requests refused before anything is written
(both backends)."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from brain import open_brain
from brain.schema import artifacts, stress_results
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.synthetic.gan import GanSettings
from scheduler.config import TrainingConfig
from scheduler.services.stress import StressError, StressReport, latest_stress, stress

GOOG = "GOOG:1d:fwd_ret_1"
TINY = GanSettings(window=24, hidden=8, noise=4, steps=10, batch=16, seed=2)


def _counts(brain) -> tuple[int, int]:
    with brain._read() as conn:  # test check: what the brain holds, whatever the API shows
        return (conn.execute(select(func.count()).select_from(stress_results)).scalar_one(),
                conn.execute(select(func.count()).select_from(artifacts)).scalar_one())


def _sharpe_by_hand(brain, report: StressReport, seed: int) -> float:
    """One path's Sharpe through predict_frame (not the forecast path stress uses)."""
    from engine.metrics import periods_per_year, sharpe_ratio, strategy_returns
    from engine.serving import load_servable
    from engine.synthetic.bars import stitched_bars
    from engine.synthetic.gan import load_generator

    record = brain.latest_stress_result(GOOG)
    generator = load_generator(report.generator["spec"], brain.load_artifact(record.generator_sha256))
    history = brain.load_bars("GOOG", "1d")
    path = stitched_bars(history, generator.paths(1, report.bars, seed)[0])
    champion = brain.champion(GOOG)
    servable = load_servable(champion.manifest, brain.load_artifact(champion.artifact_sha256),
                             sha256=champion.artifact_sha256, load_artifact=brain.load_artifact)
    predicted = servable.predict_frame(path)
    made = predicted.filter(predicted["ts"] > history["ts"][-1])
    close = path["close"].to_numpy()
    where = {ts: i for i, ts in enumerate(path["ts"].to_list())}
    rows = [where[ts] for ts in made["ts"].to_list() if where[ts] + 1 < len(close)]
    next_ret = close[[i + 1 for i in rows]] / close[rows] - 1
    prediction = made["prediction"].to_numpy()[: len(rows)]
    returns = strategy_returns(prediction, next_ret, report.cost_bps, report.rule)
    return sharpe_ratio(returns, periods_per_year("1d"))


def test_stress_scores_the_champion_on_gan_paths_and_stores_the_report(any_brain_url):
    from scheduler.services.training import train_slot

    with open_brain(any_brain_url) as brain:
        brain.store_bars("GOOG", "1d", load_ohlcv(bundled_path("GOOG"), symbol="GOOG"))
        train_slot(brain, "GOOG", "1d", TrainingConfig.model_validate({"models": ["linear"], "n_folds": 2}))
        before = _counts(brain)
        refusals = [
            ({"slot_key": GOOG, "paths": 2}, "has no champion to stress"),
            ({"slot_key": "NOPE:1d:fwd_ret_1", "paths": 2}, "no slot 'NOPE:1d:fwd_ret_1'"),
        ]
        for arguments, message in refusals:
            with pytest.raises(StressError, match=message):
                stress(brain, **arguments, settings=TINY)
        brain.promote_version(GOOG, 1, actor="test", reason="the one version")
        with pytest.raises(StressError, match="--paths must be at least 1, got 0"):
            stress(brain, GOOG, paths=0, settings=TINY)
        with pytest.raises(StressError, match="has 2148 bars; stressing needs at least 5022"):
            stress(brain, GOOG, paths=2, settings=GanSettings(window=5000))
        with pytest.raises(StressError, match="--bars must be more than 20"):
            stress(brain, GOOG, paths=2, bars=20, settings=TINY)
        assert _counts(brain) == before  # refused: nothing written
        assert latest_stress(brain, GOOG) is None

        report, record = stress(brain, GOOG, paths=3, seed=4, bars=60, settings=TINY)
        assert (report.version, report.kind, report.paths, report.bars) == (1, "linear", 3, 60)
        assert report.rule == "sign"
        for spread in (report.sharpe, report.max_drawdown, report.hit_rate):
            assert spread.paths == 3 and spread.p5 <= spread.p50 <= spread.p95
        assert report.max_drawdown.p95 <= 0 and 0 <= report.hit_rate.p5 <= report.hit_rate.p95 <= 1
        assert [fact.name for fact in report.facts.facts] == [
            "distribution", "tails", "volatility_clustering", "no_linear_memory"]
        assert report.facts.synthetic_returns == 3 * 60 and report.facts.real_returns == 2147
        assert report.verdict == report.facts.verdict and report.generator["reused"] is False
        assert (record.slot_key, record.paths, record.seed) == (GOOG, 3, 4)
        assert _counts(brain) == (before[0] + 1, before[1] + 1)  # the row and the generator's weights
        stored = latest_stress(brain, GOOG)
        shown = stored.report
        assert stored.created_at == record.created_at
        assert shown.sharpe == report.sharpe and shown.facts == report.facts
        assert shown.verdict == report.verdict

        # the same bars and settings: the stored generator, no training; one path checked by hand
        single, _ = stress(brain, GOOG, paths=1, seed=7, bars=60, settings=TINY)
        assert single.generator["reused"] is True and single.generator["sha256"] == record.generator_sha256
        assert _counts(brain) == (before[0] + 2, before[1] + 1)
        assert single.sharpe.p50 == pytest.approx(_sharpe_by_hand(brain, single, 7), rel=1e-9)
        assert np.isfinite(single.sharpe.mean) and single.sharpe.mean == single.sharpe.p50

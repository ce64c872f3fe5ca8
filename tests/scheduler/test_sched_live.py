"""The live loop end to end on a tiny trained slot: replayed bars in, forecasts stored, outcomes
matured by hand-checkable values, online blend, live metrics equal to a direct computation."""

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.metrics import mae, mse, sharpe_ratio, strategy_returns, win_rate
from engine.models.online import blend_forecasts
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.daemon.runners import import_bundled_data
from scheduler.services.feeds import PollingFeed, ReplayFeed, feeds_from_config
from scheduler.services.live import FIRST_CHAMPION_REASON, LiveState, demo_live_config, live_tick
from scheduler.services.live_metrics import live_metrics
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:fwd_ret_1"
TRAIN_BARS = 300
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG")


@pytest.fixture
def trained(any_brain_url, goog):
    brain = open_brain(any_brain_url)
    brain.store_bars("GOOG", "1d", goog.head(TRAIN_BARS))
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
    yield brain
    brain.close()


def test_replayed_bars_are_forecast_matured_and_measured(trained, goog):
    brain, config, state = trained, HuracanConfig(), LiveState()
    feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=5)
    reports = [live_tick(brain, config, [feed], state=state, now=NOW) for _ in range(6)]

    assert reports[0].promoted == [f"{SLOT} v1"]
    (promotion,) = brain.promotion_history(SLOT)
    assert (promotion.actor, promotion.reason) == ("scheduler", FIRST_CHAMPION_REASON)
    assert brain.last_bar_ts("GOOG", "1d") == goog["ts"][TRAIN_BARS + 29]

    rows = brain.list_predictions(SLOT)
    # The champion's training window ends on the last bar with a known target (TRAIN_BARS - 2):
    # every bar after it is forecast once, the replayed 30 and the one before them.
    assert [r.ts for r in rows] == goog["ts"][TRAIN_BARS - 1 : TRAIN_BARS + 30].to_list()

    # The batch forecast is the stored model's own prediction on those bars.
    from engine.serving import load_servable

    version = brain.champion(SLOT)
    serving = load_servable(version.manifest, brain.load_artifact(version.artifact_sha256),
                            sha256=version.artifact_sha256, load_artifact=brain.load_artifact)
    direct = serving.predict_frame(goog.head(TRAIN_BARS + 30))
    expected = dict(zip(direct["ts"].to_list(), direct["prediction"].to_list(), strict=True))
    assert [r.batch for r in rows] == pytest.approx([expected[r.ts] for r in rows], rel=1e-9)

    # Realised outcome = next close / close - 1 in bps; the newest bar's future is not known yet.
    closes = dict(zip(goog["ts"].to_list(), goog["close"].to_list(), strict=True))
    following = dict(zip(goog["ts"].to_list()[:-1], goog["close"].to_list()[1:], strict=True))
    matured = [r for r in rows if r.realised is not None]
    assert len(matured) == len(rows) - 1 and rows[-1].realised is None
    for record in matured:
        assert record.realised == pytest.approx(
            (following[record.ts] / closes[record.ts] - 1) * 1e4, rel=1e-12
        )

    # Once an outcome was learned, the online learner joins: blended = 0.8 batch + 0.2 online.
    blended = [r for r in rows if r.online is not None]
    assert blended and rows[0].online is None
    for record in blended:
        assert record.blended == pytest.approx(0.8 * record.batch + 0.2 * record.online, rel=1e-12)
        # Bit for bit the mix OnlineBlend makes: the live loop has no blend of its own.
        assert record.blended == float(blend_forecasts([record.batch], [record.online], 0.2)[0])
    assert all(r.blended == r.batch for r in rows if r.online is None)

    # Live metrics, window by window, equal engine.metrics on the stored rows.
    windows = live_metrics(brain, SLOT, window=10)
    assert [w["n"] for w in windows] == [10, 10, 10]
    for start, window in zip(range(0, 30, 10), windows, strict=True):
        part = matured[start : start + 10]
        pred = np.array([r.blended for r in part])
        real = np.array([r.realised for r in part])
        returns = strategy_returns(pred, real / 1e4, version.manifest["cost_bps"])
        assert window["mae"] == pytest.approx(mae(real, pred), rel=1e-12)
        assert window["mse"] == pytest.approx(mse(real, pred), rel=1e-12)
        assert window["sharpe"] == pytest.approx(sharpe_ratio(returns, 252), rel=1e-12)
        assert window["win_rate"] == pytest.approx(win_rate(returns), rel=1e-12)
        assert (window["start"], window["end"]) == (part[0].ts, part[-1].ts)

    summary = brain.live_summaries()[SLOT]
    assert summary["version"] == 1 and summary["n"] == 30  # the retrain policy's window: 50
    assert summary["sharpe"] == pytest.approx(live_metrics(brain, SLOT, window=50)[0]["sharpe"], rel=1e-12)


def test_a_tick_without_new_bars_does_nothing(trained):
    brain, config, state = trained, HuracanConfig(), LiveState()
    feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=3)
    live_tick(brain, config, [feed], state=state, now=NOW)
    before = brain.list_predictions(SLOT)
    quiet = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=3)
    quiet.poll = lambda brain: 0  # a feed with nothing new
    report = live_tick(brain, config, [quiet], state=state, now=NOW)
    assert (report.new_bars, report.predictions, report.matured) == (0, 0, 0)
    assert brain.list_predictions(SLOT) == before
    # A restarted loop (fresh state) resumes from the brain and writes nothing twice.
    live_tick(brain, config, [quiet], state=LiveState(), now=NOW)
    assert brain.list_predictions(SLOT) == before


def test_polling_feed_stores_only_bars_newer_than_the_brain(any_brain_url, goog, tmp_path):
    path = tmp_path / "goog.csv"
    goog.head(20).drop("symbol").write_csv(path)
    with open_brain(any_brain_url) as brain:
        feed = PollingFeed(path, "GOOG", "1d")
        assert feed.poll(brain) == 20
        assert feed.poll(brain) == 0  # the file did not change
        goog.head(25).drop("symbol").write_csv(path)
        assert feed.poll(brain) == 5
        assert brain.load_bars("GOOG", "1d")["ts"].to_list() == goog["ts"].head(25).to_list()


def test_demo_holds_back_bars_that_its_replay_feeds_play_in(empty_brain_url):
    with open_brain(empty_brain_url) as brain:
        import_bundled_data(brain, hold_back=200)
        series = {symbol: (rows, last) for symbol, _, rows, _, last in brain.list_bar_series()}
        feeds = feeds_from_config(demo_live_config(speed=7))
        assert sorted(f.symbol for f in feeds) == ["BTCUSD", "EURUSD", "GOOG"]
        for feed in feeds:
            full = load_ohlcv(feed.path, symbol=feed.symbol)
            held = min(200, full.height // 5)
            assert series[feed.symbol] == (full.height - held, full["ts"][full.height - held - 1])
            assert feed.remaining(brain) == held
            assert feed.poll(brain) == 7
            assert brain.last_bar_ts(feed.symbol, feed.timeframe) == full["ts"][full.height - held + 6]
        stored = brain.load_bars("GOOG", "1d")
        assert stored.height == series["GOOG"][0] + 7
        assert pl.Series(stored["close"]).is_not_null().all()

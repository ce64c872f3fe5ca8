"""Train/serve parity: a version trained on the `full` recipe with PCA, on the net edge after
costs, with funding rates joined as of each bar, is served by the live loop over tail windows
with the same numbers as batch prediction over the whole history; a bar whose funding rate is too
old is a recorded serve gap, never a forecast on a made-up value."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.serving import load_servable
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.feeds import ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.training import train_slot

SLOT = "GOOG:1d:net_edge_1"
TRAIN_BARS = 1500  # longer than the full recipe's warm-up: the live loop reads tail windows
REPLAYED = 40
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def funding_rates(bars: pl.DataFrame, *, hole: tuple[int, int]) -> pl.DataFrame:
    """One funding rate per bar, stamped an hour after the bar opens (so a bar first sees the
    previous bar's rate), with no rates for bars hole[0]..hole[1] (a feed outage)."""
    rng = np.random.default_rng(7)
    n = bars.height
    rate = 1e-4 * np.sin(np.arange(n) / 9.0) + rng.normal(0, 2e-5, n)
    frame = pl.DataFrame({"ts": bars["ts"] + timedelta(hours=1), "symbol": "GOOG", "rate": rate})
    keep = np.ones(n, dtype=bool)
    keep[hole[0] : hole[1]] = False
    return frame.filter(pl.Series(keep))


@pytest.fixture
def goog():
    return load_ohlcv(bundled_path("GOOG"), symbol="GOOG")


def test_live_loop_serves_full_pca_alt_net_edge_as_batch_predicts(any_brain_url, goog):
    hole = (TRAIN_BARS + 20, TRAIN_BARS + 26)  # six bars without a rate, inside the replay
    brain = open_brain(any_brain_url)
    try:
        brain.store_bars("GOOG", "1d", goog.head(TRAIN_BARS))
        brain.store_alt_data("funding_rate", funding_rates(goog.head(TRAIN_BARS + REPLAYED), hole=hole))
        config = TrainingConfig(
            models=["lightgbm"],
            n_folds=2,
            recipe="full",
            target="net_edge",
            preprocessing=({"step": "scale"}, {"step": "pca", "variance": 0.95}),
            alt=({"kind": "funding_rate", "max_staleness": "3d"},),
            params={"lightgbm": {"n_estimators": 20}},
        )
        (version,) = train_slot(brain, "GOOG", "1d", config)
        assert version.manifest["spec"]["features"]["recipe"] == "full"
        assert version.manifest["preprocessor"]["sha256"]
        assert len(version.manifest["features"]) == 46  # 45 recipe columns + the funding rate

        state = LiveState()
        feed = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=1, follow_only=True)
        windows = []
        load_bars = brain.load_bars

        def recording_load_bars(symbol, timeframe, *, last=None, since=None):
            bars = load_bars(symbol, timeframe, last=last, since=since)
            windows.append(bars.height)
            return bars

        brain.load_bars = recording_load_bars  # the real read, its size noted
        ticks = []
        for _ in range(REPLAYED):
            windows.clear()
            live_tick(brain, HuracanConfig(), [feed], state=state, now=NOW)
            ticks.append(list(windows))
        brain.load_bars = load_bars
        assert brain.last_bar_ts("GOOG", "1d") == goog["ts"][TRAIN_BARS + REPLAYED - 1]

        stored = {row.ts: row.batch for row in brain.list_predictions(SLOT, limit=1000)}
        serving = load_servable(
            version.manifest,
            brain.load_artifact(version.artifact_sha256),
            sha256=version.artifact_sha256,
            load_artifact=brain.load_artifact,
        )
        alt = {"funding_rate": brain.load_alt_data("funding_rate", "GOOG")}
        batch = serving.predict_frame(brain.load_bars("GOOG", "1d"), alt)
        expected = dict(zip(batch["ts"].to_list(), batch["prediction"].to_list(), strict=True))

        replayed = goog["ts"][TRAIN_BARS : TRAIN_BARS + REPLAYED].to_list()
        # Rates are stamped an hour into their bar: a bar sees the previous bar's rate, so the
        # first bar after the hole still reads the rate before it, and the 3-day limit decides.
        gap_bars = {record.ts for record in brain.list_serve_gaps(SLOT, limit=100)}
        assert gap_bars, "the outage left no serve gap"
        assert gap_bars <= set(replayed)
        served = [ts for ts in replayed if ts in stored]
        assert len(served) + len(gap_bars) == len(replayed)
        assert not gap_bars & set(expected), "batch forecast a bar the live loop called a gap"
        np.testing.assert_allclose(
            [stored[ts] for ts in served], [expected[ts] for ts in served], rtol=1e-9, atol=1e-9
        )
        gap = brain.list_serve_gaps(SLOT, limit=1)[0]
        assert gap.state in {"alt_stale", "alt_missing"} and "funding_rate" in gap.detail
        # The tail windows were used: after the first tick no tick read the whole history, and
        # once a window was held a tick read only the bars from its newest one on. (The first
        # tick also reads the whole history once for the live metrics by regime.)
        (tail,) = state.tails.values()
        assert tail.bars_needed() is not None
        assert ticks[0][0] == TRAIN_BARS + 1 and max(max(tick) for tick in ticks[1:]) < TRAIN_BARS
        assert ticks[2:] == [[2]] * (REPLAYED - 2), ticks
    finally:
        brain.close()

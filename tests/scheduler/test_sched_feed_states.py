"""What the live loop knows of its feeds reaches every console (issue 14): a replay that plays
its file out is `ended`, a feed whose source fails is `failing` with the reason while the other
feeds go on, and a state is written when it changes, not at every tick. On both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from scheduler.config import HuracanConfig, TrainingConfig
from scheduler.services.feeds import PollingFeed, ReplayFeed
from scheduler.services.live import LiveState, live_tick
from scheduler.services.overview import read_snapshot
from scheduler.services.training import train_slot

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture
def brain(any_brain_url):
    goog = load_ohlcv(bundled_path("GOOG"), symbol="GOOG")
    brain = open_brain(any_brain_url)
    brain.store_bars("GOOG", "1d", goog.head(goog.height - 3))  # three bars left to replay
    train_slot(brain, "GOOG", "1d", TrainingConfig(models=["linear"], n_folds=2))
    yield brain
    brain.close()


def test_feeds_are_running_then_ended_and_a_failing_source_is_named(brain, tmp_path):
    replay = ReplayFeed(bundled_path("GOOG"), "GOOG", "1d", speed=2)
    broken = PollingFeed(tmp_path / "gone.csv", "EURUSD", "1h")
    state, config = LiveState(), HuracanConfig()
    writes = []
    record = brain.record_feed_state
    brain.record_feed_state = lambda *args, **kwargs: (writes.append(args), record(*args, **kwargs))[1]

    report = live_tick(brain, config, [broken, replay], state=state, now=NOW)
    assert report.new_bars == 2 and report.predictions > 0  # the broken feed stopped nothing
    states = {(f.symbol, f.state): f.detail for f in brain.feed_states()}
    assert ("GOOG", "running") in states
    (reason,) = [detail for (symbol, kind), detail in states.items() if symbol == "EURUSD"]
    assert [kind for (symbol, kind) in states if symbol == "EURUSD"] == ["failing"]
    assert "gone.csv" in reason and "\n" not in reason

    live_tick(brain, config, [broken, replay], state=state, now=NOW)  # the last bar: played out
    live_tick(brain, config, [broken, replay], state=state, now=NOW)
    assert {(f.symbol, f.state) for f in brain.feed_states()} == {("GOOG", "ended"), ("EURUSD", "failing")}
    # Three ticks, three changes: GOOG running, EURUSD failing, GOOG ended.
    assert [(args[0], args[2]) for args in writes] == [
        ("EURUSD", "failing"), ("GOOG", "running"), ("GOOG", "ended")]
    assert {f.symbol: f.state for f in read_snapshot(brain).feeds} == {"EURUSD": "failing", "GOOG": "ended"}


def test_the_status_bar_words_the_feeds():
    from brain.records import FeedStateRecord
    from huracan_tui.console.app import feeds_text

    def feed(symbol, state, detail=""):
        return FeedStateRecord(symbol, "1h", state, detail, NOW)

    assert feeds_text(()) == ""
    assert feeds_text((feed("A", "running"), feed("B", "running"), feed("C", "ended"))) == (
        "feeds: 2 running, 1 ended")
    assert feeds_text((feed("A", "running"), feed("B", "failing", "gone.csv: not found"),
                       feed("C", "failing", "x"))) == "feed B 1h FAILING: gone.csv: not found (+1 more)"

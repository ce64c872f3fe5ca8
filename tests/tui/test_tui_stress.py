"""The slot detail shows the slot's newest stress result (issue 16, item 3): the spread of the
champion's Sharpe, max drawdown and hit rate over the GAN paths and the stylised facts' verdict,
read from the brain (no torch in the console); a slot never stressed shows nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from textual.widgets import Static

from brain import open_brain
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.synthetic.stylised import stylised_facts
from huracan_tui.console.stress_text import stress_text
from scheduler.services.stress import Spread, StressReport, latest_stress
from tests.tui.helpers import make_app, wait_until
from tests.tui.test_tui_walk_forward_equity import GOOG, _open_goog

MADE_AT = datetime(2026, 1, 7, 10, 15, tzinfo=UTC)


def _report(version: int) -> StressReport:
    real = np.diff(np.log(load_ohlcv(bundled_path("GOOG"), symbol="GOOG")["close"].to_numpy()))
    rng = np.random.default_rng(0)
    gaussian = [rng.normal(real.mean(), real.std(), 120) for _ in range(4)]  # fails the facts
    return StressReport(
        slot_key=GOOG, version=version, kind="linear", paths=4, bars=120, seed=0, cost_bps=1.0, rule="sign",
        sharpe=Spread(0.21, -0.84, 0.25, 1.31, 4), max_drawdown=Spread(-0.12, -0.2, -0.11, -0.05, 4),
        hit_rate=Spread(0.51, 0.47, 0.51, 0.55, 4), facts=stylised_facts(real, gaussian),
        generator={"spec": {}, "reused": False, "sha256": "0" * 64},
    )


def _stress(app) -> Static:
    return app.screen.query_one("#stress", Static)


async def test_the_detail_shows_the_newest_stress_result(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        version = brain.get_version(GOOG, 1)
        report = _report(1)
        brain.record_stress_result(GOOG, version.id, paths=4, seed=0, generator_key="k",
                                   generator_weights=b"weights", report=report.to_json(), at=MADE_AT)
        stored = latest_stress(brain, GOOG)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_goog(pilot, "v2")
        await wait_until(pilot, lambda: _stress(app).display, what="the stress result")
        shown = str(_stress(app).render())
        assert shown == stress_text(stored).plain
        assert shown.startswith("stress v1 linear · 4 GAN paths × 120 bars · 2026-01-07 10:15")
        assert "Sharpe" in shown and "-0.84" in shown and "+0.25" in shown and "+1.31" in shown
        assert "Max DD" in shown and "-20.0%" in shown and "Hit rate" in shown and "55.0%" in shown
        assert report.verdict.startswith("fails: ") and report.verdict in shown
        assert "tails" in shown and "volatility_clustering" in shown


async def test_a_slot_never_stressed_shows_no_stress_part(seeded_brain_url):
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_goog(pilot, "v2")
        assert app.screen.detail is not None and app.screen.detail.stress is None
        assert not _stress(app).display

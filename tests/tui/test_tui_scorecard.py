"""The slot detail's scorecard (issue 15, item 3): the version's trading metrics after costs on its
walk-forward bars beside buy-and-hold and the champion on the same bars, the positions it held,
and an agent's newest live choice in words."""

from __future__ import annotations

from textual.widgets import Static

from brain import open_brain
from huracan_tui.console.scorecard_text import choice_text, scorecard_text
from scheduler.services.scorecard import version_scorecard
from tests.tui.helpers import wait_until
from tests.tui.test_tui_walk_forward_equity import GOOG, _open_goog, make_app


def _scorecard(app) -> str:
    return str(app.screen.query_one("#scorecard", Static).render())


async def test_the_detail_shows_the_versions_scorecard_beside_buy_and_hold_and_the_champion(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        champion = brain.champion(GOOG)
        card = version_scorecard(brain, GOOG, 2)
    app = make_app(seeded_brain_url)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_goog(pilot, "v2")
        await wait_until(pilot, lambda: "walk-forward out of sample" in _scorecard(app), what="the scorecard")
        shown = _scorecard(app)
        assert shown == scorecard_text(card).plain
        assert f"v2 lightgbm · walk-forward out of sample · {card.bars} bars" in shown
        assert "Sharpe" in shown and "Sortino" in shown and "Max DD" in shown and "buy & hold" in shown
        assert f"{card.lines[0].metrics['sharpe']:+.2f}" in shown
        if champion is not None and champion.number != 2:
            assert f"★ v{champion.number} {champion.model_kind}" in shown
        assert "held: short" in shown
        assert max(len(line) for line in shown.splitlines()) <= 78  # fits 80 columns


def test_an_agents_choice_reads_as_words():
    assert choice_text({"action": "buy", "position": 1.0,
                        "q_values": {"sell": -0.012, "hold": 0.003, "buy": 0.021}}) == (
        "buy · Q sell -0.012 · hold +0.003 · buy +0.021")
    assert choice_text({"size": 0.634, "action": 0.317}) == "size +0.63"

"""`huracan regimes SLOT` (issue 17, item 3): the slot's regime now and its regime map as text or
JSON, the numbers scheduler.services.regime_map computes; a family name; bad input in one line."""

from __future__ import annotations

import json

import pytest

from brain import open_brain
from huracan_tui.cli.main import run as huracan
from scheduler.services.regime_map import regime_map
from scheduler.services.regimes import current_regimes

GOOG = "GOOG:1d:fwd_ret_1"


def in_process(capsys, *args: str) -> tuple[int, str, str]:
    code = huracan(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def champion_brain(seeded_brain_url) -> str:
    with open_brain(seeded_brain_url) as brain:
        brain.promote_version(GOOG, 2, actor="alice", reason="a champion to test against")
    return seeded_brain_url


def test_json_is_the_regime_map_with_the_current_regimes(champion_brain, capsys):
    code, out, err = in_process(capsys, "regimes", GOOG, "--json", "--brain", champion_brain)
    assert code == 0, err
    document = json.loads(out)
    with open_brain(champion_brain) as brain:
        expected = regime_map(brain, GOOG)
        now = current_regimes(brain, GOOG)
    assert document["current"] == now and document["axis"] == "trend" and document["champion"] == 2
    assert document["metric"] == "sharpe" and document["min_samples"] == 30 and document["source"] == "oos"
    assert [r["regime"] for r in document["regimes"]] == ["trending_up", "trending_down", "ranging"]
    for row, ranking in zip(document["regimes"], expected.regimes, strict=True):
        assert row["bars"] == ranking.bars and row["best"] == ranking.best.version
        for version, standing in zip(row["versions"], ranking.standings, strict=True):
            assert (version["version"], version["n"], version["rank"]) == (standing.version, standing.n,
                                                                          standing.rank)
            assert version["value"] == pytest.approx(standing.value)
            assert (version["vs_champion"] is None) == standing.champion
        challenger = next(v for v in row["versions"] if not v["champion"])
        assert challenger["vs_champion"]["test"] == "sharpe_bootstrap"
        assert challenger["vs_champion"]["verdict"] in ("better", "worse", "no_difference")


def test_text_a_family_and_another_axis(champion_brain, capsys):
    code, out, err = in_process(capsys, "regimes", GOOG, "--brain", champion_brain)
    assert code == 0, err
    assert out.startswith(f"slot {GOOG}: now vol ") and "regimes on trend, ranked by sharpe" in out
    assert "(champion)" in out and "vs champion" in out
    code, out, err = in_process(capsys, "regimes", GOOG, "--regime", "trending", "--json", "--brain",
                                champion_brain)
    assert code == 0, err
    (trending,) = json.loads(out)["regimes"]
    code, out, _ = in_process(capsys, "regimes", GOOG, "--json", "--brain", champion_brain)
    parts = {row["regime"]: row for row in json.loads(out)["regimes"]}
    assert trending["bars"] == parts["trending_up"]["bars"] + parts["trending_down"]["bars"]
    assert {v["n"] for v in trending["versions"]} == {
        parts["trending_up"]["versions"][0]["n"] + parts["trending_down"]["versions"][0]["n"]}
    code, out, err = in_process(capsys, "regimes", GOOG, "--axis", "vol", "--json", "--brain", champion_brain)
    assert code == 0, err
    assert [r["regime"] for r in json.loads(out)["regimes"]] == ["low", "normal", "high"]


@pytest.mark.parametrize(("arguments", "message"), [
    (("NOPE:1d:fwd_ret_1",), "no slot NOPE:1d:fwd_ret_1 (slots: EURUSD:1h:fwd_ret_1, GOOG:1d:fwd_ret_1)"),
    ((GOOG, "--regime", "sideways"), "unknown regime 'sideways'; known: low, normal, high"),
    ((GOOG, "--regime", "high", "--axis", "trend"), "--regime high is a vol regime, not a trend one"),
    ((GOOG, "--axis", "hmm"), "no regime axis 'hmm' for this slot; axes: vol, trend"),
])
def test_bad_input_is_one_line_and_exit_2(seeded_brain_url, capsys, arguments, message):
    code, out, err = in_process(capsys, "regimes", *arguments, "--brain", seeded_brain_url)
    assert code == 2 and out == ""
    assert err.startswith(f"huracan: error: {message}") and len(err.strip().splitlines()) == 1

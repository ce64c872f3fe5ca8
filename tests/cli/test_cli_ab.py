"""`huracan ab`: champion versus challenger on a brain trained by the scheduler on bundled data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import abtest
from tests.cli.test_cli import run

SLOT = "GOOG:1d:fwd_ret_1"


def test_ab_compares_stores_and_replays_the_walk_forward(seeded_brain_url):
    result = run("ab", SLOT, "--challenger", "2", "--json", "--n-boot", "200", "--brain", seeded_brain_url)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["champion"] == 1 and document["challengers"] == [2]
    assert {row["test"] for row in document["results"]} == set(abtest.TESTS)
    for row in document["results"]:
        assert row["verdict"] in abtest.VERDICTS
        assert row["correction"] == "holm"
    assert document["best_model"] in ("v1", "v2")

    from brain import open_brain

    with open_brain(seeded_brain_url) as brain:
        stored = brain.list_comparisons(SLOT)
        assert len(stored) == len(abtest.TESTS)
        assert {row["challenger_version"] for row in stored} == {2}
        # The replay refits each fold like training did: its per-fold Sharpe equals the manifest's.
        for number in (1, 2):
            version = brain.get_version(SLOT, number)
            frame = brain.load_bars("GOOG", "1d")
            folds = brain.get_version(SLOT, 1).manifest["folds"]
            stamps, returns = abtest.replay_returns(frame, version.manifest, folds)
            start = 0
            for fold in version.manifest["folds"]:
                size = fold["test_end"] - fold["test_start"]
                piece = returns[start : start + size]
                start += size
                from engine.metrics import sharpe_ratio

                assert sharpe_ratio(piece, 252) == pytest.approx(fold["metrics"]["sharpe"], rel=1e-9)
            assert len(stamps) == returns.size == start
    assert np.isfinite(returns).all()


def test_ab_text_output_and_bad_input(seeded_brain_url):
    text = run("ab", SLOT, "--challenger", "2", "--n-boot", "50", "--brain", seeded_brain_url)
    assert text.returncode == 0, text.stderr
    assert "best model:" in text.stdout and "diebold_mariano" in text.stdout

    missing = run("ab", SLOT, "--challenger", "9", "--brain", seeded_brain_url)
    assert missing.returncode != 0
    assert "has no version 9" in missing.stderr and "Traceback" not in missing.stderr
    unknown = run("ab", "NOPE:1d:fwd_ret_1", "--challenger", "2", "--brain", seeded_brain_url)
    assert unknown.returncode != 0 and "no slot" in unknown.stderr
    itself = run("ab", SLOT, "--challenger", "1", "--brain", seeded_brain_url)
    assert itself.returncode != 0 and "its own challenger" in itself.stderr

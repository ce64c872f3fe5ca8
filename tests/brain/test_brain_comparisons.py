"""Stored A/B comparisons, on both backends."""

from __future__ import annotations

import math

import pytest

from brain import BrainError

SLOT = "GOOG:1d:fwd_ret_1"


def test_comparisons_are_stored_and_listed(brain):
    rows = [
        {"slot_key": SLOT, "champion_version": 1, "challenger_version": 2, "test": test,
         "statistic": 1.5, "p_value": 0.01, "p_adjusted": 0.03, "correction": "holm",
         "effect_size": math.nan, "verdict": "challenger_better", "details": {"ci": [0.1, math.inf]}}
        for test in ("paired_t", "wilcoxon")
    ]
    assert brain.record_comparison(rows) == 2
    stored = brain.list_comparisons(SLOT)
    assert {r["test"] for r in stored} == {"paired_t", "wilcoxon"}
    assert stored[0]["effect_size"] is None and stored[0]["details"] == {"ci": [0.1, None]}
    assert len(brain.list_comparisons(SLOT, test="wilcoxon")) == 1
    assert brain.list_comparisons(SLOT, challenger_version=3) == []
    with pytest.raises(BrainError, match="verdict"):
        brain.record_comparison([{**rows[0], "verdict": "maybe"}])
    with pytest.raises(BrainError, match="unknown keys"):
        brain.record_comparison([{**rows[0], "colour": "red"}])
    assert len(brain.list_comparisons(SLOT)) == 2  # nothing written by the refused rows

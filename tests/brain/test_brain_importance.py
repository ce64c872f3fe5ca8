"""Feature importance per version (ranks, trend, alerts), on both backends."""

from __future__ import annotations

import math

import pytest

from brain import BrainError

SLOT = "GOOG:1d:fwd_ret_1"


def _version(brain, artifact: bytes):
    brain.ensure_slot("GOOG", "1d", "fwd_ret_1", 1)
    return brain.add_version(
        SLOT, model_kind="linear", manifest={}, artifact=artifact, artifact_format="skops",
        metrics=[], data_start=None, data_end=None,
    )


def test_importance_ranks_replace_and_read_back(brain):
    v1 = _version(brain, b"one")
    values = {"b": 0.5, "a": 0.5, "c": 2.0, "d": math.nan}
    assert brain.record_feature_importance(v1.id, "tree_shap", values) == 4
    rows = brain.feature_importance(v1.id, "tree_shap")
    assert [(r["feature"], r["rank"]) for r in rows] == [("c", 1), ("a", 2), ("b", 3), ("d", 4)]
    assert rows[3]["value"] is None  # NaN is stored as NULL
    brain.record_feature_importance(v1.id, "tree_shap", {"a": 1.0, "b": 0.0})  # a retrain's rerun replaces
    brain.record_feature_importance(v1.id, "variance", {"a": 1.0})
    assert [r["feature"] for r in brain.feature_importance(v1.id, "tree_shap")] == ["a", "b"]
    assert {r["method"] for r in brain.feature_importance(v1.id)} == {"tree_shap", "variance"}
    with pytest.raises(BrainError, match="no model version with id"):
        brain.record_feature_importance(10_000, "tree_shap", {"a": 1.0})
    with pytest.raises(BrainError, match="no features"):
        brain.record_feature_importance(v1.id, "tree_shap", {})


def test_importance_trend_reports_rank_changes_and_top_k_alerts(brain):
    versions = [_version(brain, f"v{n}".encode()) for n in range(3)]
    brain.record_feature_importance(versions[0].id, "permutation", {"a": 3, "b": 2, "c": 1, "d": 0})
    brain.record_feature_importance(versions[1].id, "permutation", {"a": 2, "b": 3, "c": 1, "d": 0})
    brain.record_feature_importance(versions[2].id, "permutation", {"a": 2, "b": 0, "c": 1, "d": 3})
    trend = brain.importance_trend(SLOT, "permutation", top_k=2)
    assert [v["number"] for v in trend["versions"]] == [1, 2, 3]
    first, second, third = trend["versions"]
    assert first["alert"] is False and first["changes"] == {}
    assert second["top"] == ["b", "a"] and second["alert"] is False
    assert second["changes"] == {"a": -1, "b": 1}
    assert third["top"] == ["d", "a"] and third["entered"] == ["d"] and third["left"] == ["b"]
    assert third["alert"] is True and trend["alerts"] == [3]
    assert brain.importance_trend(SLOT, "tree_shap")["versions"] == []

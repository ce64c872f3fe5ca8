"""`huracan models`: the zoo and its info cards, as a user runs it (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
CARD_KEYS = {"kind", "task", "family", "library", "available", "reason", "purpose", "ideal_input",
             "feature_requirements", "output_schema", "regimes", "default_params"}  # fmt: skip


def huracan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "huracan"), *args], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))  # fmt: skip


def test_models_json_lists_the_zoo_with_cards():
    done = huracan("models", "--json")
    assert done.returncode == 0, done.stderr
    entries = {entry["kind"]: entry for entry in json.loads(done.stdout)["models"]}
    tabular = {
        "linear", "knn", "svm", "decision_tree", "random_forest", "xgboost", "lightgbm", "catboost",
        "logistic", "knn_classifier", "svm_classifier", "decision_tree_classifier",
        "random_forest_classifier", "xgboost_classifier", "lightgbm_classifier", "catboost_classifier",
    }  # fmt: skip
    assert tabular <= set(entries)
    for entry in entries.values():
        assert set(entry) >= CARD_KEYS
        assert entry["available"] is (entry["reason"] is None)
    assert entries["lightgbm"]["default_params"]["n_estimators"] == 200
    assert entries["logistic"]["task"] == "classification" and entries["logistic"]["family"] == "baseline"


def test_models_text_is_a_table_and_one_kind_shows_its_card():
    table = huracan("models")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:5] == ["kind", "task", "family", "library", "available"]
    assert any(line.split()[:4] == ["xgboost", "regression", "tree", "xgboost"] for line in lines)
    card = huracan("models", "svm_classifier")
    assert card.returncode == 0, card.stderr
    assert card.stdout.startswith("svm_classifier  (classification, baseline, scikit-learn)")
    assert "output schema" in card.stdout and "default params" in card.stdout
    (entry,) = json.loads(huracan("models", "random_forest", "--json").stdout)["models"]
    assert entry["kind"] == "random_forest"


def test_unknown_kind_is_one_line_and_nonzero():
    done = huracan("models", "boosted_hamster")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("huracan: error: no model kind 'boosted_hamster' in the zoo (known: linear")
    assert len(done.stderr.strip().splitlines()) == 1

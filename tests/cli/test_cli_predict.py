"""`huracan predict` as a user runs it: a stored version, a file of bars, predictions out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import update

from brain import open_brain
from brain.schema import model_versions
from engine.data import load_ohlcv
from engine.datasets import bundled_path
from engine.features import add_features
from engine.models import load_model

BIN = Path(sys.executable).parent
SLOT = "GOOG:1d:fwd_ret_1"


def huracan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "huracan"), *args], capture_output=True, text=True, timeout=240, env=dict(os.environ)
    )


def test_predict_matches_the_stored_model_and_writes_files(seeded_brain_url, tmp_path):
    data = str(bundled_path("GOOG"))
    done = huracan("predict", SLOT, "--number", "1", "--data", data, "--brain", seeded_brain_url, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["version"], document["model_kind"]) == (1, "linear")

    with open_brain(seeded_brain_url) as brain:
        version = brain.get_version(SLOT, 1)
        model = load_model("linear", brain.load_artifact(version.artifact_sha256))
    features = version.manifest["features"]
    ready = add_features(load_ohlcv(bundled_path("GOOG"), symbol="GOOG")).drop_nulls(features)
    expected = model.predict(ready.select(features).to_numpy())
    got = np.array([row["prediction"] for row in document["predictions"]])
    # Forecasts in bps: a prediction near zero may differ in its last bits between two processes'
    # BLAS paths (2e-14 bps seen), so the tolerance is absolute there.
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-9)
    assert document["rows"] == ready.height and document["last_ts"] == ready["ts"][-1].isoformat()

    for name in ("out.csv", "out.parquet"):
        out = tmp_path / name
        written = huracan(
            "predict", SLOT, "--data", data, "--output", str(out), "--brain", seeded_brain_url, "--json"
        )
        assert written.returncode == 0, written.stderr
        assert json.loads(written.stdout)["version"] == 2  # the latest by default
        table = pl.read_csv(out) if name.endswith(".csv") else pl.read_parquet(out)
        assert table.columns == ["ts", "prediction"] and table.height == ready.height


def test_predict_refuses_a_file_whose_features_do_not_match(seeded_brain_url):
    with open_brain(seeded_brain_url) as brain:
        version = brain.get_version(SLOT, 1)
        manifest = {**version.manifest, "features": [*version.manifest["features"], "sentiment_42"]}
        with brain._write() as connection:  # test set-up: a version trained on a feature we lack
            connection.execute(
                update(model_versions).where(model_versions.c.id == version.id).values(manifest=manifest)
            )
    done = huracan(
        "predict", SLOT, "--number", "1", "--data", str(bundled_path("GOOG")), "--brain", seeded_brain_url
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "features do not match" in done.stderr
    assert "sentiment_42" in done.stderr and "Traceback" not in done.stderr


def test_predict_refuses_unknown_slots_other_bars_and_output_types(seeded_brain_url, tmp_path):
    goog = str(bundled_path("GOOG"))
    for args, message in [
        (("nope:1d:fwd_ret_1", "--data", goog), "no slot 'nope:1d:fwd_ret_1'"),
        ((SLOT, "--data", str(bundled_path("EURUSD"))), "bars are 1h, slot GOOG:1d:fwd_ret_1 is 1d"),
        ((SLOT, "--data", goog, "--output", str(tmp_path / "out.xlsx")), "use a .parquet or .csv"),
    ]:
        done = huracan("predict", *args, "--brain", seeded_brain_url)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_train_any_zoo_kind_incrementally_then_predict(tmp_path):
    """`huracan train --cadence incremental` continues a classifier on the new bars; its
    predictions are expected directions in [-1, 1]."""
    frame = load_ohlcv(bundled_path("GOOG"), symbol="GOOG").tail(500)
    early, full = tmp_path / "early.csv", tmp_path / "full.csv"
    frame.head(400).write_csv(early)
    frame.write_csv(full)
    brain = f"sqlite:///{tmp_path / 'brain.db'}"
    common = ("--symbol", "GOOG", "--models", "lightgbm_classifier", "--brain", brain, "--json")
    first = huracan("train", "--data", str(early), "--cadence", "quick", *common)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["versions"][0]["cadence"] == "quick"
    more = huracan("train", "--data", str(full), "--cadence", "incremental", *common)
    assert more.returncode == 0, more.stderr
    (version,) = json.loads(more.stdout)["versions"]
    assert (version["number"], version["cadence"], version["folds"]) == (2, "incremental", 1)
    assert {"accuracy", "f1", "log_loss"} <= set(version["metrics"])

    done = huracan("predict", SLOT, "--data", str(full), "--brain", brain, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["task"] == "classification" and document["version"] == 2
    assert all(-1 <= row["prediction"] <= 1 for row in document["predictions"])

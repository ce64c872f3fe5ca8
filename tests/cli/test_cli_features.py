"""`huracan features` as a user runs it: the real script, real files, a Parquet file out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engine.data import CANONICAL_COLUMNS, load_ohlcv
from engine.datasets import bundled_path
from engine.features import compute_features, load_recipe, parse_recipe

GOOG, EURUSD = str(bundled_path("GOOG")), str(bundled_path("EURUSD"))
HURACAN = Path(sys.executable).parent / "huracan"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HURACAN), *args], capture_output=True, text=True, timeout=240)


def test_default_recipe_on_one_file(tmp_path):
    out = tmp_path / "goog_features.parquet"
    done = run("features", "--data", GOOG, "--output", str(out), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    recipe = load_recipe()
    assert document["rows"] == 2148 and document["output"] == str(out) and document["symbols"] == ["GOOG"]
    assert document["columns"] == [*CANONICAL_COLUMNS, *recipe.columns()]
    assert document["features"] == recipe.columns()
    written = pl.read_parquet(out)
    assert_frame_equal(written, compute_features(load_ohlcv(GOOG), recipe))


def test_several_files_and_a_recipe(tmp_path):
    recipe_file = tmp_path / "small.yaml"
    recipe_file.write_text("features:\n  - {indicator: rsi, periods: [7]}\n  - {indicator: obv}\n")
    out = tmp_path / "both.parquet"
    done = run("features", "--data", GOOG, "--data", EURUSD, "--symbol", "GOOG", "--symbol", "EUR",
               "--recipe", str(recipe_file), "--output", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "7148 rows" in done.stdout
    written = pl.read_parquet(out)
    assert written.columns == [*CANONICAL_COLUMNS, "rsi_7", "obv"]
    assert written.group_by("symbol").len().sort("symbol").rows() == [("EUR", 5000), ("GOOG", 2148)]
    eur = load_ohlcv(EURUSD, symbol="EUR")
    mine = written.filter(pl.col("symbol") == "EUR")
    assert_frame_equal(mine, compute_features(eur, parse_recipe({"features": [
        {"indicator": "rsi", "periods": [7]}, {"indicator": "obv"}]})))  # fmt: skip


@pytest.mark.parametrize(
    ("recipe_text", "expected"),
    [
        ("features:\n  - {indicator: macd, fast: 12, slow: 26, signal: 0}\n", "features[0].signal"),
        ("features:\n  - {indicator: rsi}\n  - {indicator: supertrend}\n", "features[1].indicator"),
    ],
    ids=["bad parameter", "unknown indicator"],
)
def test_a_bad_recipe_is_one_line_and_writes_nothing(tmp_path, recipe_text, expected):
    recipe_file = tmp_path / "bad.yaml"
    recipe_file.write_text(recipe_text)
    out = tmp_path / "out.parquet"
    done = run("features", "--data", GOOG, "--recipe", str(recipe_file), "--output", str(out))
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"huracan: error: {recipe_file}: {expected}")
    assert list(tmp_path.iterdir()) == [recipe_file]


def test_bad_data_is_the_loaders_line_and_writes_nothing(tmp_path):
    data = tmp_path / "broken.csv"
    data.write_text("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n2024-01-02,1,2,0.5,-3,10\n")
    out = tmp_path / "out.parquet"
    done = run("features", "--data", str(data), "--output", str(out), "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"huracan: error: {data}: non-positive price -3.0 in column close "
                                        "at row 2 (2024-01-02)"]  # fmt: skip
    assert not out.exists()
    wrong_suffix = run("features", "--data", GOOG, "--output", str(tmp_path / "out.csv"))
    assert wrong_suffix.returncode == 2 and "--output" in wrong_suffix.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.csv"]

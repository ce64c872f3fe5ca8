"""`huracan drift --multivariate` and `huracan train --preprocess ...,autoencoder=K` as a user runs
them: the real script, real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from brain import open_brain
from engine.datasets import bundled_path

HURACAN = Path(sys.executable).parent / "huracan"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HURACAN), *args], capture_output=True, text=True, timeout=240)


def window(rows: int, correlation: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=rows)
    b = correlation * a + np.sqrt(1 - correlation**2) * rng.normal(size=rows)
    return pl.DataFrame({"a": a, "b": b, "c": rng.normal(size=rows)})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multivariate")
    window(2000, 0.9, 1).write_parquet(folder / "ref.parquet")
    window(400, -0.9, 2).write_parquet(folder / "cur.parquet")  # the correlation flipped
    return folder


def test_drift_multivariate_sees_a_flipped_correlation_the_columns_do_not(files):
    options = ["drift", "--reference", str(files / "ref.parquet"), "--current", str(files / "cur.parquet"),
               "--method", "ks", "--multivariate"]
    done = run(*options)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    columns = {line.split()[0]: line for line in lines[1:4]}
    assert set(columns) == {"a", "b", "c"} and all(line.endswith("ok") for line in columns.values())
    assert lines[4].startswith("dataset: ok (0% of 3 columns drifted")
    assert lines[5].startswith("⟨multivariate · autoencoder⟩") and "DRIFT" in lines[5]
    assert lines[6].startswith("⟨multivariate · pca⟩") and "DRIFT" in lines[6]
    assert "over 3 columns" in lines[6] and len(lines) == 7


def test_drift_multivariate_of_one_column_is_one_line(files):
    done = run("drift", "--reference", str(files / "ref.parquet"), "--current", str(files / "cur.parquet"),
               "--columns", "a", "--multivariate")
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and done.stdout == "" and len(lines) == 1
    assert "--multivariate: multivariate drift needs at least 2 columns" in lines[0]


def test_train_learns_autoencoder_factors_from_the_preprocess_flag(tmp_path, config_file):
    url = f"sqlite:///{tmp_path / 'brain.db'}"
    done = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG", "--models", "linear",
               "--preprocess", "scale,autoencoder=3", "--brain", url, "--config", str(config_file), "--json")
    assert done.returncode == 0, done.stderr
    with open_brain(url) as brain:
        (version,) = brain.list_versions("GOOG:1d:fwd_ret_1")
    assert version.manifest["spec"]["preprocessing"][1]["latent"] == 3
    assert version.manifest["preprocessor"]["outputs"] == ["ae_0", "ae_1", "ae_2"]
    refused = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG", "--models", "linear",
                  "--preprocess", "autoencoder=two", "--brain", f"sqlite:///{tmp_path / 'no.db'}")
    assert refused.returncode == 2 and "--preprocess: autoencoder=two: not a number" in refused.stderr
    assert not (tmp_path / "no.db").exists()

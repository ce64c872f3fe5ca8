"""`huracan drift` and `huracan report drift` as a user runs them: the real script, Parquet in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from engine.drift import detect_drift

HURACAN = Path(sys.executable).parent / "huracan"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(HURACAN), *args], capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(2)
    reference = pl.DataFrame(
        {
            "ts": np.arange(2_000),
            "moved": rng.normal(size=2_000),
            "still": rng.normal(size=2_000),
            "label": ["a"] * 2_000,
        }
    )
    current = pl.DataFrame(
        {
            "ts": np.arange(1_500),
            "moved": rng.normal(1.0, size=1_500),
            "still": rng.normal(size=1_500),
            "label": ["b"] * 1_500,
        }
    )
    reference.write_parquet(folder / "ref.parquet")
    current.write_parquet(folder / "cur.parquet")
    return folder, reference, current


def test_drift_json_per_column(windows):
    folder, reference, current = windows
    done = run(
        "drift",
        "--reference",
        str(folder / "ref.parquet"),
        "--current",
        str(folder / "cur.parquet"),
        "--columns",
        "moved,still",
        "--method",
        "ks",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    expected = detect_drift(reference, current, "ks", columns=["moved", "still"])
    assert [row["feature"] for row in document["features"]] == ["moved", "still"]
    for row, feature in zip(document["features"], expected.features, strict=True):
        assert row["statistic"] == feature.statistic and row["p_value"] == feature.p_value
        assert row["threshold"] == 0.05 and row["drifted"] == feature.drifted
    assert document["features"][0]["drifted"] and not document["features"][1]["drifted"]
    assert document["share_drifted"] == 0.5 and document["dataset_drift"] is True


def test_drift_text_defaults_to_shared_numeric_columns(windows):
    folder, _, _ = windows
    done = run(
        "drift",
        "--reference",
        str(folder / "ref.parquet"),
        "--current",
        str(folder / "cur.parquet"),
        "--method",
        "psi",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["ts", "moved", "still"]  # label is text
    assert "DRIFT" in lines[2] and lines[3].endswith("ok") and lines[-1].startswith("dataset:")


def test_bad_input_is_one_line_and_nonzero(windows, tmp_path):
    folder, _, _ = windows
    ref, cur = str(folder / "ref.parquet"), str(folder / "cur.parquet")
    missing = run("drift", "--reference", str(tmp_path / "nope.parquet"), "--current", cur)
    assert (
        missing.returncode != 0
        and missing.stderr.strip().count("\n") == 0
        and "no such file" in missing.stderr
    )
    column = run("drift", "--reference", ref, "--current", cur, "--columns", "moved,ghost")
    assert column.returncode != 0 and "ghost" in column.stderr and "Traceback" not in column.stderr
    html = tmp_path / "out.html"
    bad = run(
        "report", "drift", "--reference", ref, "--current", cur, "--columns", "ghost", "--html", str(html)
    )
    assert bad.returncode != 0 and "ghost" in bad.stderr and not html.exists()
    assert list(tmp_path.iterdir()) == []


def test_report_drift_writes_evidentlys_html(windows, tmp_path):
    folder, _, _ = windows
    html = tmp_path / "drift.html"
    done = run(
        "report",
        "drift",
        "--reference",
        str(folder / "ref.parquet"),
        "--current",
        str(folder / "cur.parquet"),
        "--columns",
        "moved,still",
        "--method",
        "ks",
        "--html",
        str(html),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["html"] == str(html)
    text = html.read_text()
    assert "<html" in text[:500].lower() and "moved" in text and len(text) > 100_000
    assert [p.name for p in tmp_path.iterdir()] == ["drift.html"]  # no partial file left behind


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda cur: cur.drop("still"), "--current: {cur} lacks column(s) still that --reference has"),
        (lambda cur: cur.with_columns(extra=pl.lit(1.0)), "--reference: {ref} lacks column(s) extra"),
        (lambda cur: cur.with_columns(pl.col("still").cast(pl.String)),
         "column 'still': Float64 in --reference but String in --current"),
        (lambda cur: cur.with_columns(pl.col("label").cast(pl.Categorical)),
         "column 'label': String in --reference but Categorical in --current"),
    ],
)  # fmt: skip
def test_windows_whose_columns_differ_are_refused_naming_the_column(windows, tmp_path, change, named):
    folder, _, current = windows
    ref, cur = folder / "ref.parquet", tmp_path / "cur.parquet"
    change(current).write_parquet(cur)
    html = tmp_path / "out.html"
    for command in (["drift"], ["report", "drift", "--html", str(html)]):
        done = run(*command, "--reference", str(ref), "--current", str(cur))
        assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
        assert done.stderr.strip().splitlines()[0].startswith("huracan: error: ")
        assert len(done.stderr.strip().splitlines()) == 1
        assert named.format(ref=ref, cur=cur) in done.stderr
    assert not html.exists()
    # Int and float widths are one kind: an int column in one window still compares.
    current.with_columns(pl.col("ts").cast(pl.Float64)).write_parquet(cur)
    assert run("drift", "--reference", str(ref), "--current", str(cur)).returncode == 0

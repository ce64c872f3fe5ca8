"""`huracan` and `huracan-tui` as a user runs them: real processes, real files, real brains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brain import open_brain
from engine.datasets import bundled_path
from huracan_tui import __version__

BIN = Path(sys.executable).parent


def run(*args: str, env: dict | None = None, tool: str = "huracan") -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True, timeout=240,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("tool", ["huracan", "huracan-tui"])
def test_help_and_version(tool):
    assert f"{__version__}" in run("--version", tool=tool).stdout
    shown = run("--help", tool=tool)
    assert shown.returncode == 0 and "--brain" in shown.stdout and "--config" in shown.stdout


def test_train_stores_versions_and_prints_one_json_document(any_brain_url, config_file):
    url = any_brain_url
    done = run("train", "--data", str(bundled_path("GOOG")), "--symbol", "GOOG",
               "--brain", url, "--config", str(config_file), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["slot"] == "GOOG:1d:fwd_ret_1" and document["timeframe"] == "1d"
    assert document["bars"] == 2148
    assert [(v["number"], v["model_kind"]) for v in document["versions"]] == [(1, "linear"), (2, "lightgbm")]
    for version in document["versions"]:
        assert set(version["metrics"]) >= {"mae", "rmse", "hit_rate", "ic", "sharpe"}
        assert version["folds"] == 3
    with open_brain(url) as brain:
        stored = brain.list_versions("GOOG:1d:fwd_ret_1")
        assert [v.artifact_sha256 for v in stored] == [v["artifact_sha256"] for v in document["versions"]]
        assert brain.load_bars("GOOG", "1d").height == 2148

    status = json.loads(run("status", "--json", "--brain", url).stdout)
    (slot,) = status["slots"]
    assert slot["slot"] == "GOOG:1d:fwd_ret_1" and slot["latest_version"] == 2
    assert slot["metrics"]["sharpe"] == pytest.approx(document["versions"][1]["metrics"]["sharpe"])

    shown = json.loads(run("show", "GOOG:1d:fwd_ret_1", "--number", "1", "--json", "--brain", url).stdout)
    (version,) = shown["versions"]
    assert version["model_kind"] == "linear"
    assert version["manifest"]["data_fingerprint"] and version["manifest"]["features"]
    assert {m["fold"] for m in version["metrics"]} == {None, 0, 1, 2}


def test_the_environment_variable_and_the_config_name_the_brain(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    done = run("status", "--json", env={"HURACAN_BRAIN": url})
    assert json.loads(done.stdout)["slots"] == [] and (tmp_path / "env.db").exists()
    config = tmp_path / "c.yaml"
    config.write_text(f"brain: sqlite:///{tmp_path / 'cfg.db'}\n")
    run("status", "--config", str(config))
    assert (tmp_path / "cfg.db").exists()


def test_default_brain_lives_in_the_xdg_data_dir(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "HURACAN_BRAIN": ""}
    assert run("status", env=env).returncode == 0
    assert (tmp_path / "xdg" / "huracan" / "brain.db").exists()


BAD_FILES = {
    "missing": (None, "not found"),
    "no_close": ("ts,open,high,low,volume\n2024-01-01,1,2,0.5,10\n", "close"),
    "bad_time": ("ts,open,high,low,close,volume\nyesterday,1,2,0.5,1,10\n", "yesterday"),
    "duplicate": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,1,10\n2024-01-01,1,2,0.5,1,10\n",
                  "duplicate"),
    "negative": ("ts,open,high,low,close,volume\n2024-01-01,1,2,0.5,-1,10\n", "close"),
    "high_below_low": ("ts,open,high,low,close,volume\n2024-01-01,1,0.4,0.5,0.45,10\n", "high"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_data_is_one_line_nonzero_and_writes_nothing(tmp_path, case):
    content, expected = BAD_FILES[case]
    data = tmp_path / f"{case}.csv"
    if content is not None:
        data.write_text(content)
    brain_file = tmp_path / "brain.db"
    done = run("train", "--data", str(data), "--symbol", "X", "--brain", f"sqlite:///{brain_file}")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("huracan: error:") and expected in lines[0].lower()
    assert str(data.name) in lines[0]
    assert "Traceback" not in done.stderr
    assert not brain_file.exists()


def test_bad_config_names_the_file_and_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("training:\n  horizon: soon\n")
    for tool in ("huracan", "huracan-tui"):
        args = ("status",) if tool == "huracan" else ()
        done = run(*args, "--config", str(config), "--brain", f"sqlite:///{tmp_path / 'b.db'}", tool=tool)
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [
            f"{tool}: error: {config}: training.horizon: "
            "Input should be a valid integer, unable to parse string as an integer"]
    config.write_text("trainning: {}\n")
    done = run("status", "--config", str(config))
    assert done.stderr.strip() == f"huracan: error: {config}: trainning: unknown key"
    assert not (tmp_path / "b.db").exists()


def test_unreachable_brain_is_one_line(tmp_path):
    done = run("status", "--brain", "postgresql+psycopg://postgres@127.0.0.1:5999/test")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "5999" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_slot_is_one_line(tmp_path):
    done = run("show", "NOPE:1d:fwd_ret_1", "--brain", f"sqlite:///{tmp_path / 'b.db'}")
    assert done.returncode == 2 and "NOPE:1d:fwd_ret_1" in done.stderr
